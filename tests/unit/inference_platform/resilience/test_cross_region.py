"""CrossRegionClient with real botocore clients against fault-injecting SageMaker runtimes on 127.0.0.1.

Each fake region serves one endpoint name and answers any other name with ValidationError, so a request
that carried the primary's name to the secondary would fail loudly.
"""

from __future__ import annotations

import json
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
from inference_platform_ops.emulator.fake_sagemaker_runtime import Behavior, FakeSageMakerRuntime, RecordingMetrics

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
NAMES = {PRIMARY: "churn-prod-use1", SECONDARY: "churn-prod-usw2"}
READ_TIMEOUT = 0.25


@pytest.fixture
def regions() -> Iterator[tuple[FakeSageMakerRuntime, FakeSageMakerRuntime]]:
    with FakeSageMakerRuntime(NAMES[PRIMARY], PRIMARY) as primary, \
            FakeSageMakerRuntime(NAMES[SECONDARY], SECONDARY) as secondary:
        secondary.set_behavior(Behavior(body=b'{"prediction": 2}'))
        yield primary, secondary


def make_client(regions, *, max_attempts: int = 2, failure_threshold: int = 3, reset_timeout_s: float = 0.2,
                latency_threshold_ms: float = 150.0, pool: int = 10, read_timeout: float = READ_TIMEOUT,
                metrics: RecordingMetrics | None = None) -> CrossRegionClient:
    primary, secondary = regions
    factory = default_client_factory(connect_timeout=0.25, read_timeout=read_timeout, max_attempts=max_attempts,
                                     max_pool_connections=pool,
                                     endpoint_urls={PRIMARY: primary.url, SECONDARY: secondary.url})
    return CrossRegionClient(PRIMARY, SECONDARY, NAMES, factory, failure_threshold=failure_threshold,
                             reset_timeout_s=reset_timeout_s, latency_threshold_ms=latency_threshold_ms,
                             metrics=metrics if metrics is not None else RecordingMetrics())


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
        (Behavior("slow", delay_s=1.0), "ReadTimeoutError", [1, 2]),
        (Behavior("close"), "ConnectionClosedError", [1, 2]),
        (Behavior("truncate"), "ResponseStreamingError", [1]),
    ],
    ids=["503", "500", "530", "throttling-429", "read-timeout", "closed-before-response", "closed-mid-body"],
)
def test_region_failures_fail_over_after_in_region_retries(regions, behavior, error_type, primary_attempts) -> None:
    """botocore retries in the region first (its standard mode); what still fails goes to the secondary."""
    primary, secondary = regions
    primary.set_behavior(behavior)
    result = invoke(make_client(regions, max_attempts=2))

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
    primary.set_behavior(Behavior("slow", delay_s=0.1))
    client = make_client(regions, failure_threshold=2, latency_threshold_ms=50, reset_timeout_s=5)

    first, second = invoke(client), invoke(client)
    assert [(r.region, r.failover, r.slow) for r in (first, second)] == [(PRIMARY, False, True)] * 2
    assert first.latency_ms >= 100
    assert client.breaker_state(PRIMARY) == "open"

    third = invoke(client)
    assert (third.region, third.failover, third.slow) == (SECONDARY, True, False)
    assert "BreakerOpenError" in third.failover_reason
    assert len(primary.requests) == 2  # the open breaker kept the third call off the slow region


def test_breaker_goes_closed_open_half_open_closed(regions) -> None:
    primary, secondary = regions
    metrics = RecordingMetrics()
    client = make_client(regions, max_attempts=1, failure_threshold=2, reset_timeout_s=0.2, metrics=metrics)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))

    assert invoke(client).region == SECONDARY and client.breaker_state(PRIMARY) == "closed"
    assert invoke(client).region == SECONDARY and client.breaker_state(PRIMARY) == "open"
    assert invoke(client).region == SECONDARY
    assert len(primary.requests) == 2  # open: the primary is not called at all

    time.sleep(0.25)
    primary.set_behavior(Behavior())
    probe = invoke(client)
    assert (probe.region, probe.failover) == (PRIMARY, False)
    assert client.breaker_state(PRIMARY) == "closed"
    # The breaker trips while the second call is recorded, before that call fails over.
    assert metrics.names == ["Failover", "PrimaryBreakerOpened", "Failover", "Failover",
                             "PrimaryBreakerHalfOpened", "PrimaryBreakerClosed"]


def test_failed_probe_reopens_for_another_reset_period(regions) -> None:
    primary, _ = regions
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=0.2)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    invoke(client)
    assert client.breaker_state(PRIMARY) == "open"

    time.sleep(0.25)
    assert invoke(client).region == SECONDARY  # the probe failed ...
    assert client.breaker_state(PRIMARY) == "open"  # ... so the breaker opened again
    assert invoke(client).region == SECONDARY
    assert len(primary.requests) == 2  # the trip and one probe


