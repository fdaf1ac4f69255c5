"""Benchmark: what callers see through a primary-region outage (`make bench-failover`).

Two fake SageMaker runtimes on 127.0.0.1 (inference_platform_ops.emulator.fake_sagemaker_runtime) play the
primary and the secondary region; a ``CrossRegionClient`` with real botocore clients (``default_client_factory``)
calls them through a scripted scenario, one phase after the other without resetting anything:

  healthy -> primary 503 -> primary refuses connections -> primary down, secondary slow (the outage goes on and
  the secondary answers above the latency threshold, as under the extra load) -> primary slow (above threshold;
  the secondary is fast again) -> primary recovers

Per phase it prints caller p50/p99, refused calls (CrossRegionUnavailableError), panic-mode calls, calls and
HTTP attempts that reached the primary, failovers and breaker transitions, then checks the targets:
  * once the breaker is open, caller p99 within 5 ms of the secondary's own p99 (measured directly first);
  * a dead primary gets at most failure_threshold calls plus one probe per reset_timeout_s;
  * primary down, secondary slow: no call refused, caller p99 within 5 ms of the secondary's delay plus its p99;
  * after recovery the primary serves again within one reset period.
Exit 0 when every target is met, 1 otherwise. Loopback only; every loop is bounded by time and count.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

from inference_platform.resilience.cross_region import (
    CrossRegionClient,
    CrossRegionUnavailableError,
    InvocationResult,
    default_client_factory,
)
from inference_platform_ops.emulator.fake_sagemaker_runtime import Behavior, FakeSageMakerRuntime, RecordingMetrics

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
NAMES = {PRIMARY: "bench-model-use1", SECONDARY: "bench-model-usw2"}
PAYLOAD = b'{"features": [0.1, 0.2, 0.3]}'
MAX_CALLS_PER_PHASE = 50_000
OPEN_P99_BUDGET_MS = 5.0
DOWN_AND_SLOW = "prim down+sec slow"
OUTAGE_PHASES = ("primary 503", "primary refuses", DOWN_AND_SLOW, "primary slow")


class AttemptCounter:
    """Counts HTTP attempts leaving a botocore client (also those that never reach a dead server)."""

    def __init__(self) -> None:
        self.attempts: list[tuple[int, float]] = []  # (attempt number, time)
        self._lock = threading.Lock()

    def __call__(self, request, **_: object) -> None:
        header = request.headers.get("amz-sdk-request", b"")
        text = header.decode() if isinstance(header, bytes) else str(header)
        attempt = int(text.split("attempt=")[1].split(";")[0]) if "attempt=" in text else 1
        with self._lock:
            self.attempts.append((attempt, time.monotonic()))

    def between(self, start: float, end: float) -> tuple[int, int]:
        """(calls, HTTP attempts) in [start, end): a call is an attempt number 1."""
        with self._lock:
            window = [attempt for attempt, at in self.attempts if start <= at < end]
        return sum(1 for a in window if a == 1), len(window)


@dataclass
class PhaseResult:
    name: str
    started: float
    ended: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    open_latencies_ms: list[float] = field(default_factory=list)  # calls the open breaker sent straight on
    threads: int = 1
    results: list[InvocationResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: int = 0  # CrossRegionUnavailableError: the client gave the caller no answer
    first_primary_at: float | None = None  # when the first call the primary served again was started


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def run_phase(client: CrossRegionClient, name: str, seconds: float, threads: int) -> PhaseResult:
    phase = PhaseResult(name=name, started=time.monotonic(), threads=threads)
    deadline = phase.started + seconds
    lock = threading.Lock()
    budget = [MAX_CALLS_PER_PHASE]

    def caller() -> None:
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            started, started_at = time.perf_counter(), time.monotonic()
            try:
                result = client.invoke_endpoint(Body=PAYLOAD, ContentType="application/json")
            except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure instead of stopping
                with lock:
                    phase.errors.append(f"{type(exc).__name__}: {exc}")
                    phase.refused += isinstance(exc, CrossRegionUnavailableError)
                continue
            latency = (time.perf_counter() - started) * 1000
            with lock:
                phase.latencies_ms.append(latency)
                phase.results.append(result)
                if result.failover and result.failover_reason.startswith("BreakerOpenError"):
                    phase.open_latencies_ms.append(latency)
                if result.region == PRIMARY and phase.first_primary_at is None:
                    phase.first_primary_at = started_at

    workers = [threading.Thread(target=caller, name=f"bench-{name}-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    phase.ended = time.monotonic()
    return phase


def secondary_baseline(factory, calls: int, threads: int) -> list[float]:
    """The secondary's own latency: the same kind of client, called directly, at the same concurrency."""
    direct = factory(SECONDARY)
    latencies: list[float] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(max(1, calls // threads)):
            started = time.perf_counter()
            response = direct.invoke_endpoint(EndpointName=NAMES[SECONDARY], Body=PAYLOAD,
                                              ContentType="application/json")
            response["Body"].read()
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--load-threads", type=int, default=8,
                        help="callers in the 'primary down, secondary slow' phase: the load that slows the secondary")
    parser.add_argument("--failure-threshold", type=int, default=3)
    parser.add_argument("--reset-timeout", type=float, default=0.5, help="breaker reset_timeout_s")
    parser.add_argument("--latency-threshold-ms", type=float, default=100.0)
    parser.add_argument("--slow-ms", type=float, default=150.0,
                        help="delay of the slow region (the secondary, then the primary) in the slow phases")
    parser.add_argument("--max-attempts", type=int, default=3, help="botocore attempts per region")
    args = parser.parse_args(argv)
    # The fake regions accept any signature: never sign with real credentials or look for them on IMDS.
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "bench"))
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    # One warning per failed-over call would bury the figures; the metrics sink counts them instead.
    logging.getLogger("inference_platform.resilience.cross_region").setLevel(logging.ERROR)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    if not 0 < args.phase_seconds <= 60 or not 1 <= args.threads <= 64 or not 1 <= args.load_threads <= 64:
        parser.error("--phase-seconds must be in (0, 60], --threads and --load-threads in 1..64")

    with FakeSageMakerRuntime(NAMES[PRIMARY], PRIMARY) as primary, \
            FakeSageMakerRuntime(NAMES[SECONDARY], SECONDARY) as secondary:
        factory = default_client_factory(connect_timeout=0.2, read_timeout=0.5, max_attempts=args.max_attempts,
                                         max_pool_connections=max(10, args.threads + 2, args.load_threads + 2),
                                         endpoint_urls={PRIMARY: primary.url, SECONDARY: secondary.url})
        counter = AttemptCounter()

        def counted_factory(region: str):
            client = factory(region)
            if region == PRIMARY:
                client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", counter)
            return client

        metrics = RecordingMetrics()
        client = CrossRegionClient(PRIMARY, SECONDARY, NAMES, counted_factory,
                                   failure_threshold=args.failure_threshold, reset_timeout_s=args.reset_timeout,
                                   latency_threshold_ms=args.latency_threshold_ms, metrics=metrics)
        # Warm both regions' clients and connections so phase 1 does not measure client creation.
        for _ in range(20):
            client.invoke_endpoint(Body=PAYLOAD, ContentType="application/json")
        baseline = secondary_baseline(factory, 1000, args.threads)
        # The secondary slowed down, called directly by the phase's callers: what panic mode is compared with.
        secondary.set_behavior(Behavior("slow", delay_s=args.slow_ms / 1000))
        slow_baseline = secondary_baseline(factory, args.load_threads * 12, args.load_threads)
        secondary.set_behavior(Behavior())
        secondary.reset_requests()

        def primary_slow() -> None:
            primary.accept_connections()
            secondary.set_behavior(Behavior())
            primary.set_behavior(Behavior("slow", delay_s=args.slow_ms / 1000))

        scenario = [
            ("healthy", lambda: None),
            ("primary 503", lambda: primary.set_behavior(Behavior("error", "ServiceUnavailable"))),
            ("primary refuses", primary.refuse_connections),
            (DOWN_AND_SLOW, lambda: secondary.set_behavior(Behavior("slow", delay_s=args.slow_ms / 1000))),
            ("primary slow", primary_slow),
            ("primary recovers", lambda: primary.set_behavior(Behavior())),
        ]
        phases = []
        for name, arrange in scenario:
            arrange()
            threads = args.load_threads if name == DOWN_AND_SLOW else args.threads
            phases.append(run_phase(client, name, args.phase_seconds, threads))

    return report(args, baseline, slow_baseline, phases, counter=counter, metrics=metrics)


