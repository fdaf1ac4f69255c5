"""One operation per environment at a time on this machine: deploy, plan, bootstrap and destroy take a lock.

A second `make deploy ENV=x` while one runs waits (saying for whom) up to ``wait_s`` seconds and then
refuses with one line; it never races the first one's change sets. The lock is an ``flock`` on
``.tools/locks/<env>.lock`` (``INFERENCE_LOCK_DIR`` overrides the directory), released by the kernel
when the holder exits, however it exits, so a killed deploy never leaves a stale lock behind. The file
records who holds it, for the waiting message. Other machines are kept apart by CloudFormation itself
(a stack being updated refuses change sets) and by ``stack_ops.pending_deploys`` (an unexecuted change set
of another deploy run).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from inference_platform.shared.settings import ConfigError
from inference_platform_ops.paths import TOOLS


class LockBusy(ConfigError):
    """Another operation on the same environment holds the lock; the message says which one."""


def lock_dir() -> Path:
    return Path(os.environ.get("INFERENCE_LOCK_DIR") or TOOLS / "locks")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"{info.get('command', 'another process')} (pid {info.get('pid', '?')}, since {info.get('since', '?')})"


@contextlib.contextmanager
def environment_lock(env: str, command: str, wait_s: float = 600.0, poll_s: float = 0.5,
                     say: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the lock of ``env`` for the block; wait up to ``wait_s`` for it, then raise LockBusy."""
    lock_dir().mkdir(parents=True, exist_ok=True)
    path = lock_dir() / f"{env}.lock"
    with path.open("a+") as handle:
        deadline, announced = time.monotonic() + wait_s, False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(f"ENV={env} is busy: {_holder(path)} is still running; nothing was done "
                                   f"(waited {wait_s:.0f} s)") from None
                if not announced:
                    say(f"waiting for {_holder(path)} to finish with ENV={env} (up to {wait_s:.0f} s)")
                    announced = True
                time.sleep(poll_s)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"command": command, "pid": os.getpid(),
                                 "since": dt.datetime.now().strftime("%H:%M:%S"), "argv": sys.argv[1:]}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
