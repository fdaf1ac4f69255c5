"""The local AWS emulator: a moto server on 127.0.0.1 with the project's emulator patches loaded.

    inference-emulator start|stop|status [--port N]

``start`` runs ``serve`` as a detached background process (log in .tools/emulator/emulator.log,
pid file .tools/emulator/emulator.pid) and returns once the server answers. ``serve`` runs moto's
ThreadedMotoServer in THIS process, so in-process patches apply to it: inference_platform_ops.emulator.compat
(CloudFormation gaps) and inference_platform_ops.emulator.lambdas (Step Functions Lambda tasks run the project's
handlers), with Step Functions execution switched on. ``stop`` ends that process and waits until it
is gone.

Port: ``MOTO_PORT`` (default 4599, chosen to stay clear of moto's 5000 and LocalStack's 4566).
Endpoint for clients: http://127.0.0.1:<port>; nested-stack TemplateURLs use ``localhost``, which
moto parses path-style (docs/deploy.md, "The local emulator").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from inference_platform_ops.paths import ROOT, TOOLS

DEFAULT_STATE_DIR = TOOLS / "emulator"
DEFAULT_PORT = 4599
HOST = "127.0.0.1"
SERVE_MODULE = "inference_platform_ops.emulator.local_aws"  # run with `python -m`, so the process is recognisable


class EmulatorError(Exception):
    """The emulator cannot be used as asked; the message is one line saying what to do."""


def configured_port() -> int:
    raw = os.environ.get("MOTO_PORT", str(DEFAULT_PORT))
    if not raw.isdigit() or not 1024 <= int(raw) <= 65535:
        raise EmulatorError(f"local_aws: MOTO_PORT must be a port number 1024-65535, got {raw!r}")
    return int(raw)


def state_dir() -> Path:
    """Where this checkout's emulator keeps its pid file, lock and log (INFERENCE_EMULATOR_DIR overrides)."""
    return Path(os.environ.get("INFERENCE_EMULATOR_DIR") or DEFAULT_STATE_DIR)


def pid_file() -> Path:
    return state_dir() / "emulator.pid"


def log_file() -> Path:
    return state_dir() / "emulator.log"


# moto accepts any key pair; a fixed dummy pair guarantees real credentials never reach the emulator.
EMULATOR_KEYS = dict.fromkeys(("aws_access_key_id", "aws_secret_access_key"), "local")


def endpoint_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def template_url_base(port: int) -> str:
    """Base URL for nested-stack TemplateURLs: moto reads bucket/key from the path only for localhost."""
    return f"http://localhost:{port}"


def install_patches(exit_stack: contextlib.ExitStack) -> list[str]:
    """Load every emulator patch into this process until ``exit_stack`` closes; return what was loaded."""
    from moto.core.config import default_user_config

    from inference_platform_ops.emulator import compat as emulator_compat
    from inference_platform_ops.emulator import shared_models

    shared_models.share_data_loader()
    exit_stack.enter_context(emulator_compat.patched())
    sfn_config = default_user_config["stepfunctions"]
    exit_stack.callback(sfn_config.__setitem__, "execute_state_machine", sfn_config["execute_state_machine"])
    sfn_config["execute_state_machine"] = True
    installed = ["emulator_compat", "stepfunctions.execute_state_machine"]
    try:
        from inference_platform_ops.emulator import lambdas as emulator_lambda
    except ImportError:
        return installed  # the workflow part is absent: Lambda tasks would echo their input
    exit_stack.enter_context(emulator_lambda.workflow_emulation())
    installed.append("emulator_lambda.workflow_emulation")
    from inference_platform_ops.emulator import local_jobs

    exit_stack.enter_context(local_jobs.local_batch())
    installed.append("local_jobs.local_batch")
    return installed


@contextlib.contextmanager
def handler_environment(port: int) -> Iterator[None]:
    """Handlers run in this process (emulator_lambda): their boto3 calls must come back to this emulator,
    with throwaway keys, never to AWS with whatever credentials the user's shell holds."""
    # patch.dict restores the whole environment on exit, including the names popped here.
    with mock.patch.dict(os.environ):
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        os.environ.update({"AWS_ENDPOINT_URL": endpoint_url(port), "AWS_EC2_METADATA_DISABLED": "true",
                           # moto's Step Functions interpreter calls Lambda & co. at localhost:$MOTO_PORT
                           "MOTO_PORT": str(port),
                           **{name.upper(): value for name, value in EMULATOR_KEYS.items()}})
        yield


@contextlib.contextmanager
def in_process_emulator(port: int) -> Iterator[list[str]]:
    """The emulator as a thread of this process (serve() and the tests); yields what was patched."""
    from moto.server import ThreadedMotoServer

    with contextlib.ExitStack() as stack:
        stack.enter_context(handler_environment(port))
        installed = install_patches(stack)
        server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
        server.start()
        stack.callback(server.stop)
        yield installed


def port_open(port: int, timeout: float = 0.2) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((HOST, port)) == 0


def _read_state() -> dict | None:
    try:
        return json.loads(pid_file().read_text())
    except (FileNotFoundError, ValueError):
        return None


def _serve_args(pid: int) -> list[bytes] | None:
    """The command line of ``pid`` when it is an emulator ``serve`` process, else None."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return args if SERVE_MODULE.encode() in args and b"serve" in args else None


def _is_our_process(pid: int) -> bool:
    """True when pid is alive AND is this checkout's serve command (not a recycled pid)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not Path("/proc").is_dir():
        return True  # no /proc (macOS): trust the pid file we wrote
    args = _serve_args(pid)
    if args is None:
        return False
    if b"--state-dir" in args:
        return str(state_dir()).encode() in args
    try:  # started by an older version without --state-dir: ours when it runs in this checkout
        return state_dir() == DEFAULT_STATE_DIR and Path(os.readlink(f"/proc/{pid}/cwd")) == ROOT
    except OSError:
        return False


