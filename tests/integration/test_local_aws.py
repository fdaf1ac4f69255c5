"""emulator.local_aws: the emulator as a background process that start/status/stop manage fully."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from inference_platform_ops.emulator import local_aws
from inference_platform_ops.paths import ROOT
from tests.helpers import free_port


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERENCE_EMULATOR_DIR", str(tmp_path))
    monkeypatch.delenv("MOTO_PORT", raising=False)
    return tmp_path


def test_start_serves_on_loopback_and_stop_leaves_no_process(state_dir, capsys):
    port = free_port()
    state = local_aws.start(port, wait_seconds=120)  # an upper bound: a loaded machine starts Python slowly
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
    assert not local_aws.pid_file().exists()
    assert local_aws.main(["status"]) == 1
    assert "emulator_compat" in (state_dir / "emulator.log").read_text()  # the patches were loaded


def test_stop_when_nothing_runs_is_harmless(state_dir):
    assert local_aws.stop() is False


def test_a_stale_pid_file_is_not_trusted(state_dir):
    local_aws.pid_file().write_text(f'{{"pid": {os.getpid()}, "port": 1, "endpoint": "x"}}')
    assert local_aws.running_state() is None  # this pytest process is not an emulator
    assert local_aws.stop() is False
    assert not local_aws.pid_file().exists()


def test_bad_port_variable_is_named(monkeypatch):
    monkeypatch.setenv("MOTO_PORT", "http")
    with pytest.raises(local_aws.EmulatorError, match="MOTO_PORT must be a port number"):
        local_aws.configured_port()


def _start_process(port: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", local_aws.SERVE_MODULE, "start", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_starts_at_once_make_one_emulator_that_status_and_stop_both_see(state_dir):
    """Two `make deploy` with the emulator stopped used to start two servers and orphan one."""
    port, env = free_port(), {**os.environ, "INFERENCE_EMULATOR_DIR": str(state_dir)}
    first, second = _start_process(port, env), _start_process(port, env)
    outputs = [first.communicate(timeout=60)[0], second.communicate(timeout=60)[0]]
    try:
        assert first.returncode == 0 and second.returncode == 0, outputs
        pids = {line.split("pid ")[1].split(")")[0] for out in outputs for line in out.splitlines() if "pid " in line}
        assert len(pids) == 1, outputs  # both were told about the same emulator
        assert local_aws.our_processes() == [int(pids.pop())]
        assert local_aws.main(["status"]) == 0
    finally:
        assert local_aws.stop() is True
    assert local_aws.our_processes() == []
    assert local_aws.main(["status"]) == 1


def test_an_emulator_without_its_pid_file_is_still_seen_and_stopped(state_dir, capsys):
    state = local_aws.start(free_port())
    local_aws.pid_file().unlink()  # e.g. a crashed start, or the file removed by hand

    assert local_aws.main(["status"]) == 1
    assert f"emulator process(es) {state['pid']} run without a pid file" in capsys.readouterr().out
    assert local_aws.stop() is True
    assert local_aws.our_processes() == []


def test_moto_port_set_to_another_port_than_the_running_emulators_is_reported(state_dir, monkeypatch, capsys):
    port = free_port()
    state = local_aws.start(port)
    try:
        monkeypatch.setenv("MOTO_PORT", str(port + 1))
        expected = (f"the emulator of this checkout runs on port {port} (pid {state['pid']}) but MOTO_PORT={port + 1}: "
                    "run `make emulator-stop` first, or unset MOTO_PORT")
        with pytest.raises(local_aws.EmulatorError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            local_aws.start(port + 1)
        with pytest.raises(local_aws.EmulatorError, match="MOTO_PORT"):
            local_aws.endpoint_for("smoke")
        assert local_aws.main(["status"]) == 1
        assert expected in capsys.readouterr().out
    finally:
        assert local_aws.stop() is True  # stop ignores MOTO_PORT: it stops what runs


def test_emulator_stop_works_before_make_install(state_dir):
    """No .venv yet (a fresh clone): the target runs the module with the system Python's standard library."""
    local_aws.start(free_port())
    env = {**os.environ, "INFERENCE_EMULATOR_DIR": str(state_dir)}
    make = ["make", "--no-print-directory", "-C", str(ROOT), f"VENV={state_dir / 'no-venv'}"]

    stopped = subprocess.run([*make, "emulator-stop"], check=False, env=env, capture_output=True, text=True, timeout=60)
    again = subprocess.run([*make, "emulator-stop"], check=False, env=env, capture_output=True, text=True, timeout=60)

    assert (stopped.returncode, stopped.stdout.strip()) == (0, "local_aws: stopped"), stopped.stderr
    assert (again.returncode, again.stdout.strip()) == (0, "local_aws: not running"), again.stderr
    assert local_aws.our_processes() == []
