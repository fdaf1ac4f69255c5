"""A fault-injecting SageMaker runtime on 127.0.0.1, shared by the cross-region tests and the failover benchmark.

It speaks enough of the real wire protocol for an unmodified botocore ``sagemaker-runtime`` client:
``POST /endpoints/<name>/invocations`` answered with the model's bytes and ``Content-Type``, or a rest-json
error (``x-amzn-ErrorType`` header + JSON ``message``) that botocore turns into a ``ClientError``.

Faults are switched at run time with :meth:`FakeSageMakerRuntime.set_behavior` or
:meth:`refuse_connections`, and every request is recorded so a test can assert what reached the region
(which endpoint name, how many attempts).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_INVOKE_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
_ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.sagemaker/"
_RUNTIME_ERROR_STATUS = {
    "ValidationError": 400,
    "ModelError": 424,
    "ModelNotReadyException": 429,
    "ThrottlingException": 429,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "InternalDependencyException": 530,
}
BEHAVIOR_KINDS = ("ok", "error", "slow", "hold", "close", "truncate")
HOLD_LIMIT_S = 30.0  # a held request is answered at the latest after this, so a failing test cannot hang


@dataclass(frozen=True)
class Behavior:
    """What the fake region does with the next requests.

    kind: ``ok`` answers at once; ``slow`` answers after ``delay_s``; ``hold`` answers once
    :meth:`FakeSageMakerRuntime.release_held` is called (a test decides when a request finishes, instead of
    racing a delay); ``error`` answers ``error_code`` with its real HTTP status; ``close`` drops the connection
    without an answer; ``truncate`` sends the headers and half the announced body, then drops the connection.
    """

    kind: str = "ok"
    error_code: str = ""
    delay_s: float = 0.0
    body: bytes = b'{"prediction": 1}'
    content_type: str = "application/json"

    def __post_init__(self) -> None:
        if self.kind not in BEHAVIOR_KINDS:
            raise ValueError(f"Behavior.kind must be one of {', '.join(BEHAVIOR_KINDS)}, got {self.kind!r}")
        if self.kind == "error" and self.error_code not in _RUNTIME_ERROR_STATUS:
            raise ValueError(f"Behavior.error_code must be one of {', '.join(_RUNTIME_ERROR_STATUS)}, "
                             f"got {self.error_code!r}")
        if self.delay_s < 0:
            raise ValueError(f"Behavior.delay_s must be >= 0, got {self.delay_s}")


@dataclass(frozen=True)
class ReceivedRequest:
    endpoint_name: str
    attempt: int
    body: bytes
    content_type: str
    at: float = field(default_factory=time.monotonic)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service, so latency is not all TCP handshakes
    # Headers and body leave in one segment (flushed by handle_one_request) and without Nagle: otherwise
    # delayed ACKs add ~40 ms to every loopback call and drown what the benchmark measures.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature fixed by the base class
        """Silence per-request logging."""

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._untrack(self.connection)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        match = _INVOKE_PATH.match(self.path.split("?", 1)[0])
        if not match:
            self._send_error(404, "UnknownOperationException", f"no route for {self.path}")
            return
        owner = self.server.owner
        name = match.group("name")
        attempt = _attempt_number(self.headers.get("amz-sdk-request", ""))
        owner._record(ReceivedRequest(name, attempt, body, self.headers.get("Content-Type", "")))
        if name != owner.endpoint_name:
            # What SageMaker says for a name that does not exist in this region.
            self._send_error(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.")
            return
        behavior = owner.behavior
        if behavior.kind == "close":
            self.close_connection = True
            return
        if behavior.kind == "slow" and owner._stopping.wait(behavior.delay_s):
            self.close_connection = True
            return
        if behavior.kind == "hold":
            owner._released.wait(HOLD_LIMIT_S)
            if owner._stopping.is_set():
                self.close_connection = True
                return
        if behavior.kind == "error":
            status = _RUNTIME_ERROR_STATUS[behavior.error_code]
            self._send_error(status, behavior.error_code, f"{behavior.error_code} injected by the fake region")
            return
        if behavior.kind == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", behavior.content_type)
            self.send_header("Content-Length", str(len(behavior.body) * 2 + 10))
            self.end_headers()
            self.wfile.write(behavior.body)
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", behavior.content_type)
        self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
        self.send_header("Content-Length", str(len(behavior.body)))
        self.end_headers()
        self.wfile.write(behavior.body)

    def _send_error(self, status: int, code: str, message: str) -> None:
        payload = json.dumps({"message": message}).encode()
        self.send_response(status)
        self.send_header("x-amzn-ErrorType", f"{code}:{_ERROR_NAMESPACE}")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # many callers connecting at once must queue, not time out

    def __init__(self, address: tuple[str, int], owner: FakeSageMakerRuntime) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        """A client that gave up (read timeout) leaves a broken pipe behind: expected, not news."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _attempt_number(header: str) -> int:
    """botocore sends ``amz-sdk-request: attempt=N; max=M`` on every attempt."""
    match = re.search(r"attempt=(\d+)", header)
    return int(match.group(1)) if match else 1