def our_processes() -> list[int]:
    """Every live emulator process of this checkout (its --state-dir), pid file or not."""
    if not Path("/proc").is_dir():
        state = _read_state()
        return [int(state["pid"])] if state and _is_our_process(int(state["pid"])) else []
    return sorted(int(p.name) for p in Path("/proc").iterdir()
                  if p.name.isdigit() and _is_our_process(int(p.name)) and not _is_zombie(int(p.name)))


def running_state() -> dict | None:
    state = _read_state()
    if state and _is_our_process(int(state["pid"])):
        return state
    return None


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One start/stop at a time per checkout: two `make deploy` racing never start two emulators."""
    import fcntl

    state_dir().mkdir(parents=True, exist_ok=True)
    with (state_dir() / "emulator.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def port_mismatch(state: dict) -> str | None:
    """A one-line problem when MOTO_PORT names another port than the running emulator's, else None."""
    wanted = os.environ.get("MOTO_PORT")
    if wanted and wanted != str(state["port"]):
        return (f"local_aws: the emulator of this checkout runs on port {state['port']} (pid {state['pid']}) "
                f"but MOTO_PORT={wanted}: run `make emulator-stop` first, or unset MOTO_PORT")
    return None


def endpoint_for(tool: str) -> str:
    """The running emulator's endpoint for ``tool`` (smoke, dr-validate ...); one line and exit 2 otherwise."""
    state = running_state()
    if state is None:
        raise EmulatorError(f"{tool}: ENV=local but the local emulator is not running: run `make deploy` first "
                         "(or pass --endpoint-url)")
    problem = port_mismatch(state)
    if problem:
        raise EmulatorError(problem)
    return state["endpoint"]


def serve(port: int) -> int:
    with in_process_emulator(port) as installed:
        print(f"local_aws: serving on {endpoint_url(port)} with {', '.join(installed)}", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    print("local_aws: stopped", flush=True)
    return 0


def start(port: int, wait_seconds: float = 30.0) -> dict:
    """Start the emulator unless it already runs; return its state (pid, port, endpoint)."""
    with _locked():
        state = running_state()
        if state:
            problem = port_mismatch(state)
            if problem:
                raise EmulatorError(problem)
            return state
        if port_open(port):
            raise EmulatorError(f"local_aws: port {port} on {HOST} is taken by another program; "
                             "set MOTO_PORT to a free port")
        with log_file().open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", SERVE_MODULE, "serve", "--port", str(port), "--state-dir", str(state_dir())],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True,
            )
        state = {"pid": proc.pid, "port": port, "endpoint": endpoint_url(port)}
        pid_file().write_text(json.dumps(state))
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pid_file().unlink(missing_ok=True)
                raise EmulatorError(f"local_aws: emulator exited with code {proc.returncode}; see {log_file()}")
            if port_open(port):
                return state
            time.sleep(0.1)
        _stop_locked()
        raise EmulatorError(f"local_aws: emulator did not answer on port {port} within {wait_seconds:.0f}s; "
                         f"see {log_file()}")


def stop(wait_seconds: float = 10.0) -> bool:
    """Stop every emulator process of this checkout; True if one was stopped. Leaves no process behind."""
    with _locked():
        return _stop_locked(wait_seconds)


def _stop_locked(wait_seconds: float = 10.0) -> bool:
    state = _read_state()
    pids = set(our_processes())
    if state and _is_our_process(int(state["pid"])):
        pids.add(int(state["pid"]))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and any(_still_running(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _still_running(pid) and _is_our_process(pid):
            os.kill(pid, signal.SIGKILL)
            while _still_running(pid):
                time.sleep(0.05)
    pid_file().unlink(missing_ok=True)
    return bool(pids)


def _still_running(pid: int) -> bool:
    """Alive by pid, not by command line: a process that is exiting already has an empty cmdline."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if _is_zombie(pid):
        _reap(pid)  # exited but not yet collected: collect it if it is our child (tests)
        return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] == "Z"


def _reap(pid: int) -> None:
    """Collect the exit status when the emulator is our own child (tests), so no zombie stays."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except EmulatorError as exc:
        print(exc, file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--port", type=int, default=None, help=f"default: $MOTO_PORT or {DEFAULT_PORT}")
    parser.add_argument("--state-dir", default=None, help="(serve) the checkout's state directory it belongs to")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.port or configured_port())
    if args.command == "start":
        state = start(args.port or configured_port())
        print(f"local_aws: running (pid {state['pid']}) at {state['endpoint']}")
        return 0
    if args.command == "stop":  # whatever port it runs on: MOTO_PORT does not matter here
        print("local_aws: stopped" if stop() else "local_aws: not running")
        return 0
    return status()


def status() -> int:
    """One line: running (pid, endpoint), not running, or what disagrees (orphans, MOTO_PORT)."""
    state, pids = running_state(), our_processes()
    if state is None and not pids:
        print("local_aws: not running")
        return 1
    if state is None:
        print(f"local_aws: emulator process(es) {', '.join(map(str, pids))} run without a pid file: "
              "run `make emulator-stop`")
        return 1
    orphans = [pid for pid in pids if pid != int(state["pid"])]
    if orphans:
        print(f"local_aws: running (pid {state['pid']}) at {state['endpoint']}, and orphaned emulator process(es) "
              f"{', '.join(map(str, orphans))}: run `make emulator-stop`")
        return 1
    problem = port_mismatch(state)
    if problem:
        print(problem)
        return 1
    print(f"local_aws: running (pid {state['pid']}) at {state['endpoint']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
