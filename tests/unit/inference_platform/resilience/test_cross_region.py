"""CrossRegionClient with real botocore clients against fault-injecting SageMaker runtimes on 127.0.0.1.

Each fake region serves one endpoint name and answers any other name with ValidationError, so a request
that carried the primary's name to the secondary would fail loudly.

No verdict here depends on how fast this machine is: the client runs on a ``ManualClock`` that only the test
moves (reset periods pass when the test says so; a "slow" region is one whose calls move the clock past the
latency threshold), botocore's timeouts are seconds above what a loopback call needs except where a timeout is
the point of the test, and "nobody waited for the probe" is shown by holding the probe until the others are
done instead of timing them.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from inference_platform.resilience.cross_region import (
    BreakerOpenError,
    CrossRegionClient,
    CrossRegionUnavailableError,
    default_client_factory,
)
from inference_platform_ops.emulator.fake_sagemaker_runtime import (
    Behavior,
    FakeSageMakerRuntime,
    ManualClock,
    RecordingMetrics,
)

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
NAMES = {PRIMARY: "churn-prod-use1", SECONDARY: "churn-prod-usw2"}
TIMEOUT = 10.0  # botocore connect/read timeout: far above any loopback call, however loaded the machine
SHORT_READ_TIMEOUT = 0.25  # only for the read-timeout case, against a region that holds the answer for 30 s
JOIN_S = 30.0  # upper bound for a thread the test waits for; reaching it is a failure, not a pause


class Attempts(collections.Counter):
    """HTTP attempts leaving the client per region, counted in botocore (also those a dead port refuses)."""


@pytest.fixture
def regions() -> Iterator[tuple[FakeSageMakerRuntime, FakeSageMakerRuntime]]:
    with FakeSageMakerRuntime(NAMES[PRIMARY], PRIMARY) as primary, \
            FakeSageMakerRuntime(NAMES[SECONDARY], SECONDARY) as secondary:
        secondary.set_behavior(Behavior(body=b'{"prediction": 2}'))
        yield primary, secondary


def make_client(regions, *, max_attempts: int = 2, failure_threshold: int = 3, reset_timeout_s: float = 1.0,
                latency_threshold_ms: float = 150.0, pool: int = 10, clock: ManualClock | None = None,
                metrics: RecordingMetrics | None = None, primary_read_timeout: float = TIMEOUT,
                latency_s: dict[str, float] | None = None, attempts: Attempts | None = None,
                emf_to_stdout: bool = False) -> CrossRegionClient:
    """A client on ``clock`` (a new ManualClock by default). ``latency_s[region]`` moves the clock during each
    HTTP attempt to that region: how a region is made slow without sleeping. Metrics go to ``metrics`` (a new
    RecordingMetrics by default), or with ``emf_to_stdout`` to the client's default EMF output."""
    primary, secondary = regions
    clock = clock if clock is not None else ManualClock()
    urls = {PRIMARY: primary.url, SECONDARY: secondary.url}
    read_timeouts = {PRIMARY: primary_read_timeout, SECONDARY: TIMEOUT}
    factories = {  # one per read timeout: each builds a boto3 session, which is most of a test's time
        timeout: default_client_factory(connect_timeout=TIMEOUT, read_timeout=timeout, max_attempts=max_attempts,
                                        max_pool_connections=pool, endpoint_urls=urls)
        for timeout in set(read_timeouts.values())
    }
    latency_s = latency_s if latency_s is not None else {}
    attempts = attempts if attempts is not None else Attempts()

    def factory(region: str):
        client = factories[read_timeouts[region]](region)

        def before_send(**_: object) -> None:
            attempts[region] += 1
            clock.advance(latency_s.get(region, 0.0))

        client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", before_send)
        return client

    return CrossRegionClient(PRIMARY, SECONDARY, NAMES, factory, failure_threshold=failure_threshold,
                             reset_timeout_s=reset_timeout_s, latency_threshold_ms=latency_threshold_ms,
                             metrics=None if emf_to_stdout else metrics or RecordingMetrics(clock), clock=clock)


