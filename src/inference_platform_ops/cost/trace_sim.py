"""Replay hourly request counts through the router and the configured scaling, hour by hour.

Two CSV forms are read (see docs/cost-report.md):

* a recorded trace ``hour_start_utc,requests`` (ISO 8601 UTC, consecutive whole hours), and
* a weekly pattern ``weekday,local_hour,requests`` (168 rows, local time in the business timezone),
  laid onto a calendar week so that a daylight-saving change moves it in UTC like real traffic.

Six plans are costed for every hour: always-on at peak, the schedule alone (all traffic on the
provisioned endpoint), provisioned right-sized every hour (perfect autoscaling, at least 1 instance),
serverless alone, the platform as configured (router + schedule), and the hour-by-hour oracle
(cheapest option per hour that meets latency).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from inference_platform.planning.capacity import expected_cold_starts
from inference_platform.shared.constants import WEEKDAY_NAMES
from inference_platform.workflow.routing import InferenceStrategy, RoutingContext, resolve_inference_strategy
from inference_platform_ops.cost.model import (
    HOURS_PER_MONTH,
    CostConfig,
    PipelineUsage,
    UnitPrices,
    batch_job_cost,
    cloudwatch_monthly,
    instances_needed,
    pipeline_cost,
    serverless_concurrency,
    serverless_request_cost,
)

PLANS = ("always_on", "scheduled", "right_sized", "serverless", "platform", "oracle")
DEFAULT_KEEP_WARM_MINUTES = 10.0


@dataclass(frozen=True)
class TraceHour:
    start_utc: datetime
    requests: int


# ------------------------------------------------------------------ loading ----


def _requests(value: str | None, where: str) -> int:
    try:
        number = int(value or "")  # a short CSV row gives None: refused like an empty cell
    except (TypeError, ValueError):
        raise ValueError(f"{where}: requests must be a whole number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{where}: requests must be >= 0, got {number}")
    return number


def _parse_utc(value: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        raise ValueError(f"{where}: hour_start_utc must be ISO 8601 like 2026-11-02T14:00:00Z, got {value!r}") from None
    if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
        raise ValueError(f"{where}: hour_start_utc must be in UTC (end with Z), got {value!r}")
    if (moment.minute, moment.second, moment.microsecond) != (0, 0, 0):
        raise ValueError(f"{where}: hour_start_utc must be a whole hour, got {value!r}")
    return moment.astimezone(UTC)


def _recorded_trace(rows: list[dict], source: str) -> list[TraceHour]:
    hours: list[TraceHour] = []
    for line, row in enumerate(rows, start=2):
        where = f"{source}:{line}"
        start = _parse_utc(row.get("hour_start_utc") or "", where)
        if hours and start != hours[-1].start_utc + timedelta(hours=1):
            raise ValueError(f"{where}: hours must be consecutive, {start:%Y-%m-%dT%H:%MZ} does not follow "
                             f"{hours[-1].start_utc:%Y-%m-%dT%H:%MZ}")
        hours.append(TraceHour(start, _requests(row.get("requests"), where)))
    return hours


def _weekly_pattern(rows: list[dict], source: str) -> dict[tuple[int, int], int]:
    pattern: dict[tuple[int, int], int] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{source}:{line}"
        day = (row.get("weekday") or "").strip().upper()[:3]
        if day not in WEEKDAY_NAMES:
            raise ValueError(f"{where}: weekday must be one of {', '.join(WEEKDAY_NAMES)}, got {row.get('weekday')!r}")
        hour_text = (row.get("local_hour") or "").strip()
        if not hour_text.isdigit() or not 0 <= int(hour_text) <= 23:
            raise ValueError(f"{where}: local_hour must be 0-23, got {row.get('local_hour')!r}")
        key = (WEEKDAY_NAMES.index(day), int(hour_text))
        if key in pattern:
            raise ValueError(f"{where}: {day} {int(hour_text):02d}:00 appears twice")
        pattern[key] = _requests(row.get("requests"), where)
    missing = [f"{WEEKDAY_NAMES[d]} {h:02d}:00" for d in range(7) for h in range(24) if (d, h) not in pattern]
    if missing:
        raise ValueError(f"{source}: a weekly pattern needs all 168 hours; missing {', '.join(missing[:5])}"
                         + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    return pattern


def place_week(pattern: dict[tuple[int, int], int], timezone: str, week_start: date) -> list[TraceHour]:
    """Lay a local weekly pattern onto the week starting local Monday 00:00 of ``week_start``.

    The week is walked in UTC hours, so it has 167 or 169 hours when the clocks change; a repeated
    local hour (autumn) gets the pattern's count twice, a skipped one (spring) none.
    """
    if week_start.weekday() != 0:
        day = WEEKDAY_NAMES[week_start.weekday()]
        raise ValueError(f"week_start must be a Monday, got {week_start.isoformat()} ({day})")
    zone = ZoneInfo(timezone)
    start = datetime(week_start.year, week_start.month, week_start.day, tzinfo=zone).astimezone(UTC)
    following = week_start + timedelta(days=7)
    end = datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(UTC)
    hours = []
    moment = start
    while moment < end:
        local = moment.astimezone(zone)
        hours.append(TraceHour(moment, pattern[(local.weekday(), local.hour)]))
        moment += timedelta(hours=1)
    return hours


def load_trace(path: Path, timezone: str, week_start: date) -> list[TraceHour]:
    """Read either CSV form; ``timezone``/``week_start`` place a weekly pattern (ignored for a recorded trace)."""
    source = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"{source}: cannot read traffic profile ({exc.strerror})") from None
    reader = csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    columns = set(reader.fieldnames or ())
    rows = list(reader)
    if {"hour_start_utc", "requests"} <= columns:
        hours = _recorded_trace(rows, source)
    elif {"weekday", "local_hour", "requests"} <= columns:
        hours = place_week(_weekly_pattern(rows, source), timezone, week_start)
    else:
        raise ValueError(f"{source}: expected columns hour_start_utc,requests or weekday,local_hour,requests, "
                         f"got {','.join(reader.fieldnames or ()) or 'nothing'}")
    if not hours:
        raise ValueError(f"{source}: no hours in the traffic profile")
    return hours


# --------------------------------------------------------------- simulation ----


@dataclass(frozen=True)
class HourResult:
    start_utc: datetime
    requests: int
    business_hours: bool
    strategy: str  # where resolve_inference_strategy sends this hour's requests on the platform
    always_on_instances: int
    always_on_cost: float
    scheduled_instances: int
    scheduled_cost: float
    right_sized_instances: int
    right_sized_cost: float
    serverless_cost: float
    serverless_cold_starts: float
    platform_instances: int
    platform_serverless_requests: int
    platform_cost: float
    platform_cold_starts: float
    oracle_choice: str  # "none", "provisioned" or "serverless"
    oracle_instances: int
    oracle_cost: float
    oracle_cold_starts: float
    scheduled_unmet: bool  # the schedule's max capacity is below what target tracking wants
    serverless_throttled: bool  # concurrency above ServerlessMaxConcurrency

    def cost(self, plan: str) -> float:
        return getattr(self, f"{plan}_cost")


@dataclass(frozen=True)
class Simulation:
    config: CostConfig
    hours: tuple[HourResult, ...]
    peak_instances: int
    pipeline_monthly: dict
    batch_monthly: float
    batch_jobs_monthly: float
    policies: dict = field(default_factory=dict)  # name -> policies.PolicyResult

    @property
    def months(self) -> float:
        """How many months the trace covers (730 h = 1)."""
        return len(self.hours) / HOURS_PER_MONTH

    def total(self, plan: str) -> float:
        return sum(hour.cost(plan) for hour in self.hours)

    def monthly(self, plan: str) -> float:
        return self.total(plan) / self.months

    @property
    def requests(self) -> int:
        return sum(hour.requests for hour in self.hours)

    def cold_starts(self, plan: str = "platform") -> float:
        """Expected serverless cold starts of ``plan`` over the trace (serverless, platform or oracle)."""
        return sum(getattr(hour, f"{plan}_cold_starts") for hour in self.hours)

    def saving_vs_always_on(self, plan: str) -> float:
        always_on = self.total("always_on")
        return 1 - self.total(plan) / always_on if always_on else 0.0

    def gap_to_oracle(self, plan: str) -> float:
        """Extra cost of ``plan`` over the oracle, as a share of the oracle (0 = as cheap as possible)."""
        oracle = self.total("oracle")
        extra = self.total(plan) - oracle
        return extra / oracle if oracle else (0.0 if extra == 0 else float("inf"))


def _route(cfg: CostConfig, hour: TraceHour, business: bool) -> InferenceStrategy:
    # Each request is one single-file execution: the router decides per request, and every request
    # of an hour sees the same clock, so the hour's decision is the decision for all of them.
    local = hour.start_utc.astimezone(ZoneInfo(cfg.window.timezone))
    return resolve_inference_strategy(
        RoutingContext(
            file_count=1,
            batch_threshold=cfg.batch_threshold,
            requested_mode="auto",
            current_hour=local.hour,
            is_business_hours=business,
            provisioned_enabled=cfg.provisioned_enabled,
            serverless_enabled=cfg.serverless_enabled,
        )
    )


class _ColdStarts:
    """Expected serverless cold starts hour by hour, remembering the warm containers between hours
    (the model is :func:`inference_platform.planning.capacity.expected_cold_starts`)."""

    def __init__(self, keep_warm_minutes: float):
        if keep_warm_minutes <= 0:
            raise ValueError(f"keep_warm_minutes must be > 0, got {keep_warm_minutes}")
        self.keep_warm_s = keep_warm_minutes * 60
        self.warm = 0

    def hour(self, requests: int, concurrency: int) -> float:
        cold = expected_cold_starts(requests, concurrency, self.warm, self.keep_warm_s)
        self.warm = concurrency if requests else 0
        return cold


@dataclass(frozen=True)
class _Choice:
    option: str
    instances: int
    cost: float
    serverless_requests: int


def _platform_hour(cfg: CostConfig, hour: TraceHour, strategy: InferenceStrategy, per_request: float,
                   *, prices: UnitPrices, usage: PipelineUsage) -> _Choice:
    """The configured endpoint at its deployed bounds, plus whatever the router sent elsewhere."""
    cost, instances, on_serverless = 0.0, 0, 0
    if cfg.provisioned_enabled:  # the endpoint runs (at least at its minimum) whatever the router does
        routed = hour.requests if strategy is InferenceStrategy.PROVISIONED_ENDPOINT else 0
        instances = cfg.configured_bounds(hour.start_utc).clamp(
            instances_needed(routed, cfg.instance_requests_per_hour)
        )
        cost += instances * prices.instance_hour
    if strategy is InferenceStrategy.SERVERLESS_INFERENCE:
        on_serverless = hour.requests
        cost += on_serverless * per_request
    elif strategy is InferenceStrategy.BATCH_TRANSFORM:
        cost += batch_job_cost(hour.requests, cfg, prices, usage)
    return _Choice(strategy.value, instances, cost, on_serverless)


def _oracle_hour(requests: int, needed: int, serverless_ok: bool, per_request: float, instance_hour: float) -> _Choice:
    """Cheapest real-time option for this hour alone (batch cannot answer a request in real time)."""
    if requests == 0:
        return _Choice("none", 0, 0.0, 0)
    serverless = requests * per_request
    provisioned = needed * instance_hour
    if serverless_ok and serverless <= provisioned:
        return _Choice("serverless", 0, serverless, requests)
    return _Choice("provisioned", needed, provisioned, 0)


def simulate(
    cfg: CostConfig,
    trace: Iterable[TraceHour],
    prices: UnitPrices,
    usage: PipelineUsage | None = None,
    keep_warm_minutes: float = DEFAULT_KEEP_WARM_MINUTES,
) -> Simulation:
    usage = usage or PipelineUsage()
    trace = list(trace)
    if not trace:
        raise ValueError("the trace has no hours")
    per_request = serverless_request_cost(cfg.latency_s, cfg.payload_kb, prices.serverless_second, prices.serverless_gb)
    # "Always on at peak": the schedule's busiest hour held all week (same traffic served, no scaling).
    peak = max(
        cfg.instance_count,
        *(cfg.scheduled_bounds(h.start_utc).clamp(instances_needed(h.requests, cfg.instance_requests_per_hour))
          for h in trace),
    )
    cold = {plan: _ColdStarts(keep_warm_minutes) for plan in ("serverless", "platform", "oracle")}

    def cold_starts(plan: str, requests: int) -> float:
        return cold[plan].hour(requests, serverless_concurrency(requests, cfg.latency_s))

    results = []
    for hour in trace:
        business = cfg.window.contains(hour.start_utc)
        needed = instances_needed(hour.requests, cfg.instance_requests_per_hour)
        serverless_ok = serverless_concurrency(hour.requests, cfg.latency_s) <= cfg.serverless_max_concurrency
        schedule = cfg.scheduled_bounds(hour.start_utc)
        platform = _platform_hour(
            cfg, hour, _route(cfg, hour, business), per_request, prices=prices, usage=usage
        )
        oracle = _oracle_hour(hour.requests, needed, serverless_ok, per_request, prices.instance_hour)
        results.append(
            HourResult(
                start_utc=hour.start_utc,
                requests=hour.requests,
                business_hours=business,
                strategy=platform.option,
                always_on_instances=peak,
                always_on_cost=peak * prices.instance_hour,
                scheduled_instances=schedule.clamp(needed),
                scheduled_cost=schedule.clamp(needed) * prices.instance_hour,
                right_sized_instances=max(1, needed),
                right_sized_cost=max(1, needed) * prices.instance_hour,
                serverless_cost=hour.requests * per_request,
                serverless_cold_starts=cold_starts("serverless", hour.requests),
                platform_instances=platform.instances,
                platform_serverless_requests=platform.serverless_requests,
                platform_cost=platform.cost,
                platform_cold_starts=cold_starts("platform", platform.serverless_requests),
                oracle_choice=oracle.option,
                oracle_instances=oracle.instances,
                oracle_cost=oracle.cost,
                oracle_cold_starts=cold_starts("oracle", oracle.serverless_requests),
                scheduled_unmet=needed > schedule.maximum,
                serverless_throttled=not serverless_ok,
            )
        )
    months = len(results) / HOURS_PER_MONTH
    monthly_requests = sum(h.requests for h in results) / months
    # The batch path: the same requests arriving as drops of BatchThreshold files, one transform job each.
    batch_jobs = float(math.ceil(monthly_requests / cfg.batch_threshold))
    batch_monthly = 0.0
    if batch_jobs:
        batch_monthly = batch_jobs * batch_job_cost(monthly_requests / batch_jobs, cfg, prices, usage)
    pipeline = pipeline_cost(monthly_requests, 0, cfg, prices, usage)
    pipeline["cloudwatch"] = cloudwatch_monthly(cfg, prices, usage, billing_alarms=True, takes_traffic=True)
    from inference_platform_ops.cost.policies import compute_policies  # policies builds on this module's rows

    return Simulation(
        config=cfg,
        hours=tuple(results),
        peak_instances=peak,
        pipeline_monthly=pipeline,
        batch_monthly=batch_monthly,
        batch_jobs_monthly=batch_jobs,
        policies=compute_policies(cfg, prices, keep_warm_minutes, usage, results),
    )


def standing_monthly_cost(cfg: CostConfig, prices: UnitPrices, hours: Iterable[datetime]) -> float:
    """What the endpoints of a region cost per month with no traffic at all (a standby region).

    A scale-to-zero endpoint woken only by traffic (``ScaleToZeroSchedule: on-demand``) stands at zero
    instances; one on the business-hours schedule is woken for business hours whether traffic comes or not.
    """
    sim = simulate(cfg, [TraceHour(hour, 0) for hour in hours], prices)
    if cfg.provisioned_enabled and cfg.scale_to_zero_enabled:
        if cfg.scale_to_zero_schedule == "on-demand":
            return sim.policies["serverless_only"].total / sim.months  # nothing but provisioned concurrency
        return sim.policies["seed_scale_to_zero"].total / sim.months
    return sim.policies["seed_schedule"].total / sim.months
