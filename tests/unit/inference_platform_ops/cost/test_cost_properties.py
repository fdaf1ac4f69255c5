"""Invariants of the trace simulator, for any hourly traffic (Hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference_platform_ops.cost.model import CostConfig, UnitPrices, break_even
from inference_platform_ops.cost.trace_sim import TraceHour, simulate
from tests.helpers import FIXTURES

FIXTURE = FIXTURES / "cost_params.json"
CFG = CostConfig.from_params(json.loads(FIXTURE.read_text()))
PRICES = UnitPrices.for_config(CFG)

hourly_requests = st.lists(st.integers(min_value=0, max_value=400_000), min_size=1, max_size=48)
starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda moment: moment.replace(minute=0, second=0, microsecond=0, tzinfo=UTC)
)


def trace(start: datetime, counts: list[int]) -> list[TraceHour]:
    return [TraceHour(start + timedelta(hours=i), n) for i, n in enumerate(counts)]


@settings(max_examples=40)
@given(start=starts, counts=hourly_requests)
def test_no_plan_beats_the_oracle_and_nothing_beats_always_on_hour_by_hour(start, counts):
    """Whatever the traffic: the oracle is never dearer than right-sizing, nor than serverless where serverless
    can carry the hour, nor than the platform while every hour is within its limits; the schedule
    never holds more instances than always-on; cold starts only happen in hours with serverless requests."""
    sim = simulate(CFG, trace(start, counts), PRICES)
    for hour in sim.hours:
        assert hour.oracle_cost <= hour.right_sized_cost + 1e-12
        if not hour.serverless_throttled:
            assert hour.oracle_cost <= hour.serverless_cost + 1e-12
        assert hour.scheduled_instances <= hour.always_on_instances
        assert hour.platform_cold_starts >= 0
        assert hour.platform_serverless_requests > 0 or hour.platform_cold_starts == 0
    # A plan that cannot carry an hour (above its max capacity or concurrency) may look cheaper than the
    # oracle because it drops requests; the report warns about those hours instead.
    if not any(hour.serverless_throttled or hour.scheduled_unmet for hour in sim.hours):
        assert sim.total("oracle") <= sim.total("platform") + 1e-9


@settings(max_examples=25)
@given(start=starts, counts=hourly_requests)
def test_monthly_figures_do_not_depend_on_how_often_the_pattern_repeats(start, counts):
    """Replaying the same traffic twice in a row gives the same monthly cost (the figure is a rate)."""
    once = simulate(CFG, trace(start, counts), PRICES)
    twice = simulate(CFG, trace(start, counts * 2), PRICES)
    for plan in ("serverless", "oracle"):  # the plans that do not depend on the clock (no schedule)
        assert twice.monthly(plan) == pytest.approx(once.monthly(plan))


@settings(max_examples=30)
@given(memory=st.sampled_from([1024, 2048, 3072, 4096, 5120, 6144]),
       latency=st.integers(min_value=1, max_value=60_000), payload=st.integers(min_value=0, max_value=4096))
def test_at_the_break_even_rate_both_sides_cost_the_same(memory, latency, payload):
    """One instance-hour at the break-even rate costs exactly what serverless charges for that many requests."""
    result = break_even(memory_mb=memory, latency_ms=latency, payload_kb=payload, region="us-east-1",
                        instance_price=0.115)
    assert result.requests_per_hour * result.serverless_cost_per_request == pytest.approx(0.115)