def report(args, baseline: list[float], slow_baseline: list[float], phases: list[PhaseResult], *,
           counter: AttemptCounter, metrics: RecordingMetrics) -> int:
    base_p50, base_p99 = percentile(baseline, 50), percentile(baseline, 99)
    print(f"bench-failover: failure_threshold={args.failure_threshold} reset_timeout_s={args.reset_timeout} "
          f"latency_threshold_ms={args.latency_threshold_ms:.0f} slow={args.slow_ms:.0f} ms "
          f"max_attempts={args.max_attempts} threads={args.threads} phase={args.phase_seconds:.1f} s")
    print(f"secondary called directly ({args.threads} thread(s)): p50 {base_p50:.2f} ms  p99 {base_p99:.2f} ms  "
          f"({len(baseline)} calls)")
    slow_p99 = percentile(slow_baseline, 99)
    print(f"secondary slowed to {args.slow_ms:.0f} ms, called directly ({args.load_threads} threads): "
          f"p50 {percentile(slow_baseline, 50):.2f} ms  p99 {slow_p99:.2f} ms  ({len(slow_baseline)} calls)")
    header = (f"{'phase':<19}{'calls':>6}{'p50 ms':>9}{'p99 ms':>9}{'open p99':>10}{'refused':>8}{'panic':>7}"
              f"{'prim calls':>11}{'prim HTTP':>10}{'failovers':>10}{'errors':>7}  transitions")
    print(header)
    print("-" * len(header))
    verdicts = []
    for phase in phases:
        calls, attempts = counter.between(phase.started, phase.ended)
        failovers = sum(1 for r in phase.results if r.failover)
        transitions = [t.removeprefix("PrimaryBreaker") for t in metrics.between(phase.started, phase.ended)
                       if t.startswith("PrimaryBreaker")]
        open_p99 = percentile(phase.open_latencies_ms, 99)
        panic = sum(1 for r in phase.results if r.panic)
        p99 = percentile(phase.latencies_ms, 99)
        print(f"{phase.name:<19}{len(phase.latencies_ms) + len(phase.errors):>6}"
              f"{percentile(phase.latencies_ms, 50):>9.2f}{p99:>9.2f}{open_p99:>10.2f}{phase.refused:>8}{panic:>7}"
              f"{calls:>11}{attempts:>10}{failovers:>10}{len(phase.errors):>7}  {' > '.join(transitions) or '-'}")
        duration = phase.ended - phase.started
        if phase.name == DOWN_AND_SLOW:
            expected = slow_p99
            print(f"{'':<19}{args.load_threads} callers: refused {phase.refused} of "
                  f"{len(phase.latencies_ms) + len(phase.errors)} calls, {panic} served in panic mode; caller p99 "
                  f"{p99:.2f} ms, {open_p99:.2f} ms for calls that skipped the primary (secondary delay "
                  f"{args.slow_ms:.0f} ms)")
            verdicts.append((f"{phase.name}: {phase.refused} calls refused (target 0)", phase.refused == 0))
            verdicts.append((f"{phase.name}: open-breaker caller p99 {open_p99:.2f} ms within "
                             f"{OPEN_P99_BUDGET_MS:.0f} ms of the slowed secondary's own p99 {expected:.2f} ms",
                             open_p99 - expected <= OPEN_P99_BUDGET_MS))
        if phase.name in OUTAGE_PHASES:
            # The outage starts with the breaker closed only in the 503 phase. Calls already in flight when it
            # starts (one per extra thread) cannot be recalled.
            was_closed = phase.name == "primary 503"
            to_trip = args.failure_threshold + phase.threads - 1 if was_closed else 0
            probes = math.floor(duration / args.reset_timeout) + 1
            verdicts.append((f"{phase.name}: calls to the primary {calls} <= {to_trip + probes} "
                             f"({to_trip} to trip + one probe per {args.reset_timeout} s over {duration:.1f} s)",
                             calls <= to_trip + probes))
            if phase.name != DOWN_AND_SLOW:  # there the secondary is slow by design: checked above
                all_after_open_p99 = percentile(phase.open_latencies_ms, 99)
                verdicts.append((f"{phase.name}: open-breaker caller p99 {all_after_open_p99:.2f} ms within "
                                 f"{OPEN_P99_BUDGET_MS:.0f} ms of the secondary's p99 {base_p99:.2f} ms",
                                 all_after_open_p99 - base_p99 <= OPEN_P99_BUDGET_MS))
        if phase.name == "primary 503":
            opened = [at for name, at in metrics.events if name == "PrimaryBreakerOpened" and at >= phase.started]
            if opened:
                print(f"{'':<19}breaker opened {1000 * (opened[0] - phase.started):.0f} ms after the outage began")
        if phase.name == "primary recovers":
            # The probe goes to the first call that starts once the reset period has passed (the breaker last
            # opened before this phase began); that call may wait for the one in progress to finish.
            back = (phase.first_primary_at - phase.started) if phase.first_primary_at else float("inf")
            limit = args.reset_timeout + max(phase.latencies_ms, default=0.0) / 1000
            verdicts.append((f"primary recovers: the call the primary served again started after {back:.3f} s "
                             f"(<= reset_timeout_s {args.reset_timeout} s + the longest call {limit:.3f} s)",
                             back <= limit))
        if phase.errors:
            verdicts.append((f"{phase.name}: {len(phase.errors)} caller errors, first: {phase.errors[0]}", False))
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    mean_open = [statistics.fmean(p.open_latencies_ms) for p in phases
                 if p.open_latencies_ms and p.name != DOWN_AND_SLOW]
    if mean_open:
        print(f"mean open-breaker caller latency {statistics.fmean(mean_open):.2f} ms "
              f"vs secondary direct mean {statistics.fmean(baseline):.2f} ms")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
