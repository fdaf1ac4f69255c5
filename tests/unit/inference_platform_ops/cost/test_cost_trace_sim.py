"""Trace replay against figures computed by hand.

Fixture config (tests/fixtures/cost_params.json): us-east-1, ml.m5.large $0.115/h, target 20
invocations/minute = 1,200 requests/hour per instance, business hours 09-18 Mon-Fri New York with
1-4 instances, off hours 1-1, serverless 2048 MB max concurrency 10, 150 ms, 64 KB.
One serverless request = $0.0000069765625 (see test_cost_model). A month is 730 h.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from inference_platform_ops.cost.model import CostConfig, UnitPrices
from inference_platform_ops.cost.summary import render_table, summarise
from inference_platform_ops.cost.trace_sim import TraceHour, load_trace, place_week, simulate
from inference_platform_ops.paths import ROOT
from tests.helpers import FIXTURES

FIXTURE = FIXTURES / "cost_params.json"
PER_REQUEST = 0.0000069765625
HOLIDAY_FREE_MONDAY = date(2026, 11, 16)  # no clock change, no US federal holiday that week
NY = "America/New_York"


@pytest.fixture(scope="module")
def cfg() -> CostConfig:
    return CostConfig.from_params(json.loads(FIXTURE.read_text()))


@pytest.fixture(scope="module")
def prices(cfg) -> UnitPrices:
    return UnitPrices.for_config(cfg)


def weekly(value) -> dict[tuple[int, int], int]:
    """A weekly pattern from ``value(weekday, local_hour)``."""
    return {(day, hour): value(day, hour) for day in range(7) for hour in range(24)}


def business(day: int, hour: int) -> bool:
    return day < 5 and 9 <= hour < 18


def test_steady_2000_requests_an_hour(cfg, prices):
    trace = place_week(weekly(lambda d, h: 2000), NY, HOLIDAY_FREE_MONDAY)
    sim = simulate(cfg, trace, prices)
    assert len(sim.hours) == 168 and sum(h.business_hours for h in sim.hours) == 45
    # 2,000 requests need ceil(2000/1200) = 2 instances every hour; the off-hours max of 1 caps the schedule.
    assert sim.peak_instances == 2
    assert sim.total("always_on") == pytest.approx(168 * 2 * 0.115)  # 38.64
    assert sim.monthly("always_on") == pytest.approx(167.90)
    assert sim.total("scheduled") == pytest.approx((45 * 2 + 123 * 1) * 0.115)  # 24.495
    assert sim.monthly("scheduled") == pytest.approx(24.495 * 730 / 168)  # 106.44
    assert sim.total("right_sized") == pytest.approx(38.64)
    assert sim.monthly("serverless") == pytest.approx(2000 * PER_REQUEST * 730)  # 10.19
    # Platform: business hours on 2 instances; off hours 1 idle instance + serverless for the traffic.
    platform_week = 45 * 0.23 + 123 * (0.115 + 2000 * PER_REQUEST)
    assert sim.total("platform") == pytest.approx(platform_week)  # 26.21
    assert sim.total("oracle") == pytest.approx(168 * 2000 * PER_REQUEST)  # serverless every hour
    assert sim.saving_vs_always_on("platform") == pytest.approx(1 - platform_week / 38.64)  # 32.2 %
    assert sim.gap_to_oracle("platform") == pytest.approx(platform_week / (168 * 2000 * PER_REQUEST) - 1)
    assert sum(h.scheduled_unmet for h in sim.hours) == 123
    # Serverless starts cold at Monday 00:00 and after each of the 5 business days; busy hours stay warm.
    assert sim.cold_starts("platform") == pytest.approx(6)
    assert sim.cold_starts("serverless") == pytest.approx(1)


def test_zero_traffic_costs_only_the_idle_minimum(cfg, prices):
    sim = simulate(cfg, place_week(weekly(lambda d, h: 0), NY, HOLIDAY_FREE_MONDAY), prices)
    assert sim.peak_instances == 1
    for plan in ("always_on", "scheduled", "right_sized", "platform"):
        assert sim.monthly(plan) == pytest.approx(0.115 * 730)  # a classic variant cannot scale to 0
    assert sim.monthly("serverless") == 0 and sim.monthly("oracle") == 0
    assert sim.gap_to_oracle("platform") == math.inf and sim.saving_vs_always_on("platform") == 0
    assert sim.cold_starts("platform") == 0 and sim.batch_monthly == 0 and sim.batch_jobs_monthly == 0
    assert sim.pipeline_monthly["step_functions"] == 0
    assert sim.pipeline_monthly["cloudwatch"] == pytest.approx(2.30)
    summary = summarise(sim, prices, "zero.csv")
    assert summary["gap_to_oracle"]["platform"] is None  # valid JSON for CI, "n/a" in the table
    assert json.loads(json.dumps(summary, allow_nan=False))["gap_to_oracle"]["oracle"] == 0
    assert "n/a" in render_table(summary)


def test_holiday_free_week_of_office_traffic(cfg, prices):
    trace = place_week(weekly(lambda d, h: 2400 if business(d, h) else 0), NY, HOLIDAY_FREE_MONDAY)
    sim = simulate(cfg, trace, prices)
    # Every weekday is a business day (no holiday calendar): 45 hours x 2 instances, 123 x 1.
    assert [h.strategy for h in sim.hours].count("provisioned_endpoint") == 45
    assert sim.total("always_on") == pytest.approx(38.64)
    assert sim.total("scheduled") == pytest.approx(24.495)
    assert sim.total("platform") == pytest.approx(24.495)  # nothing arrives off hours
    assert sim.saving_vs_always_on("platform") == pytest.approx(1 - 24.495 / 38.64)  # 36.6 %
    assert sim.total("oracle") == pytest.approx(45 * 2400 * PER_REQUEST)  # 0.7535
    assert sim.monthly("platform") == pytest.approx(106.4366, abs=1e-4)
    assert sim.cold_starts("platform") == 0
    assert sim.cold_starts("oracle") == pytest.approx(5)  # serverless wakes up once each morning
    assert {h.oracle_choice for h in sim.hours} == {"none", "serverless"}


def test_autumn_dst_week_has_169_hours_and_repeats_the_doubled_local_hour():
    # New York falls back on Sunday 2026-11-01 at 02:00: local 01:00 happens twice.
    pattern = weekly(lambda d, h: 7 if (d, h) == (6, 1) else 1)
    trace = place_week(pattern, NY, date(2026, 10, 26))
    assert len(trace) == 169
    assert trace[0].start_utc == datetime(2026, 10, 26, 4, tzinfo=UTC)  # local midnight, EDT
    assert trace[-1].start_utc == datetime(2026, 11, 2, 4, tzinfo=UTC)  # local 23:00 Sunday, EST
    doubled = [h.start_utc.hour for h in trace if h.requests == 7]
    assert doubled == [5, 6]
    assert sum(h.requests for h in trace) == 167 + 2 * 7


def test_spring_dst_week_has_167_hours():
    # New York springs forward on Sunday 2026-03-08: local 02:00 does not exist.
    trace = place_week(weekly(lambda d, h: 1), NY, date(2026, 3, 2))
    assert len(trace) == 167


def test_schedule_and_router_follow_local_hours_across_the_clock_change(cfg, prices):
    # A recorded UTC trace from Thursday 2026-10-29: Thu/Fri are EDT (business 13-21 UTC),
    # Mon-Wed 2-4 November are EST (business 14-22 UTC).
    start = datetime(2026, 10, 29, tzinfo=UTC)
    trace = [TraceHour(start + timedelta(hours=i), 2000) for i in range(168)]
    sim = simulate(cfg, trace, prices)
    business_hours = {(h.start_utc.day, h.start_utc.hour) for h in sim.hours if h.business_hours}
    expected = {(day, hour) for day in (29, 30) for hour in range(13, 22)}
    expected |= {(day, hour) for day in (2, 3, 4) for hour in range(14, 23)}
    assert business_hours == expected
    by_start = {h.start_utc: h for h in sim.hours}
    friday_13 = by_start[datetime(2026, 10, 30, 13, tzinfo=UTC)]
    monday_13 = by_start[datetime(2026, 11, 2, 13, tzinfo=UTC)]
    monday_22 = by_start[datetime(2026, 11, 2, 22, tzinfo=UTC)]
    assert (friday_13.strategy, friday_13.scheduled_instances) == ("provisioned_endpoint", 2)
    assert (monday_13.strategy, monday_13.scheduled_instances) == ("serverless_inference", 1)
    assert (monday_22.strategy, monday_22.scheduled_instances) == ("provisioned_endpoint", 2)


def test_sparse_hours_start_cold_almost_every_time(cfg, prices):
    # Saturday: off hours. 5 requests/hour with a 10-minute keep-warm: P(gap > 10 min) = exp(-5/6).
    start = datetime(2026, 11, 21, 12, tzinfo=UTC)
    trace = [TraceHour(start + timedelta(hours=i), n) for i, n in enumerate((0, 5, 5))]
    sim = simulate(cfg, trace, prices, keep_warm_minutes=10)
    reclaimed = math.exp(-5 / 6)
    assert [h.platform_cold_starts for h in sim.hours] == pytest.approx([0, 1 + 4 * reclaimed, 5 * reclaimed])
    with pytest.raises(ValueError, match="keep_warm_minutes"):
        simulate(cfg, trace, prices, keep_warm_minutes=0)


def test_disabled_paths_are_routed_like_the_router_does(cfg, prices):
    trace = [TraceHour(datetime(2026, 11, 16, 15, tzinfo=UTC), 2000)]  # Monday 10:00 in New York
    serverless_only = simulate(replace(cfg, provisioned_enabled=False), trace, prices).hours[0]
    assert (serverless_only.strategy, serverless_only.platform_instances) == ("serverless_inference", 0)
    assert serverless_only.platform_cost == pytest.approx(2000 * PER_REQUEST)
    neither = simulate(replace(cfg, provisioned_enabled=False, serverless_enabled=False), trace, prices).hours[0]
    # One transform job: (180 s start-up + 2,000 x 0.15 s) on one ml.m5.large.
    assert neither.strategy == "batch_transform"
    assert neither.platform_cost == pytest.approx(480 / 3600 * 0.115)


def test_limits_show_up_as_warnings(cfg, prices):
    # 300,000 requests/hour at 150 ms keep 12.5 containers busy: above ServerlessMaxConcurrency=10,
    # and 250 instances: above the business-hours max of 4.
    trace = [TraceHour(datetime(2026, 11, 16, 15, tzinfo=UTC), 300_000)]
    sim = simulate(cfg, trace, prices)
    hour = sim.hours[0]
    assert hour.serverless_throttled and hour.scheduled_unmet
    assert (hour.oracle_choice, hour.oracle_instances) == ("provisioned", 250)
    warnings = summarise(sim, prices, "burst.csv")["warnings"]
    assert "1 hour(s) need more than ServerlessMaxConcurrency=10" in warnings
    assert "1 hour(s) need more instances than the schedule's max capacity allows" in warnings


def test_batch_path_runs_one_job_per_threshold_of_files(cfg, prices):
    sim = simulate(cfg, place_week(weekly(lambda d, h: 2000), NY, HOLIDAY_FREE_MONDAY), prices)
    monthly_requests = 2000 * 730
    assert sim.batch_jobs_monthly == 1460  # 1,460,000 files / 1,000 per job
    # 1,460 jobs x 180 s start-up + 1,460,000 x 0.15 s of work, at $0.115 per instance-hour
    assert sim.batch_monthly == pytest.approx((1460 * 180 + monthly_requests * 0.15) / 3600 * 0.115)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hour_start_utc,requests\n2026-11-16T00:00:00Z,1\n2026-11-16T02:00:00Z,1\n", ":3: hours must be consecutive"),
        ("hour_start_utc,requests\n2026-11-16T00:00:00Z,-4\n", ":2: requests must be >= 0"),
        ("hour_start_utc,requests\n2026-11-16T00:00:00Z,many\n", ":2: requests must be a whole number"),
        ("hour_start_utc,requests\n2026-11-16T00:00:00+01:00,1\n", ":2: hour_start_utc must be in UTC"),
        ("hour_start_utc,requests\n2026-11-16T00:30:00Z,1\n", ":2: hour_start_utc must be a whole hour"),
        ("hour_start_utc,requests\nyesterday,1\n", ":2: hour_start_utc must be ISO 8601"),
        ("hour_start_utc,requests\n", "no hours"),
        ("when,count\nnow,1\n", "expected columns hour_start_utc,requests or weekday,local_hour,requests"),
        ("weekday,local_hour,requests\nMon,0,1\n", "needs all 168 hours; missing MON 01:00"),
        ("weekday,local_hour,requests\nMon,0,1\nMon,0,2\n", ":3: MON 00:00 appears twice"),
        ("weekday,local_hour,requests\nMonday,24,1\n", ":2: local_hour must be 0-23"),
        ("weekday,local_hour,requests\nFunday,1,1\n", ":2: weekday must be one of"),
    ],
)
def test_bad_traffic_files_name_the_line_and_the_problem(tmp_path, text, message):
    path = tmp_path / "trace.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_trace(path, NY, HOLIDAY_FREE_MONDAY)


def test_recorded_trace_and_missing_file(tmp_path):
    path = tmp_path / "recorded.csv"
    path.write_text("# from CloudWatch\nhour_start_utc,requests\n2026-11-16T00:00:00Z,3\n2026-11-16T01:00Z,4\n")
    assert [(h.start_utc.hour, h.requests) for h in load_trace(path, NY, HOLIDAY_FREE_MONDAY)] == [(0, 3), (1, 4)]
    with pytest.raises(ValueError, match="cannot read traffic profile"):
        load_trace(tmp_path / "absent.csv", NY, HOLIDAY_FREE_MONDAY)
    with pytest.raises(ValueError, match="must be a Monday"):
        place_week(weekly(lambda d, h: 0), NY, date(2026, 11, 17))


def test_shipped_reference_profiles_have_the_shape_their_names_promise():
    profiles = {
        name: load_trace(ROOT / "data" / "traffic" / f"{name}.csv", NY, HOLIDAY_FREE_MONDAY)
        for name in ("business-hours", "sporadic", "steady")
    }
    assert {name: len(hours) for name, hours in profiles.items()} == dict.fromkeys(profiles, 168)
    assert {h.requests for h in profiles["steady"]} == {2000}
    assert sum(h.requests == 0 for h in profiles["sporadic"]) > 140
    office = profiles["business-hours"]
    zone = ZoneInfo(NY)
    local = [(h.start_utc.astimezone(zone), h.requests) for h in office]
    in_hours = sum(n for moment, n in local if business(moment.weekday(), moment.hour))
    assert in_hours > 0.9 * sum(n for _, n in local)
    busiest = max(local, key=lambda item: item[1])[0]
    assert business(busiest.weekday(), busiest.hour)
