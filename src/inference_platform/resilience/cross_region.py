"""SageMaker runtime calls that survive the loss of a region.

``CrossRegionClient`` sends each ``invoke_endpoint`` to the primary region and fails over to the secondary
when the primary is unhealthy. Each region has its own endpoint name (the primary's name or ARN is never
sent to the secondary) and its own circuit breaker.

What counts as a region failure (fail over, and count against the region's breaker):
  * HTTP 5xx (ServiceUnavailable, InternalFailure, InternalDependencyException, ...);
  * throttling still there after botocore's in-region retries (HTTP 429, ThrottlingException,
    ModelNotReadyException); the retries themselves are botocore's ``standard`` mode with jitter;
  * connect and read timeouts, refused connections, connections closed before or during the response;
  * a response slower than ``latency_threshold_ms``. That response is still returned to the caller (it is a
    correct answer, and asking the other region as well would only add latency); it counts as one failure
    for the breaker, so a region that keeps answering slowly is bypassed once the breaker opens.
Caller errors (HTTP 4xx other than 429: ValidationError, ModelError, ...) never fail over: the region
answered, the request is at fault. The original botocore ``ClientError`` is re-raised unchanged, whichever
region raised it, and it counts as a success for that region's breaker.

Slowness shifts traffic, it never refuses it (panic mode). When neither breaker admits a call, the client still
calls a region whose latest outcome was an answer (correct but slow), because a region that answers slowly is not
down: refusing every caller while it still answers would turn a one-region outage into a total one (the primary
dies, all traffic moves to the secondary, the secondary slows under the extra load and its breaker trips on
slowness). ``CrossRegionUnavailableError`` is raised only when every region either failed this call or is kept
out by a breaker whose region's latest outcome was a hard failure (5xx, throttling, transport error): a dead
region still gets at most ``failure_threshold`` calls plus one probe per ``reset_timeout_s``, and with both
regions dead callers get the error at once. Each panic call emits ``<Role>PanicModeCall`` and logs a warning.

Breakers: the state machine (closed -> open after ``failure_threshold`` consecutive failures, half-open after
``reset_timeout_s``, closed again after one successful probe), the failure counter and the state-change
listeners are pybreaker's. pybreaker's ``call()`` holds the breaker's lock for the whole guarded call, which
would serialise every request to a region and make callers queue behind a half-open probe instead of going
to the other region, so the network call runs outside it: ``RegionBreaker`` admits a call (at most one probe
while half-open) and then reports the outcome to pybreaker.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pybreaker
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

from inference_platform.shared.clients import ClientOptions, client

logger = logging.getLogger(__name__)

BREAKER_STATES = (pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN)
THROTTLING_ERROR_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "ModelNotReadyException",
})
# Transport failures: refused/closed connections and connect timeouts (ConnectionError), read timeouts and
# connections dropped mid-response (HTTPClientError: ReadTimeoutError, ConnectionClosedError,
# ResponseStreamingError), and a body shorter than its Content-Length (IncompleteReadError).
TRANSPORT_ERRORS = (ConnectionError, HTTPClientError, IncompleteReadError)


def is_region_failure(exc: BaseException) -> bool:
    """True when ``exc`` says the region is unhealthy (fail over), False when the caller is at fault."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "")
        return status >= 500 or status == 429 or code in THROTTLING_ERROR_CODES
    return isinstance(exc, TRANSPORT_ERRORS)


class SlowResponseError(Exception):
    """The region answered, but slower than the latency threshold: one failure for its breaker."""

    def __init__(self, region: str, latency_ms: float, threshold_ms: float) -> None:
        super().__init__(f"{region} answered in {latency_ms:.0f} ms, above the {threshold_ms:.0f} ms threshold")
        self.region = region
        self.latency_ms = latency_ms


class BreakerOpenError(Exception):
    """The region was not tried: its breaker is open, or half-open with its one probe already in flight.

    ``down`` is True when the region's latest outcome was a hard failure (no answer), False when it was an answer
    (slow, or in time): only a region that is down is left out of panic mode.
    """

    def __init__(self, region: str, state: str, down: bool = True) -> None:
        detail = "open" if state == pybreaker.STATE_OPEN else "half-open with a probe already in flight"
        latest = "failed" if down else "was answered"
        super().__init__(f"circuit breaker for {region} is {detail}; the region was not called "
                         f"(its latest call {latest})")
        self.region = region
        self.state = state
        self.down = down