class FakeSageMakerRuntime:
    """One fake region: a SageMaker runtime that serves ``endpoint_name`` on 127.0.0.1.

    Use as a context manager. The port stays the same across :meth:`refuse_connections` /
    :meth:`accept_connections`, so a client built once keeps pointing at it through an outage.
    """

    def __init__(self, endpoint_name: str, region: str = "us-east-1", port: int = 0) -> None:
        if not endpoint_name:
            raise ValueError("endpoint_name must not be empty")
        self.endpoint_name = endpoint_name
        self.region = region
        self._port = port
        self._lock = threading.Lock()
        self._behavior = Behavior()
        self._requests: list[ReceivedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # While "refusing", the port stays bound (not listening: connects get ECONNREFUSED), so no other
        # server started meanwhile (another test, another xdist worker) can take it and answer instead.
        self._placeholder: socket.socket | None = None

    # lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> FakeSageMakerRuntime:
        self.accept_connections()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._released.set()
        self.refuse_connections()
        self._release_placeholder()

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("the fake region has not been started yet")
        return f"http://127.0.0.1:{self._port}"

    def accept_connections(self) -> None:
        """(Re)start listening on the same port."""
        with self._lock:
            if self._server is not None:
                return
            self._release_placeholder()
            self._server = _Server(("127.0.0.1", self._port), self)
            self._port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                            name=f"fake-sagemaker-{self.region}", daemon=True)
            self._thread.start()

    def refuse_connections(self) -> None:
        """Stop listening and cut open keep-alive connections: the next connect gets ECONNREFUSED."""
        with self._lock:
            server, self._server = self._server, None
            connections = list(self._connections)
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if not self._stopping.is_set():
            self._hold_port()
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _hold_port(self) -> None:
        placeholder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        placeholder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        placeholder.bind(("127.0.0.1", self._port))  # bound, never listening
        self._placeholder = placeholder

    def _release_placeholder(self) -> None:
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    # faults and observations -----------------------------------------------------------------------------
    @property
    def behavior(self) -> Behavior:
        with self._lock:
            return self._behavior

    def set_behavior(self, behavior: Behavior) -> None:
        with self._lock:
            self._behavior = behavior
            if behavior.kind == "hold":
                self._released.clear()

    def release_held(self) -> None:
        """Answer every request held by the ``hold`` behavior (and any that arrives while it is set)."""
        self._released.set()

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)


class ManualClock:
    """A monotonic clock (seconds) that moves only when told to: pass it as ``CrossRegionClient(clock=...)`` so
    reset periods and latencies are whatever the test says, however loaded the machine is."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back, got advance({seconds})")
        with self._lock:
            self._now += seconds


class RecordingMetrics:
    """A Powertools-Metrics-shaped sink (``add_metric``) that keeps what was counted, and when (by ``clock``:
    pass the client's own clock when it is not the real one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.events: list[tuple[str, float]] = []
        self._clock = clock
        self._lock = threading.Lock()

    def add_metric(self, name: str, unit: object, value: float) -> None:
        with self._lock:
            self.events.append((name, self._clock()))

    @property
    def names(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.events]

    def between(self, start: float, end: float) -> list[str]:
        with self._lock:
            return [name for name, at in self.events if start <= at < end]