def wait_for(condition, what: str) -> None:
    """Poll ``condition`` until it holds; only an upper bound, reaching it fails the test."""
    deadline = time.monotonic() + JOIN_S
    while not condition():
        assert time.monotonic() < deadline, f"waited {JOIN_S:.0f} s for {what}"
        time.sleep(0.01)


def run_threads(target, n: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_S)
    assert not any(t.is_alive() for t in threads), "a caller never returned"


def invoke(client: CrossRegionClient):
    return client.invoke_endpoint(Body=b'{"x": 1}', ContentType="application/json")


def test_healthy_primary_serves_and_secondary_is_untouched(regions) -> None:
    primary, secondary = regions
    result = invoke(make_client(regions))

    assert (result.region, result.failover, result.body) == (PRIMARY, False, b'{"prediction": 1}')
    assert result.content_type == "application/json" and result.invoked_production_variant == "AllTraffic"
    assert [r.endpoint_name for r in primary.requests] == [NAMES[PRIMARY]]
    assert primary.requests[0].body == b'{"x": 1}'
    assert secondary.requests == []


@pytest.mark.parametrize(
    ("behavior", "error_type", "primary_attempts"),
    [
        (Behavior("error", "ServiceUnavailable"), "ServiceUnavailable", [1, 2]),
        (Behavior("error", "InternalFailure"), "InternalFailure", [1, 2]),
        (Behavior("error", "InternalDependencyException"), "InternalDependencyException", [1]),
        (Behavior("error", "ThrottlingException"), "ThrottlingException", [1, 2]),
        (Behavior("hold"), "ReadTimeoutError", [1, 2]),
        (Behavior("close"), "ConnectionClosedError", [1, 2]),
        (Behavior("truncate"), "ResponseStreamingError", [1]),
    ],
    ids=["503", "500", "530", "throttling-429", "read-timeout", "closed-before-response", "closed-mid-body"],
)
def test_region_failures_fail_over_after_in_region_retries(regions, behavior, error_type, primary_attempts) -> None:
    """botocore retries in the region first (its standard mode); what still fails goes to the secondary."""
    primary, secondary = regions
    primary.set_behavior(behavior)  # "hold": the primary never answers while the test runs
    read_timeout = SHORT_READ_TIMEOUT if behavior.kind == "hold" else TIMEOUT
    result = invoke(make_client(regions, max_attempts=2, primary_read_timeout=read_timeout))
    # A request the client gave up on may still be waiting for the fake's handler thread on a loaded machine.
    wait_for(lambda: len(primary.requests) >= len(primary_attempts), "the primary to record every attempt")

    assert (result.region, result.failover, result.body) == (SECONDARY, True, b'{"prediction": 2}')
    assert error_type in result.failover_reason
    assert [r.attempt for r in primary.requests] == primary_attempts
    # Each region only ever saw its own endpoint name.
    assert {r.endpoint_name for r in primary.requests} == {NAMES[PRIMARY]}
    assert [r.endpoint_name for r in secondary.requests] == [NAMES[SECONDARY]]


def test_refused_connection_fails_over(regions) -> None:
    primary, secondary = regions
    primary.refuse_connections()
    result = invoke(make_client(regions))

    assert (result.region, result.failover) == (SECONDARY, True)
    assert "EndpointConnectionError" in result.failover_reason
    assert [r.endpoint_name for r in secondary.requests] == [NAMES[SECONDARY]]


@pytest.mark.parametrize("code", ["ValidationError", "ModelError"])
def test_caller_errors_are_reraised_unchanged_without_failover(regions, code) -> None:
    primary, secondary = regions
    primary.set_behavior(Behavior("error", code))
    client = make_client(regions, failure_threshold=1)

    with pytest.raises(ClientError) as raised:
        invoke(client)

    assert type(raised.value).__name__ == code  # botocore's modeled exception class, not a wrapper
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["Error"]["Message"] == f"{code} injected by the fake region"
    assert len(primary.requests) == 1  # 4xx are not retried either
    assert secondary.requests == []
    assert client.breaker_state(PRIMARY) == "closed"  # the region answered: not a failure