class CrossRegionUnavailableError(Exception):
    """Both regions failed; carries both causes (``primary_error``, ``secondary_error``)."""

    def __init__(self, primary_region: str, primary_error: BaseException,
                 secondary_region: str, secondary_error: BaseException) -> None:
        super().__init__(
            f"invoke_endpoint failed in both regions: primary {primary_region}: {_describe(primary_error)}; "
            f"secondary {secondary_region}: {_describe(secondary_error)}"
        )
        self.primary_region = primary_region
        self.primary_error = primary_error
        self.secondary_region = secondary_region
        self.secondary_error = secondary_error


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class InvocationResult:
    """What a caller gets back: the model's answer plus where it came from and what it cost."""

    body: bytes
    content_type: str
    region: str
    failover: bool
    latency_ms: float  # seen by the caller, including a failed primary attempt
    endpoint_name: str = ""
    invoked_production_variant: str = ""
    custom_attributes: str = ""
    slow: bool = False  # slower than latency_threshold_ms (returned anyway, counted against the breaker)
    failover_reason: str = ""  # why the primary did not answer, when failover is True
    panic: bool = False  # served in panic mode: no breaker admitted the call, this region still answers


class MetricsSink(Protocol):
    """Anything with Powertools ``Metrics.add_metric``'s signature."""

    def add_metric(self, name: str, unit: Any, value: float) -> None: ...


class _Emitter:
    """EMF counters for failovers and breaker changes.

    With no sink, each event is one EMF record (Powertools ``single_metric``) with a ``Region`` dimension,
    printed at once, so it works in and out of a Lambda handler. With a sink (e.g. the handler's Powertools
    ``Metrics``), the counts are added to it and flushed with the handler's other metrics.
    """

    def __init__(self, sink: MetricsSink | None) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def count(self, name: str, region: str) -> None:
        try:
            if self._sink is None:
                with single_metric(name=name, unit=MetricUnit.Count, value=1) as m:  # POWERTOOLS_METRICS_NAMESPACE
                    m.add_dimension(name="Region", value=region)
            else:
                with self._lock:
                    self._sink.add_metric(name=name, unit=MetricUnit.Count, value=1)
        except Exception:  # a metrics problem must never fail an inference
            logger.exception("could not emit metric %s for %s", name, region)


@dataclass(frozen=True)
class _Permit:
    probe: bool
    epoch: int  # which closed period admitted the call; results from an older period are ignored


class _Recorded(Exception):
    """Carries a failure into pybreaker without touching the original exception's traceback."""


def _succeed() -> None:
    return None


def _fail(exc: BaseException) -> None:
    raise _Recorded(str(exc))


