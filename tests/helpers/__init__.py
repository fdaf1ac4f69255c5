"""What several test modules share: fixture paths and a free loopback port (template and workflow helpers beside)."""

import socket
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Small deploy fixtures: a root stack with a nested child (templates/) and a child that fails to create (broken/).
DEPLOY_TEMPLATES = FIXTURES / "deploy" / "templates"
DEPLOY_BROKEN = FIXTURES / "deploy" / "broken"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


AWS_CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                            "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE")


def without_aws_credentials(monkeypatch, tmp_path: Path) -> None:
    """As on a laptop with no AWS credentials anywhere botocore looks (environment, files, metadata service)."""
    for name in AWS_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
