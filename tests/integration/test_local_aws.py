"""emulator.local_aws: the emulator as a background process that start/status/stop manage fully."""

from __future__ import annotations

import os

import boto3
import pytest

from inference_platform_ops.emulator import local_aws
from tests.helpers import free_port


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(local_aws, "STATE_DIR", tmp_path)
    monkeypatch.setattr(local_aws, "PID_FILE", tmp_path / "emulator.pid")
    monkeypatch.setattr(local_aws, "LOG_FILE", tmp_path / "emulator.log")
    return tmp_path


def test_start_serves_on_loopback_and_stop_leaves_no_process(state_dir, capsys):
    port = free_port()
    state = local_aws.start(port)
    try:
        assert state["endpoint"] == f"http://127.0.0.1:{port}"
        assert local_aws.main(["status"]) == 0
        sts = boto3.Session(**local_aws.EMULATOR_KEYS).client("sts", region_name="us-east-1",
                                                               endpoint_url=state["endpoint"])
        assert sts.get_caller_identity()["Account"] == "123456789012"
        assert local_aws.start(port)["pid"] == state["pid"]  # already running: reused, not doubled
    finally:
        assert local_aws.stop() is True
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)
    assert not local_aws.port_open(port)
    assert not local_aws.PID_FILE.exists()
    assert local_aws.main(["status"]) == 1
    assert "emulator_compat" in (state_dir / "emulator.log").read_text()  # the patches were loaded


def test_stop_when_nothing_runs_is_harmless(state_dir):
    assert local_aws.stop() is False


def test_a_stale_pid_file_is_not_trusted(state_dir):
    local_aws.PID_FILE.write_text(f'{{"pid": {os.getpid()}, "port": 1, "endpoint": "x"}}')
    assert local_aws.running_state() is None  # this pytest process is not an emulator
    assert local_aws.stop() is False
    assert not local_aws.PID_FILE.exists()


def test_bad_port_variable_is_named(monkeypatch):
    monkeypatch.setenv("MOTO_PORT", "http")
    with pytest.raises(SystemExit, match="MOTO_PORT must be a port number"):
        local_aws.configured_port()