class RegionBreaker:
    """One region's circuit breaker, safe to share between threads."""

    def __init__(self, region: str, failure_threshold: int, reset_timeout_s: float,
                 on_change: Callable[[str, str, str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.region = region
        self._reset_timeout_s = reset_timeout_s
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._probe_in_flight = False
        self._opened_at = 0.0
        self._epoch = 0
        # Why the region is out, for panic mode: was its latest outcome a hard failure (True) or an answer?
        # Updated by every call that reaches the region (also results pybreaker ignores, and panic calls).
        self._down = False
        self._last_failure_at = -math.inf  # latest hard failure or slow answer, by the client's clock
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=failure_threshold, reset_timeout=reset_timeout_s, name=region,
            throw_new_error_on_trip=False, listeners=[_StateListener(self)],
        )

    @property
    def state(self) -> str:
        return self._breaker.current_state

    @property
    def fail_counter(self) -> int:
        return self._breaker.fail_counter

    @property
    def down(self) -> bool:
        """True when the region's latest outcome was a hard failure: no answer at all."""
        with self._lock:
            return self._down

    def panic_rank(self) -> float | None:
        """For panic mode: None when the region must not be called outside its breaker (its latest outcome was a
        hard failure), else when it last failed (slow answer or failure); the least recent is called first."""
        with self._lock:
            return None if self._down else self._last_failure_at

    def admit(self) -> _Permit | None:
        """A permit to call the region now, or None when the breaker says not to."""
        with self._lock:
            state = self._breaker.current_state
            if state == pybreaker.STATE_CLOSED:
                return _Permit(probe=False, epoch=self._epoch)
            if state == pybreaker.STATE_OPEN and self._clock() - self._opened_at < self._reset_timeout_s:
                return None
            if self._probe_in_flight:
                return None
            if state == pybreaker.STATE_OPEN:
                self._breaker.half_open()
            self._probe_in_flight = True
            return _Permit(probe=True, epoch=self._epoch)

    def record(self, permit: _Permit | None, failure: BaseException | None) -> None:
        """Report how a call went: ``failure`` None means the region answered in time (or the caller was at fault).

        ``permit`` None is a panic call, made while the breaker was not admitting: it does not change the state,
        but a hard failure marks the region down and starts a new reset period (as a failed probe would).
        """
        with self._lock:
            if failure is not None:
                self._last_failure_at = self._clock()
            self._down = failure is not None and not isinstance(failure, SlowResponseError)
            if permit is None:
                if self._down and self._breaker.current_state == pybreaker.STATE_OPEN:
                    self._opened_at = self._clock()
                return
            if permit.probe:
                self._probe_in_flight = False
            elif permit.epoch != self._epoch or self._breaker.current_state != pybreaker.STATE_CLOSED:
                return  # admitted before the breaker last opened: only the probe decides now
            if failure is None:
                self._breaker.call(_succeed)
            else:
                with contextlib.suppress(_Recorded):  # pybreaker re-raises the failure it just counted
                    self._breaker.call(_fail, failure)

    def release(self, permit: _Permit | None) -> None:
        """The call ended without saying anything about the region (e.g. bad parameters): free the probe slot."""
        if permit is not None and permit.probe:
            with self._lock:
                self._probe_in_flight = False

    def _changed(self, old: str, new: str) -> None:  # called by pybreaker with self._lock held
        if old == new:
            return
        if new == pybreaker.STATE_OPEN:
            self._opened_at = self._clock()
        elif new == pybreaker.STATE_CLOSED:
            self._epoch += 1
        self._on_change(self.region, old, new)


class _StateListener(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: RegionBreaker) -> None:
        self._owner = owner

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        old = old_state.name if old_state is not None else ""
        self._owner._changed(old, new_state.name)


@dataclass(frozen=True)
class _Answer:
    body: bytes
    content_type: str
    invoked_production_variant: str
    custom_attributes: str
    slow: bool


class _RegionFailed(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


_STATE_METRIC = {pybreaker.STATE_OPEN: "BreakerOpened", pybreaker.STATE_HALF_OPEN: "BreakerHalfOpened",
                 pybreaker.STATE_CLOSED: "BreakerClosed"}


class CrossRegionClient:
    """``invoke_endpoint`` against a primary region with failover to a secondary region.

    ``client_factory(region)`` returns a sagemaker-runtime client for that region (see
    :func:`default_client_factory`); it is called at most once per region, on first use.
    ``clock`` (seconds, monotonic) times the breakers' reset periods and every latency; tests pass a manual one.
    Thread-safe: share one instance between threads (and between Lambda invocations).
    """

    def __init__(  # noqa: PLR0917 - positional order is the signature agreed with the workflow Lambdas
        self,
        primary_region: str,
        secondary_region: str,
        endpoint_names: dict[str, str],
        client_factory: Callable[[str], Any],
        failure_threshold: int = 3,
        reset_timeout_s: float = 30.0,
        latency_threshold_ms: float = 2000.0,
        metrics: MetricsSink | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        inference_components: dict[str, str] | None = None,
    ) -> None:
        """``inference_components`` (optional): region -> inference component to name in that region's calls
        (a scale-to-zero endpoint); a region without one is called without ``InferenceComponentName``."""
        _validate(primary_region, secondary_region, endpoint_names, failure_threshold=failure_threshold,
                  reset_timeout_s=reset_timeout_s, latency_threshold_ms=latency_threshold_ms)
        self.primary_region = primary_region
        self.secondary_region = secondary_region
        self._endpoint_names = {r: endpoint_names[r] for r in (primary_region, secondary_region)}
        self._components = {r: name for r, name in (inference_components or {}).items() if name}
        unknown = set(self._components) - set(self._endpoint_names)
        if unknown:
            raise ValueError(f"inference_components names regions this client does not know: {sorted(unknown)}")
        self._client_factory = client_factory
        self._latency_threshold_ms = float(latency_threshold_ms)
        self._clock = clock
        self._emitter = _Emitter(metrics)
        self._roles = {primary_region: "Primary", secondary_region: "Secondary"}
        self._breakers = {
            region: RegionBreaker(region, failure_threshold, reset_timeout_s, self._breaker_changed, clock=clock)
            for region in (primary_region, secondary_region)
        }
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def breaker_state(self, region: str) -> str:
        """``closed``, ``open`` or ``half-open``. An open breaker reports ``open`` until the next call after
        ``reset_timeout_s`` turns it half-open."""
        return self._breaker(region).state

    def breaker_states(self) -> dict[str, str]:
        return {region: breaker.state for region, breaker in self._breakers.items()}

    def endpoint_name(self, region: str) -> str:
        self._breaker(region)
        return self._endpoint_names[region]

    def invoke_endpoint(self, **kwargs: Any) -> InvocationResult:
        """Call ``invoke_endpoint`` (same arguments as sagemaker-runtime's, minus ``EndpointName``).

        Returns the first healthy region's answer; when no breaker admits the call, a region that still answers
        (panic mode, ``result.panic``). Re-raises a caller error (4xx) unchanged. Raises
        :class:`CrossRegionUnavailableError` when every region failed this call or is down (its breaker open
        after a hard failure).
        """
        if "EndpointName" in kwargs or "InferenceComponentName" in kwargs:
            raise ValueError("invoke_endpoint: do not pass EndpointName or InferenceComponentName; the client uses "
                             f"the names configured for each region: {self._endpoint_names}, {self._components}")
        started = self._clock()
        errors: dict[str, BaseException] = {}
        for region in (self.primary_region, self.secondary_region):
            if errors:
                logger.warning("failing over from %s to %s: %s", self.primary_region, region,
                               _describe(errors[self.primary_region]))
                self._emitter.count("Failover", self.primary_region)
            try:
                answer = self._try_region(region, kwargs)
            except _RegionFailed as failed:
                errors[region] = failed.cause
                continue
            return self._result(region, answer, started, errors)
        for region in self._panic_candidates(errors):
            logger.warning("panic mode: no circuit breaker admitted the call; calling %s anyway: %s", region,
                           errors[region])
            self._emitter.count(f"{self._roles[region]}PanicModeCall", region)
            try:
                answer = self._try_region(region, kwargs, panic=True)
            except _RegionFailed as failed:
                errors[region] = failed.cause
                continue
            return self._result(region, answer, started, errors, panic=True)
        self._emitter.count("BothRegionsFailed", self.secondary_region)
        raise CrossRegionUnavailableError(self.primary_region, errors[self.primary_region], self.secondary_region,
                                          errors[self.secondary_region]) from errors[self.secondary_region]

    # internals ------------------------------------------------------------------------------------------
    def _breaker(self, region: str) -> RegionBreaker:
        try:
            return self._breakers[region]
        except KeyError:
            raise ValueError(f"unknown region {region!r}; this client knows {', '.join(self._breakers)}") from None

    def _client(self, region: str) -> Any:
        with self._clients_lock:
            if region not in self._clients:
                self._clients[region] = self._client_factory(region)
            return self._clients[region]

    def _panic_candidates(self, errors: Mapping[str, BaseException]) -> list[str]:
        """Regions their breaker kept out of this call although their latest call answered (slowly), the one
        that failed least recently first (the primary on a tie). Regions that are down are never candidates."""
        ranked = []
        for order, region in enumerate((self.primary_region, self.secondary_region)):
            rank = self._breakers[region].panic_rank()
            if isinstance(errors.get(region), BreakerOpenError) and rank is not None:
                ranked.append((rank, order, region))
        return [region for _, _, region in sorted(ranked)]

    def _try_region(self, region: str, kwargs: Mapping[str, Any], *, panic: bool = False) -> _Answer:
        """Call one region. ``panic``: call it even when its breaker does not admit the call."""
        breaker = self._breakers[region]
        permit = breaker.admit()
        if permit is None and not panic:
            raise _RegionFailed(BreakerOpenError(region, breaker.state, down=breaker.down))
        verdict_given = False
        try:
            client = self._client(region)
            call_started = self._clock()
            try:
                component = {"InferenceComponentName": self._components[region]} if region in self._components else {}
                response = client.invoke_endpoint(EndpointName=self._endpoint_names[region], **component, **kwargs)
                body = response["Body"].read()
            except Exception as exc:
                if is_region_failure(exc):
                    breaker.record(permit, exc)
                    verdict_given = True
                    raise _RegionFailed(exc) from exc
                if isinstance(exc, ClientError):
                    breaker.record(permit, None)  # the region answered; the request was at fault
                    verdict_given = True
                raise
            latency_ms = (self._clock() - call_started) * 1000
            slow = latency_ms > self._latency_threshold_ms
            breaker.record(permit, SlowResponseError(region, latency_ms, self._latency_threshold_ms) if slow else None)
            verdict_given = True
        finally:
            if not verdict_given:
                breaker.release(permit)
        return _Answer(
            body=body,
            content_type=response.get("ContentType", "application/octet-stream"),
            invoked_production_variant=response.get("InvokedProductionVariant", ""),
            custom_attributes=response.get("CustomAttributes", ""),
            slow=slow,
        )

    def _result(self, region: str, answer: _Answer, started: float, errors: Mapping[str, BaseException],
                panic: bool = False) -> InvocationResult:
        primary_error = errors.get(self.primary_region)
        return InvocationResult(
            body=answer.body,
            content_type=answer.content_type,
            region=region,
            failover=region != self.primary_region,
            latency_ms=(self._clock() - started) * 1000,
            endpoint_name=self._endpoint_names[region],
            invoked_production_variant=answer.invoked_production_variant,
            custom_attributes=answer.custom_attributes,
            slow=answer.slow,
            failover_reason=_describe(primary_error) if primary_error is not None and region != self.primary_region
            else "",
            panic=panic,
        )

    def _breaker_changed(self, region: str, old: str, new: str) -> None:
        logger.warning("circuit breaker for %s: %s -> %s", region, old or "new", new)
        self._emitter.count(f"{self._roles[region]}{_STATE_METRIC[new]}", region)


def _validate(primary_region: str, secondary_region: str, endpoint_names: Mapping[str, str], *,
              failure_threshold: int, reset_timeout_s: float, latency_threshold_ms: float) -> None:
    if not primary_region or not isinstance(primary_region, str):
        raise ValueError(f"primary_region must be a non-empty region name, got {primary_region!r}")
    if not secondary_region or not isinstance(secondary_region, str):
        raise ValueError(f"secondary_region must be a non-empty region name, got {secondary_region!r} "
                         "(without a secondary region call sagemaker-runtime directly)")
    if secondary_region == primary_region:
        raise ValueError(f"secondary_region must differ from primary_region, both are {primary_region!r}")
    for region in (primary_region, secondary_region):
        name = endpoint_names.get(region) if isinstance(endpoint_names, Mapping) else None
        if not name or not isinstance(name, str):
            raise ValueError(f"endpoint_names must map {region!r} to a non-empty endpoint name, "
                             f"got {endpoint_names!r}")
    if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int) or failure_threshold < 1:
        raise ValueError(f"failure_threshold must be an integer >= 1, got {failure_threshold!r}")
    if not reset_timeout_s > 0:
        raise ValueError(f"reset_timeout_s must be > 0, got {reset_timeout_s!r}")
    if not latency_threshold_ms > 0:
        raise ValueError(f"latency_threshold_ms must be > 0, got {latency_threshold_ms!r}")


def default_client_factory(
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
    max_attempts: int = 3,
    *,
    max_pool_connections: int = 10,
    endpoint_urls: Mapping[str, str] | None = None,
) -> Callable[[str], Any]:
    """A ``client_factory`` building boto3 sagemaker-runtime clients with in-region ``standard`` retries.

    ``read_timeout`` is deliberately well below SageMaker's 60 s model limit so that a hung region fails over;
    raise it for models that legitimately take longer. ``max_attempts`` counts the first attempt.
    ``endpoint_urls`` maps a region to an endpoint URL (tests, emulators); other regions use AWS.
    """
    options = ClientOptions(connect_timeout=connect_timeout, read_timeout=read_timeout, max_attempts=max_attempts,
                            max_pool_connections=max_pool_connections)
    urls = dict(endpoint_urls or {})

    def factory(region: str) -> Any:
        return client("sagemaker-runtime", region, options, endpoint_url=urls.get(region))

    return factory