def test_caller_error_from_the_secondary_is_reraised_unchanged(regions) -> None:
    primary, secondary = regions
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    secondary.set_behavior(Behavior("error", "ValidationError"))

    with pytest.raises(ClientError) as raised:
        invoke(make_client(regions, max_attempts=1))
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_slow_answer_is_returned_but_counts_against_the_breaker(regions) -> None:
    primary, secondary = regions
    client = make_client(regions, failure_threshold=2, latency_threshold_ms=50, reset_timeout_s=5,
                         latency_s={PRIMARY: 0.1})

    first, second = invoke(client), invoke(client)
    assert [(r.region, r.failover, r.slow) for r in (first, second)] == [(PRIMARY, False, True)] * 2
    assert first.latency_ms == pytest.approx(100)
    assert client.breaker_state(PRIMARY) == "open"

    third = invoke(client)
    assert (third.region, third.failover, third.slow, third.panic) == (SECONDARY, True, False, False)
    assert "BreakerOpenError" in third.failover_reason
    assert len(primary.requests) == 2  # the open breaker kept the third call off the slow region


def test_breaker_goes_closed_open_half_open_closed(regions) -> None:
    primary, secondary = regions
    clock = ManualClock()
    metrics = RecordingMetrics(clock)
    client = make_client(regions, max_attempts=1, failure_threshold=2, reset_timeout_s=1.0, metrics=metrics,
                         clock=clock)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))

    assert invoke(client).region == SECONDARY and client.breaker_state(PRIMARY) == "closed"
    assert invoke(client).region == SECONDARY and client.breaker_state(PRIMARY) == "open"
    clock.advance(0.99)
    assert invoke(client).region == SECONDARY
    assert len(primary.requests) == 2  # open: the primary is not called at all

    clock.advance(0.01)
    primary.set_behavior(Behavior())
    probe = invoke(client)
    assert (probe.region, probe.failover) == (PRIMARY, False)
    assert client.breaker_state(PRIMARY) == "closed"
    # The breaker trips while the second call is recorded, before that call fails over.
    assert metrics.names == ["Failover", "PrimaryBreakerOpened", "Failover", "Failover",
                             "PrimaryBreakerHalfOpened", "PrimaryBreakerClosed"]


def test_failed_probe_reopens_for_another_reset_period(regions) -> None:
    primary, _ = regions
    clock = ManualClock()
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=1.0, clock=clock)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    invoke(client)
    assert client.breaker_state(PRIMARY) == "open"

    clock.advance(1.0)
    assert invoke(client).region == SECONDARY  # the probe failed ...
    assert client.breaker_state(PRIMARY) == "open"  # ... so the breaker opened again
    clock.advance(0.99)
    assert invoke(client).region == SECONDARY
    assert len(primary.requests) == 2  # the trip and one probe


def test_half_open_lets_exactly_one_probe_through(regions) -> None:
    """While the one probe is in flight, every other caller goes straight to the secondary: they all finish while
    the probe is still held by the primary, so none of them queued behind it."""
    primary, secondary = regions
    clock = ManualClock()
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=1.0, pool=16, clock=clock)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    invoke(client)
    clock.advance(1.0)
    primary.set_behavior(Behavior("hold"))  # recovered, but the probe's answer waits for release_held()
    primary.reset_requests()

    probe_result = []
    probe = threading.Thread(target=lambda: probe_result.append(invoke(client)))
    probe.start()
    wait_for(lambda: primary.requests or not probe.is_alive(), "the probe to reach the primary")
    results = []
    start = threading.Barrier(7)

    def call() -> None:
        start.wait()
        results.append(invoke(client))

    run_threads(call, 7)
    assert probe.is_alive(), "the probe finished before the primary answered it"
    primary.release_held()
    probe.join(JOIN_S)

    assert len(primary.requests) == 1
    assert [(r.region, r.failover) for r in probe_result] == [(PRIMARY, False)]
    assert [r.region for r in results] == [SECONDARY] * 7
    assert all("probe already in flight" in r.failover_reason for r in results)
    assert client.breaker_state(PRIMARY) == "closed"


