"""Record every AWS API call each principal makes while the executed tests run (the permission contract).

A principal is whoever AWS would authorize the call as: a Lambda function (the emulator's dispatcher says
which one it runs), a state machine (moto's execution thread, its SDK/optimized integrations, ItemReader,
ResultWriter and nested startExecution), or a deploy role (deploy, smoke, dr-validate). Code declares it with
``acting_as(...)``; threads started meanwhile inherit it, because the emulator runs an execution's states in
threads of its own. Calls made with no principal (test setup, emulator-only steps in ``unrecorded()``) are not
part of the contract.

botocore's ``before-parameter-build`` event sees each call's parameters before they are serialised; the
recorder registers on every client created while it is on. Records go to ``build/iam-contract/`` as JSON lines,
one file per pytest-xdist worker, and ``inference_platform_ops.iam.contract`` evaluates them at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

_LOCAL = threading.local()
_STATE: dict[str, Any] = {"path": None, "lock": threading.Lock(), "world": "local"}
MAX_VALUE_LENGTH = 2048


@dataclass(frozen=True)
class Principal:
    kind: str  # lambda | state-machine | deploy
    name: str  # function name, state machine ARN, or the environment of the deploy role
    region: str = ""
    account: str = ""


def _stack() -> list[Principal | None]:
    if not hasattr(_LOCAL, "stack"):
        _LOCAL.stack = []
    return _LOCAL.stack


def current() -> Principal | None:
    stack = _stack()
    return stack[-1] if stack else None


@contextlib.contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Calls made inside the block (and in threads it starts) are made as ``principal``."""
    stack = _stack()
    stack.append(principal)
    try:
        yield
    finally:
        stack.pop()


def unrecorded() -> contextlib.AbstractContextManager[None]:
    """Emulator-only steps (creating a bucket AWS would already have): no principal, nothing recorded."""
    return acting_as(None)


def recording() -> bool:
    return _STATE["path"] is not None


def set_world(env: str, templates: Path | str | None = None, **overrides: str) -> str:
    """Set the deployment the next calls run in (a params file of a templates directory, plus main.yaml
    parameter overrides); the contract maps its names onto every params file's deployment. Returns the
    previous setting."""
    previous = _STATE["world"]
    _STATE["world"] = json.dumps({"env": env, "overrides": overrides,
                                  "templates": str(Path(templates).resolve()) if templates else ""}, sort_keys=True)
    return previous


@contextlib.contextmanager
def world(env: str, templates: Path | str | None = None, **overrides: str) -> Iterator[None]:
    previous = set_world(env, templates, **overrides)
    try:
        yield
    finally:
        _STATE["world"] = previous


def _plain(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value[:100]]
    if isinstance(value, str):
        return value[:MAX_VALUE_LENGTH]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return None  # bodies, streams, datetimes: never needed to name a resource


def _write(record: dict) -> None:
    path: Path = _STATE["path"]
    line = json.dumps(record, sort_keys=True)
    with _STATE["lock"], path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def _on_call(client: Any) -> Any:
    def handler(params: dict, model: Any, **_: Any) -> None:
        principal = current()
        if principal is None or not recording():
            return
        service = model.service_model
        _write({"principal": asdict(principal), "service": service.service_name,
                "signing_name": service.signing_name, "operation": model.name,
                "region": client.meta.region_name, "params": _plain(params), "world": _STATE["world"]})
    return handler


@contextlib.contextmanager
def record_to(path: Path) -> Iterator[None]:
    """Record calls to ``path`` while the block runs (hooks every botocore client created meanwhile)."""
    import botocore.session  # noqa: PLC0415

    shipped_create_client = botocore.session.Session.create_client
    shipped_start = threading.Thread.start

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = shipped_create_client(self, *args, **kwargs)
        if not getattr(client.meta, "_iam_recorded", False):  # one hook per client, however deep the nesting
            client.meta.events.register("before-parameter-build.*.*", _on_call(client))
            client.meta._iam_recorded = True
        return client

    def start(self: threading.Thread) -> None:
        inherited = current()
        if inherited is not None:
            run = self.run

            def run_as_parent() -> None:
                with acting_as(inherited):
                    run()
            # An instance attribute: only this thread's run is wrapped (Thread.start's bootstrap calls self.run).
            self.run = run_as_parent  # type: ignore[method-assign]
        shipped_start(self)

    path.parent.mkdir(parents=True, exist_ok=True)
    previous, _STATE["path"] = _STATE["path"], path
    try:
        with (mock.patch.object(botocore.session.Session, "create_client", create_client),
              mock.patch.object(threading.Thread, "start", start), _state_machine_principals()):
            yield
    finally:
        _STATE["path"] = previous


@contextlib.contextmanager
def _state_machine_principals() -> Iterator[None]:
    """Each Step Functions execution in moto runs as its state machine."""
    try:
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker  # noqa: PLC0415
    except ImportError:  # pragma: no cover - moto without the Step Functions interpreter
        yield
        return
    shipped = ExecutionWorker._execution_logic

    def execution_logic(self: Any) -> None:
        arn = self._evaluation_details.state_machine_details.arn
        parts = arn.split(":")
        with acting_as(Principal("state-machine", arn, parts[3], parts[4])):
            shipped(self)

    with mock.patch.object(ExecutionWorker, "_execution_logic", execution_logic):
        yield


def worker_file(directory: Path) -> Path:
    return directory / f"calls-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.jsonl"