def test_half_open_lets_exactly_one_probe_through(regions) -> None:
    primary, secondary = regions
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=0.2, pool=16,
                         read_timeout=1.0, latency_threshold_ms=1000)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    invoke(client)
    time.sleep(0.25)
    primary.set_behavior(Behavior("slow", delay_s=0.3))  # recovered, but the probe takes a while
    primary.reset_requests()

    start = threading.Barrier(8)
    results = []

    def call() -> None:
        start.wait()
        results.append(invoke(client))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(primary.requests) == 1
    assert sorted(r.region for r in results) == [PRIMARY] + [SECONDARY] * 7
    waiting = [r for r in results if r.region == SECONDARY]
    assert all("probe already in flight" in r.failover_reason for r in waiting)
    assert max(r.latency_ms for r in waiting) < 200  # nobody queued behind the 300 ms probe
    assert client.breaker_state(PRIMARY) == "closed"


def test_many_threads_one_breaker_bound_requests_to_a_dead_primary(regions) -> None:
    """Whatever the concurrency: every caller gets an answer, the breaker trips once, and calls that start after
    it tripped reach the dead primary at most once per reset period (the half-open probe). Calls already in
    flight when it trips (at most one per thread) cannot be recalled, so the calls started before the trip are
    bounded by failure_threshold + threads - 1."""
    primary, _ = regions
    threads_n, threshold, reset = 12, 3, 0.2
    metrics = RecordingMetrics()
    client = make_client(regions, max_attempts=1, failure_threshold=threshold, reset_timeout_s=reset,
                         pool=threads_n + 4, metrics=metrics)
    invoke(client)  # warm both clients so the test measures the breaker, not client creation
    invoke(client)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    primary.reset_requests()
    metrics.events.clear()

    deadline = time.monotonic() + 0.7
    errors: list[BaseException] = []
    served: list[str] = []
    started_at: dict[int, float] = {}
    lock = threading.Lock()
    ids = iter(range(1_000_000))

    def caller() -> None:
        while time.monotonic() < deadline:
            with lock:
                call_id = next(ids)
                started_at[call_id] = time.monotonic()
            try:
                region = client.invoke_endpoint(Body=json.dumps({"call": call_id}).encode()).region
            except BaseException as exc:  # noqa: BLE001 - any error at all fails the test below
                with lock:
                    errors.append(exc)
                return
            with lock:
                served.append(region)

    workers = [threading.Thread(target=caller) for _ in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ended = time.monotonic()

    assert errors == []
    assert served.count(SECONDARY) > 50
    opened = [at for name, at in metrics.events if name == "PrimaryBreakerOpened"]
    assert opened, "the breaker never opened"
    call_starts = [started_at[json.loads(r.body)["call"]] for r in primary.requests]
    before = [t for t in call_starts if t <= opened[0]]
    after = [t for t in call_starts if t > opened[0]]
    assert len(before) <= threshold + threads_n - 1
    assert len(after) <= int((ended - opened[0]) / reset) + 1
    # Every reopening follows exactly one failed probe: the state machine never skipped a step.
    transitions = [n for n in metrics.names if n.startswith("PrimaryBreaker")]
    assert transitions[0] == "PrimaryBreakerOpened"
    assert transitions[1:] == ["PrimaryBreakerHalfOpened", "PrimaryBreakerOpened"] * ((len(transitions) - 1) // 2)


def test_both_regions_failing_raises_one_error_with_both_causes(regions) -> None:
    primary, secondary = regions
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    secondary.refuse_connections()
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=5)

    with pytest.raises(CrossRegionUnavailableError) as raised:
        invoke(client)
    err = raised.value
    assert err.primary_error.response["Error"]["Code"] == "ServiceUnavailable"
    assert type(err.secondary_error).__name__ == "EndpointConnectionError"
    assert f"primary {PRIMARY}: ServiceUnavailable" in str(err) and f"secondary {SECONDARY}" in str(err)

    # Both breakers are now open: fail fast without touching either region.
    requests_before = len(primary.requests)
    started = time.perf_counter()
    with pytest.raises(CrossRegionUnavailableError) as again:
        invoke(client)
    assert (time.perf_counter() - started) < 0.1
    assert isinstance(again.value.primary_error, BreakerOpenError)
    assert isinstance(again.value.secondary_error, BreakerOpenError)
    assert len(primary.requests) == requests_before


def test_bad_parameters_do_not_wedge_a_half_open_breaker(regions) -> None:
    primary, _ = regions
    client = make_client(regions, max_attempts=1, failure_threshold=1, reset_timeout_s=0.2)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    invoke(client)
    time.sleep(0.25)
    primary.set_behavior(Behavior())

    with pytest.raises(ParamValidationError):
        client.invoke_endpoint(Body=b"{}", NoSuchArgument=1)
    assert invoke(client).region == PRIMARY  # the probe slot was released, the next call probed and closed it
    assert client.breaker_state(PRIMARY) == "closed"


def test_default_metrics_are_emf_records_with_the_region(regions, capsys, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "InferencePlatform")  # as the template sets it
    primary, secondary = regions
    factory = default_client_factory(connect_timeout=0.25, read_timeout=READ_TIMEOUT, max_attempts=1,
                                     endpoint_urls={PRIMARY: primary.url, SECONDARY: secondary.url})
    client = CrossRegionClient(PRIMARY, SECONDARY, NAMES, factory, failure_threshold=1)
    primary.set_behavior(Behavior("error", "ServiceUnavailable"))
    capsys.readouterr()
    invoke(client)

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by_name = {r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: r for r in records}
    assert set(by_name) == {"Failover", "PrimaryBreakerOpened"}
    for record in by_name.values():
        assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "InferencePlatform"
        assert record["Region"] == PRIMARY


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