def test_many_threads_one_breaker_bound_requests_to_a_dead_primary(regions) -> None:
    """Whatever the concurrency: every caller gets an answer, the breaker trips once, and once it has tripped the
    dead primary gets one probe per reset period. Calls already in flight when it trips (at most one per thread)
    cannot be recalled, so the calls admitted before the trip are bounded by failure_threshold + threads - 1.
    Time is the manual clock, moved by the callers themselves (one tick per finished call)."""
    primary, _ = regions
    threads_n, calls_each, threshold, reset, tick = 12, 20, 3, 1.0, 0.125
    clock = ManualClock()
    metrics = RecordingMetrics(clock)
    client = make_client(regions, max_attempts=1, failure_threshold=threshold, reset_timeout_s=reset,
                         latency_threshold_ms=60_000, pool=threads_n + 4, metrics=metrics, clock=clock)
    invoke(client)  # warm both clients so the test measures the breaker, not client creation
    invoke(client)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    primary.reset_requests()
    metrics.events.clear()
    errors: list[BaseException] = []
    served: list[str] = []
    start = threading.Barrier(threads_n)

    def caller() -> None:
        start.wait()
        for i in range(calls_each):
            try:
                served.append(client.invoke_endpoint(Body=json.dumps({"call": i}).encode()).region)
            except BaseException as exc:  # noqa: BLE001 - any error at all fails the test below
                errors.append(exc)
                return
            clock.advance(tick)

    run_threads(caller, threads_n)

    assert errors == []
    assert served == [SECONDARY] * (threads_n * calls_each)
    opened = [at for name, at in metrics.events if name == "PrimaryBreakerOpened"]
    assert opened, "the breaker never opened"
    probes = metrics.names.count("PrimaryBreakerHalfOpened")
    assert 10 <= probes <= int((clock() - opened[0]) / reset) + 1
    assert len(primary.requests) <= threshold + threads_n - 1 + probes
    # Every reopening follows exactly one failed probe: the state machine never skipped a step.
    transitions = [n for n in metrics.names if n.startswith("PrimaryBreaker")]
    assert transitions == ["PrimaryBreakerOpened"] + ["PrimaryBreakerHalfOpened", "PrimaryBreakerOpened"] * probes


def test_a_slow_secondary_keeps_serving_while_the_primary_is_down(regions, caplog) -> None:
    """The reproduction from the issue: primary answering 503, secondary answering correctly in 150 ms, threshold
    100 ms, failure_threshold 3, reset 5 s. Once both breakers are open (the primary's on 503s, the secondary's on
    slowness) the client still calls the secondary: 30 of 30 calls served, none refused."""
    primary, secondary = regions
    clock = ManualClock()
    metrics = RecordingMetrics(clock)
    client = make_client(regions, max_attempts=1, failure_threshold=3, reset_timeout_s=5,
                         latency_threshold_ms=100, clock=clock, metrics=metrics, latency_s={SECONDARY: 0.15})
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    caplog.set_level(logging.WARNING, logger="inference_platform.cross_region")

    results = [invoke(client) for _ in range(30)]  # any CrossRegionUnavailableError fails the test here

    assert [(r.region, r.body, r.slow) for r in results] == [(SECONDARY, b'{"prediction": 2}', True)] * 30
    assert [r.panic for r in results] == [False] * 3 + [True] * 27
    assert client.breaker_states() == {PRIMARY: "open", SECONDARY: "open"}
    assert len(primary.requests) == 3  # 4.5 s of calls: within one reset period, no probe yet
    assert metrics.names.count("SecondaryPanicModeCall") == 27
    assert "BothRegionsFailed" not in metrics.names
    panic_logs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("panic mode")]
    assert len(panic_logs) == 27 and f"calling {SECONDARY} anyway" in panic_logs[0]


