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
