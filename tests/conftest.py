"""Shared test setup: fake AWS credentials and a hard block on any non-loopback connection."""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest
from hypothesis import HealthCheck, settings

from inference_platform_ops.emulator import shared_models

# Never let boto3 find real credentials or reach an instance metadata service.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
# Templates set each Lambda's namespace; handlers called directly by unit tests get this one.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "InferencePlatformTests")
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

# Sessions share parsed service models (a fifth of the suite's CPU time was botocore re-reading JSON).
shared_models.share_data_loader()

settings.register_profile("gate", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gate")

_real_connect = socket.socket.connect


def _is_loopback(address) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX and friends
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise OSError(f"tests may only connect to 127.0.0.1, not {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True, scope="session")
def _own_deploy_locks(tmp_path_factory):
    """Each test worker takes per-environment deploy locks in its own directory: never the checkout's
    (.tools/locks), where a developer's own `make deploy ENV=staging` or another worker would hold them."""
    os.environ["INFERENCE_LOCK_DIR"] = str(tmp_path_factory.mktemp("deploy-locks"))
    yield
    os.environ.pop("INFERENCE_LOCK_DIR", None)


@pytest.fixture(autouse=True, scope="session")
def _permission_contract():
    """Record every AWS call a principal makes (inference_platform_ops.iam.recorder); make test evaluates the
    records of all workers right after pytest (inference-iam-contract)."""
    from inference_platform_ops.iam import recorder
    from inference_platform_ops.paths import ROOT

    path = recorder.worker_file(ROOT / "build" / "iam-contract")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    with recorder.record_to(path):
        yield