def test_panic_mode_ends_when_the_slow_region_fails_too(regions) -> None:
    """Panic mode is for a region that answers. Once the slow secondary fails hard as well, the call that saw it
    fail is refused (both regions failed it) and the next calls fail fast without reaching either region."""
    primary, secondary = regions
    attempts = Attempts()
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=5, latency_threshold_ms=100,
                         latency_s={SECONDARY: 0.15}, attempts=attempts)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    assert invoke(client).slow  # primary 503 -> open; secondary slow -> open
    assert invoke(client).panic

    secondary.set_behavior(Behavior("error", "InternalFailure"))
    with pytest.raises(CrossRegionUnavailableError) as raised:
        invoke(client)
    assert isinstance(raised.value.primary_error, BreakerOpenError) and raised.value.primary_error.down
    assert raised.value.secondary_error.response["Error"]["Code"] == "InternalFailure"

    before = dict(attempts)
    with pytest.raises(CrossRegionUnavailableError) as again:
        invoke(client)
    assert attempts == before
    assert again.value.secondary_error.down and "latest call failed" in str(again.value.secondary_error)


def test_many_threads_primary_dead_secondary_slowed_by_load(regions) -> None:
    """The cascade the breakers must not cause: the primary dies, every caller moves to the secondary, and the
    secondary answers every call above the latency threshold (as a region slowed by the extra load would), so its
    breaker opens on slowness. Every caller still gets every answer, and the dead primary still gets only its
    failure_threshold calls (plus the ones in flight) and one probe per reset period."""
    primary, _ = regions
    threads_n, calls_each, threshold, reset = 12, 15, 3, 1.0
    clock = ManualClock()
    metrics = RecordingMetrics(clock)
    client = make_client(regions, max_attempts=1, failure_threshold=threshold, reset_timeout_s=reset,
                         latency_threshold_ms=100, pool=threads_n + 4, metrics=metrics, clock=clock,
                         latency_s={SECONDARY: 0.15})
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    errors: list[BaseException] = []
    answers = []
    start = threading.Barrier(threads_n)

    def caller() -> None:
        start.wait()
        for _ in range(calls_each):
            try:
                answers.append(invoke(client))
            except BaseException as exc:  # noqa: BLE001 - any error at all fails the test below
                errors.append(exc)

    run_threads(caller, threads_n)

    assert errors == []
    assert len(answers) == threads_n * calls_each
    assert {(r.region, r.body, r.slow) for r in answers} == {(SECONDARY, b'{"prediction": 2}', True)}
    assert "SecondaryBreakerOpened" in metrics.names
    assert sum(r.panic for r in answers) == metrics.names.count("SecondaryPanicModeCall") > 0
    probes = metrics.names.count("PrimaryBreakerHalfOpened")
    opened = [at for name, at in metrics.events if name == "PrimaryBreakerOpened"]
    assert probes <= int((clock() - opened[0]) / reset) + 1
    assert len(primary.requests) <= threshold + threads_n - 1 + probes
    assert "PrimaryPanicModeCall" not in metrics.names  # a region that fails hard is never called in panic


def test_both_regions_failing_raises_one_error_with_both_causes(regions) -> None:
    primary, secondary = regions
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    secondary.refuse_connections()
    attempts = Attempts()
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=5, attempts=attempts)

    with pytest.raises(CrossRegionUnavailableError) as raised:
        invoke(client)
    err = raised.value
    assert err.primary_error.response["Error"]["Code"] == "ServiceUnavailable"
    assert type(err.secondary_error).__name__ == "EndpointConnectionError"
    assert f"primary {PRIMARY}: ServiceUnavailable" in str(err) and f"secondary {SECONDARY}" in str(err)
    assert attempts == {PRIMARY: 1, SECONDARY: 1}

    # Both breakers are now open after hard failures: fail fast without sending anything to either region.
    with pytest.raises(CrossRegionUnavailableError) as again:
        invoke(client)
    assert isinstance(again.value.primary_error, BreakerOpenError)
    assert isinstance(again.value.secondary_error, BreakerOpenError)
    assert attempts == {PRIMARY: 1, SECONDARY: 1}


def test_bad_parameters_do_not_wedge_a_half_open_breaker(regions) -> None:
    primary, _ = regions
    clock = ManualClock()
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=1.0, clock=clock)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    invoke(client)
    clock.advance(1.0)
    primary.set_behavior(Behavior())

    with pytest.raises(ParamValidationError):
        client.invoke_endpoint(Body=b"{}", NoSuchArgument=1)
    assert invoke(client).region == PRIMARY  # the probe slot was released, the next call probed and closed it
    assert client.breaker_state(PRIMARY) == "closed"


def emf_records(text: str) -> dict[str, dict]:
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return {r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: r for r in records}


def test_default_metrics_are_emf_records_with_the_region(regions, capsys, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "InferencePlatform")  # as the template sets it
    primary, secondary = regions
    factory = default_client_factory(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, max_attempts=1,
                                     endpoint_urls={PRIMARY: primary.url, SECONDARY: secondary.url})
    client = CrossRegionClient(PRIMARY, SECONDARY, NAMES, factory, failure_threshold=1, clock=ManualClock())
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    capsys.readouterr()
    invoke(client)

    by_name = emf_records(capsys.readouterr().out)
    assert set(by_name) == {"Failover", "PrimaryBreakerOpened"}
    for record in by_name.values():
        assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "InferencePlatform"
        assert record["Region"] == PRIMARY


def test_panic_mode_call_is_an_emf_record_with_the_region_called(regions, capsys) -> None:
    primary, _ = regions
    client = make_client(regions, max_attempts=1, failure_threshold=1, latency_threshold_ms=100,
                         latency_s={SECONDARY: 0.15}, emf_to_stdout=True)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    invoke(client)
    capsys.readouterr()

    assert invoke(client).panic
    by_name = emf_records(capsys.readouterr().out)
    record = by_name["SecondaryPanicModeCall"]
    assert (record["Region"], record["SecondaryPanicModeCall"]) == (SECONDARY, [1.0])
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Region"]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secondary_region": ""}, "secondary_region must be a non-empty region name"),
        ({"secondary_region": PRIMARY}, "must differ from primary_region"),
        ({"endpoint_names": {PRIMARY: "a"}}, "endpoint_names must map 'us-west-2'"),
        ({"failure_threshold": 0}, "failure_threshold must be an integer >= 1"),
        ({"reset_timeout_s": 0}, "reset_timeout_s must be > 0"),
        ({"latency_threshold_ms": -1}, "latency_threshold_ms must be > 0"),
    ],
)
def test_bad_configuration_is_refused_with_the_reason(kwargs, message) -> None:
    args = {"primary_region": PRIMARY, "secondary_region": SECONDARY, "endpoint_names": NAMES,
            "client_factory": default_client_factory()} | kwargs
    with pytest.raises(ValueError, match=message):
        CrossRegionClient(**args)


def test_endpoint_name_from_the_caller_is_refused(regions) -> None:
    client = make_client(regions)
    with pytest.raises(ValueError, match="do not pass EndpointName"):
        client.invoke_endpoint(EndpointName=NAMES[PRIMARY], Body=b"{}")
    with pytest.raises(ValueError, match="unknown region 'eu-west-1'"):
        client.breaker_state("eu-west-1")
    assert client.endpoint_name(SECONDARY) == NAMES[SECONDARY]


def test_client_factory_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts must be an integer >= 1"):
        default_client_factory(max_attempts=0)
    with pytest.raises(ValueError, match="timeouts must be > 0"):
        default_client_factory(read_timeout=0)
