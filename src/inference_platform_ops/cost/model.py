"""What an environment's inference will cost: configuration, unit prices and the pure cost formulas.

Everything here is arithmetic on numbers read once from ``templates/params/<env>.json`` and
``data/prices.json``; the hour-by-hour replay lives in :mod:`inference_platform_ops.cost.trace_sim`.
The model (what is counted, what is assumed) is written down in docs/cost-report.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from inference_platform.shared import pricing, settings
from inference_platform.shared.constants import WEEKDAY_NAMES
from inference_platform.shared.settings import ConfigError
from inference_platform.workflow.routing import is_business_hours

HOURS_PER_MONTH = 730.0  # AWS's own convention for monthly estimates (8,760 h / 12)
SECONDS_PER_HOUR = 3600
KB_PER_GB = 1024 * 1024
SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_TIMEOUT_MS = 60_000  # a serverless container must answer within 60 s
ROUTING_POLICIES = ("business-hours", "cost")
SCALE_TO_ZERO_SCHEDULES = ("business-hours", "on-demand")

_CRON = re.compile(r"^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$")


# ---------------------------------------------------------------- schedule ----


def _cron_day(token: str, where: str) -> int:
    token = token.upper()
    if token in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(token)
    if token.isdigit() and 1 <= int(token) <= 7:  # AWS cron numbers days 1=SUN .. 7=SAT
        return (int(token) - 2) % 7
    raise ValueError(f"{where}: unknown day-of-week {token!r} (use MON..SUN or 1..7)")


def parse_schedule_cron(expression: str, where: str) -> tuple[int, tuple[int, ...]]:
    """``cron(0 9 ? * MON-FRI *)`` -> ``(9, (0, 1, 2, 3, 4))``: the local hour it fires and its weekdays.

    Only whole-hour schedules on every day of every month are modelled (the cost report works in
    hours); anything else is a ValueError naming ``where``.
    """
    match = _CRON.match(expression.strip())
    if not match:
        raise ValueError(f"{where}: expected cron(M H ? * DAYS *), got {expression!r}")
    minute, hour, day_of_month, month, day_of_week, _year = match.groups()
    if minute != "0" or not hour.isdigit() or not 0 <= int(hour) <= 23:
        raise ValueError(f"{where}: the cost model needs a whole hour (minute 0, hour 0-23), got {expression!r}")
    if day_of_month not in ("?", "*") or month != "*":
        raise ValueError(f"{where}: day-of-month/month restrictions are not modelled, got {expression!r}")
    if day_of_week in ("?", "*"):
        return int(hour), tuple(range(7))
    days: set[int] = set()
    for part in day_of_week.split(","):
        if "-" in part:
            first, last = (_cron_day(token, where) for token in part.split("-", 1))
            span = (last - first) % 7
            days.update((first + offset) % 7 for offset in range(span + 1))
        else:
            days.add(_cron_day(part, where))
    return int(hour), tuple(sorted(days))


@dataclass(frozen=True)
class BusinessWindow:
    """Local business hours: [start_hour, end_hour) on ``weekdays`` (Monday=0) in ``timezone``."""

    timezone: str
    start_hour: int
    end_hour: int
    weekdays: tuple[int, ...]

    def contains(self, moment: datetime) -> bool:
        return is_business_hours(moment, self.timezone, self.weekdays, self.start_hour, self.end_hour)

    def describe(self) -> str:
        days = ",".join(WEEKDAY_NAMES[day] for day in self.weekdays)
        return f"{self.start_hour:02d}:00-{self.end_hour:02d}:00 {days} {self.timezone}"


@dataclass(frozen=True)
class CapacityBounds:
    minimum: int
    maximum: int

    def clamp(self, needed: int) -> int:
        return max(self.minimum, min(self.maximum, needed))


# ------------------------------------------------------------ configuration ----


class _Reader:
    """Reads typed values out of a params file, collecting every problem instead of stopping at the first."""

    def __init__(self, config: dict, source: str):
        self.source = source
        self.errors: list[str] = []
        parameters = config.get("Parameters")
        profile = config.get("CostProfile")
        if not isinstance(parameters, dict):
            self.errors.append(f"{source}: 'Parameters' must be an object")
            parameters = {}
        if not isinstance(profile, dict):
            self.errors.append(f"{source}: 'CostProfile' must be an object")
            profile = {}
        self.parameters: dict = parameters
        self.profile: dict = profile

    def _get(self, section: str, name: str, default):
        table = self.parameters if section == "Parameters" else self.profile
        if name in table:
            return table[name]
        if default is None:
            self.errors.append(f"{self.source}: {section}.{name} is missing")
        return default

    def text(self, name: str, default: str | None = None, section: str = "Parameters") -> str:
        value = self._get(section, name, default)
        if value is None:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.errors.append(f"{self.source}: {section}.{name} must be a non-empty string, got {value!r}")
            return ""
        return value.strip()

    def flag(self, name: str, default: str = "false") -> bool:
        value = self._get("Parameters", name, default)
        if value not in ("true", "false"):
            self.errors.append(f"{self.source}: Parameters.{name} must be \"true\" or \"false\", got {value!r}")
            return False
        return value == "true"

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self._get("Parameters", name, default)
        if value not in allowed:
            self.errors.append(f"{self.source}: Parameters.{name} must be one of {', '.join(allowed)}, got {value!r}")
            return default
        return value

    def number(
        self,
        name: str,
        *,
        low: float,
        high: float,
        default: object = None,
        section: str = "Parameters",
        convert: Callable[[str], float] = int,
    ) -> float:
        value = self._get(section, name, default)
        if value is None:
            return low
        try:
            if isinstance(value, bool):
                raise ValueError
            number = convert(str(value))
        except ValueError:
            self.errors.append(f"{self.source}: {section}.{name} must be a number, got {value!r}")
            return low
        if not low <= number <= high:
            self.errors.append(f"{self.source}: {section}.{name} must be in {low:g}-{high:g}, got {value!r}")
            return low
        return number


@dataclass(frozen=True)
class CostConfig:
    """The settings of one environment that decide its inference bill."""

    environment: str
    region: str
    provisioned_enabled: bool
    serverless_enabled: bool
    scheduled_scaling_enabled: bool
    instance_type: str
    instance_count: int
    business_capacity: CapacityBounds
    off_hours_capacity: CapacityBounds
    window: BusinessWindow
    invocations_per_instance_per_minute: float
    serverless_memory_mb: int
    serverless_max_concurrency: int
    serverless_provisioned_concurrency: int
    batch_threshold: int
    transform_instance_type: str
    transform_instance_count: int
    traffic_profile: str
    model_latency_ms: float
    payload_kb: float
    scale_to_zero_enabled: bool = False
    wake_lead_minutes: int = 15
    scale_to_zero_schedule: str = "business-hours"
    routing_policy: str = "business-hours"
    cold_start_budget_per_month: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def latency_s(self) -> float:
        return self.model_latency_ms / 1000.0

    @property
    def instance_requests_per_hour(self) -> float:
        """Requests one instance takes per hour at the target-tracking target (the scale-out point)."""
        return self.invocations_per_instance_per_minute * 60

    def scheduled_bounds(self, hour_start: datetime) -> CapacityBounds:
        """Min/max instances the scheduled actions set for the hour starting at ``hour_start``."""
        return self.business_capacity if self.window.contains(hour_start) else self.off_hours_capacity

    def configured_bounds(self, hour_start: datetime) -> CapacityBounds:
        """Bounds as deployed: the schedule when it is enabled, else the fixed initial instance count."""
        if self.scheduled_scaling_enabled:
            return self.scheduled_bounds(hour_start)
        return CapacityBounds(self.instance_count, self.instance_count)

    @classmethod
    def from_params(cls, config: dict, source: str = "params") -> CostConfig:
        """Build from a ``templates/params/<env>.json`` document; ValueError lists every bad field."""
        if not isinstance(config, dict):
            raise ValueError(f"{source}: expected a JSON object, got {type(config).__name__}")
        read = _Reader(config, source)
        regions = config.get("Regions")
        region = regions.get("Primary", "") if isinstance(regions, dict) else ""
        if not isinstance(region, str) or not region:
            read.errors.append(f"{source}: Regions.Primary is missing")
        # main.yaml hands the same zone, hours and days to the router and to the scheduled actions.
        timezone = read.text("BusinessTimezone", "America/New_York")
        try:
            settings.parse_timezone(f"{source}: Parameters.BusinessTimezone", timezone)
        except ConfigError as exc:
            read.errors.append(str(exc))
            timezone = "UTC"
        warnings: list[str] = []
        window = _business_window(read, timezone)
        instance_count = int(read.number("InitialInstanceCount", low=1, high=100, default="1"))
        business = CapacityBounds(
            int(read.number("BusinessHoursMinCapacity", low=1, high=100, default="2")),
            int(read.number("BusinessHoursMaxCapacity", low=1, high=100, default="8")),
        )
        off_hours = CapacityBounds(
            int(read.number("OffHoursMinCapacity", low=1, high=100, default="1")),
            int(read.number("OffHoursMaxCapacity", low=1, high=100, default="1")),
        )
        for label, bounds in (("BusinessHours", business), ("OffHours", off_hours)):
            if bounds.minimum > bounds.maximum:
                read.errors.append(f"{source}: Parameters.{label}MinCapacity is above {label}MaxCapacity")
        memory = int(read.number("ServerlessMemorySizeInMB", low=1024, high=6144, default="2048"))
        if memory % 1024:
            read.errors.append(f"{source}: Parameters.ServerlessMemorySizeInMB must be a 1024 multiple, got {memory}")
        instance_type = read.text("InstanceType", "ml.m5.large")
        max_concurrency = int(read.number("ServerlessMaxConcurrency", low=1, high=200, default="50"))
        provisioned_concurrency = int(read.number("ServerlessProvisionedConcurrency", low=0, high=200, default="0"))
        if provisioned_concurrency > max_concurrency:
            read.errors.append(f"{source}: Parameters.ServerlessProvisionedConcurrency {provisioned_concurrency} is "
                               f"above ServerlessMaxConcurrency {max_concurrency}")
        result = cls(
            environment=str(config.get("Environment", "")),
            region=region if isinstance(region, str) else "",
            provisioned_enabled=read.flag("EnableProvisionedEndpoint"),
            serverless_enabled=read.flag("EnableServerlessInference"),
            scheduled_scaling_enabled=read.flag("EnableScheduledScaling"),
            instance_type=instance_type,
            instance_count=instance_count,
            business_capacity=business,
            off_hours_capacity=off_hours,
            window=window,
            invocations_per_instance_per_minute=read.number(
                "TargetInvocationsPerInstance", low=1, high=100_000, default="70", convert=float
            ),
            serverless_memory_mb=memory,
            serverless_max_concurrency=max_concurrency,
            serverless_provisioned_concurrency=provisioned_concurrency,
            batch_threshold=int(read.number("BatchThreshold", low=1, high=1_000_000, default="1000")),
            transform_instance_type=read.text("TransformInstanceType", instance_type or "ml.m5.large"),
            transform_instance_count=int(read.number("TransformInstanceCount", low=1, high=100, default="1")),
            traffic_profile=read.text("TrafficProfile", section="CostProfile"),
            model_latency_ms=read.number(
                "ModelLatencyMs", low=1, high=SERVERLESS_TIMEOUT_MS, section="CostProfile", convert=float
            ),
            payload_kb=read.number("PayloadKb", low=0, high=4096, section="CostProfile", convert=float),
            scale_to_zero_enabled=read.flag("EnableScaleToZero"),
            wake_lead_minutes=int(read.number("ScaleToZeroWakeLeadMinutes", low=1, high=60, default="15")),
            scale_to_zero_schedule=read.choice("ScaleToZeroSchedule", SCALE_TO_ZERO_SCHEDULES,
                                               default="business-hours"),
            routing_policy=read.choice("RoutingPolicy", ROUTING_POLICIES, default="business-hours"),
            cold_start_budget_per_month=read.number("ColdStartBudgetPerMonth", low=0, high=1_000_000, default="0",
                                                    convert=float),
            warnings=tuple(warnings),
        )
        if read.errors:
            raise ValueError("invalid cost configuration:\n  " + "\n  ".join(read.errors))
        return result


def _business_window(read: _Reader, timezone: str) -> BusinessWindow:
    """Business hours as main.yaml passes them to both the router and the scheduled actions, checked by the
    same parsers the Route Lambda uses."""
    where = f"{read.source}: Parameters"
    start, end = 9, 18
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    try:
        start, end = settings.parse_business_hours(f"{where}.BusinessStartHour", read.text("BusinessStartHour", "9"),
                                                   f"{where}.BusinessEndHour", read.text("BusinessEndHour", "18"))
    except ConfigError as exc:
        read.errors.append(str(exc))
    try:
        days = settings.parse_business_days(f"{where}.BusinessDays", read.text("BusinessDays", "MON-FRI"))
    except ConfigError as exc:
        read.errors.append(str(exc))
    return BusinessWindow(timezone, start, end, days)


# ------------------------------------------------------------------ prices ----


@dataclass(frozen=True)
class PipelineUsage:
    """What one request consumes besides the model itself (assumptions, see docs/cost-report.md)."""

    # templates/workflow.yaml, one single-file real-time request: the Express front door
    # (RequestStateMachine: Route, AnyFiles, ChooseStrategy, RunRealTime, RealTimeSucceeded, Done) starts one
    # Express InvokeFileSetStateMachine execution (inline Map, one Invoke). Express is billed per execution
    # plus duration (rounded up to 100 ms) x memory (64 MB chunks); no Standard state transition at all.
    express_executions_per_request: int = 2
    express_billed_memory_mb: int = 64  # ~50 MB base + definition + a small payload: one 64 MB chunk
    express_task_overhead_ms: float = 20.0  # per service-integration round trip (an assumption)
    transitions_per_request: int = 0  # Standard state transitions on the real-time path
    lambda_invocations_per_request: int = 2  # route + invoke
    route_lambda_mb: int = 256
    route_lambda_ms: float = 20.0
    invoke_lambda_mb: int = 512
    invoke_overhead_ms: float = 30.0  # invoke Lambda waits for the model: latency + this
    dynamodb_writes_per_request: int = 0  # outputs go to S3; nothing is written to the table per file
    dynamodb_reads_per_request: int = 1  # the cancellation marker, read (strongly consistent) before each file
    # A batch request: the front door's Route, then the Standard InferencePipeline (Route, AnyFiles,
    # ChooseStrategy, BatchTransform, Done) with its task token item.
    transitions_per_batch_job: int = 5
    lambda_invocations_per_batch_job: int = 4  # route (front door), route, start_batch, batch_callback
    dynamodb_writes_per_batch_job: int = 3  # token put, claim, delivered
    dynamodb_reads_per_batch_job: int = 1
    alarms: int = 5  # 3 billing tiers + 2 target-tracking alarms
    custom_metrics: int = 6  # Powertools EMF metrics across the handlers
    batch_startup_seconds: float = 180.0  # billed container start + model download per transform job

    def invoke_lambda_ms(self, model_latency_ms: float) -> float:
        return model_latency_ms + self.invoke_overhead_ms

    def express_billed_seconds(self, model_latency_ms: float) -> float:
        """Billed duration of the two Express executions of one single-file request."""
        child = _billed_100ms(self.invoke_lambda_ms(model_latency_ms) + self.express_task_overhead_ms)
        front = _billed_100ms(self.route_lambda_ms + self.express_task_overhead_ms
                              + child + self.express_task_overhead_ms)
        return (front + child) / 1000


def _billed_100ms(milliseconds: float) -> float:
    return math.ceil(milliseconds / 100) * 100


@dataclass(frozen=True)
class UnitPrices:
    instance_hour: float
    batch_instance_hour: float
    serverless_second: float
    serverless_gb: float
    platform: pricing.PlatformPrices
    provisioned_concurrency_second: float = 0.0  # per unit of ServerlessProvisionedConcurrency
    provisioned_concurrency_compute_second: float = 0.0  # compute served by provisioned concurrency

    @classmethod
    def for_config(cls, cfg: CostConfig) -> UnitPrices:
        """Look up every price the config needs; KeyError names the first missing one."""
        standing, compute = pricing.serverless_provisioned_concurrency_prices(cfg.region, cfg.serverless_memory_mb)
        return cls(
            instance_hour=pricing.instance_hour_price(cfg.region, cfg.instance_type),
            batch_instance_hour=pricing.batch_instance_hour_price(cfg.region, cfg.transform_instance_type),
            serverless_second=pricing.serverless_second_price(cfg.region, cfg.serverless_memory_mb),
            serverless_gb=pricing.serverless_gb_processed_price(cfg.region),
            platform=pricing.platform_prices(cfg.region),
            provisioned_concurrency_second=standing,
            provisioned_concurrency_compute_second=compute,
        )


# ---------------------------------------------------------------- formulas ----


def instances_needed(requests: int, requests_per_instance_hour: float) -> int:
    """Instances target tracking settles on for an hour of ``requests`` (0 for an empty hour)."""
    return math.ceil(requests / requests_per_instance_hour) if requests > 0 else 0


def serverless_concurrency(requests: int, latency_s: float) -> int:
    """Mean concurrent serverless containers an hour of ``requests`` keeps busy (Little's law, rounded up)."""
    return math.ceil(requests * latency_s / SECONDS_PER_HOUR) if requests > 0 else 0


def serverless_request_cost(latency_s: float, payload_kb: float, second_price: float, gb_price: float) -> float:
    """Compute (latency x price per second at the memory size) plus data processed (payload in + out)."""
    return latency_s * second_price + payload_kb / KB_PER_GB * gb_price


def batch_job_cost(files: float, cfg: CostConfig, prices: UnitPrices, usage: PipelineUsage) -> float:
    """One transform job over ``files`` files: start-up plus files x latency spread over the instances."""
    if files <= 0:
        return 0.0
    seconds = usage.batch_startup_seconds + files * cfg.latency_s / cfg.transform_instance_count
    return cfg.transform_instance_count * seconds / SECONDS_PER_HOUR * prices.batch_instance_hour


def pipeline_cost(
    requests: float, batch_jobs: float, cfg: CostConfig, prices: UnitPrices, usage: PipelineUsage
) -> dict[str, float]:
    """Step Functions, Lambda and DynamoDB for ``requests`` real-time requests and ``batch_jobs`` jobs (no fixed
    part)."""
    p = prices.platform
    lambda_gb_seconds = (usage.route_lambda_mb / 1024 * usage.route_lambda_ms
                         + usage.invoke_lambda_mb / 1024 * usage.invoke_lambda_ms(cfg.model_latency_ms)) / 1000
    transitions = requests * usage.transitions_per_request + batch_jobs * usage.transitions_per_batch_job
    express_gb_seconds = usage.express_billed_memory_mb / 1024 * usage.express_billed_seconds(cfg.model_latency_ms)
    express = requests * (usage.express_executions_per_request * p.express_per_request
                          + express_gb_seconds * p.express_per_gb_second)
    express += batch_jobs * p.express_per_request  # the front door that hands a batch request over
    invocations = requests * usage.lambda_invocations_per_request + batch_jobs * usage.lambda_invocations_per_batch_job
    writes = requests * usage.dynamodb_writes_per_request + batch_jobs * usage.dynamodb_writes_per_batch_job
    reads = requests * usage.dynamodb_reads_per_request + batch_jobs * usage.dynamodb_reads_per_batch_job
    return {
        "step_functions": transitions * p.step_functions_per_transition + express,
        "lambda": invocations * p.lambda_per_request + requests * lambda_gb_seconds * p.lambda_per_gb_second,
        "dynamodb": writes * p.dynamodb_per_write_unit + reads * p.dynamodb_per_read_unit,
    }


def monthly_fixed_cost(prices: UnitPrices, usage: PipelineUsage) -> float:
    """CloudWatch alarms and custom metrics: billed per month whatever the traffic."""
    p = prices.platform
    return usage.alarms * p.cloudwatch_per_alarm_month + usage.custom_metrics * p.cloudwatch_per_metric_month


def region_alarms(cfg: CostConfig, *, billing_alarms: bool) -> int:
    """Alarms a region's stack creates: target tracking's two, the wake-from-zero alarm, the billing tiers."""
    scaled = cfg.provisioned_enabled and (cfg.scheduled_scaling_enabled or cfg.scale_to_zero_enabled)
    return 2 * scaled + (cfg.provisioned_enabled and cfg.scale_to_zero_enabled) + 3 * billing_alarms


def cloudwatch_monthly(cfg: CostConfig, prices: UnitPrices, usage: PipelineUsage, *, billing_alarms: bool,
                       takes_traffic: bool) -> float:
    """CloudWatch for one region: its alarms, and the custom metrics its Lambdas emit (a metric that
    receives no data in a month is not billed, so a standby that takes no traffic pays none)."""
    p = prices.platform
    metrics = usage.custom_metrics if takes_traffic else 0
    return (region_alarms(cfg, billing_alarms=billing_alarms) * p.cloudwatch_per_alarm_month
            + metrics * p.cloudwatch_per_metric_month)


@dataclass(frozen=True)
class BreakEven:
    """Sustained request rate at which one provisioned instance and serverless cost the same."""

    memory_mb: int
    latency_ms: float
    serverless_cost_per_request: float
    instance_hour_price: float
    requests_per_hour: float
    instance_requests_per_hour: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def requests_per_second(self) -> float:
        return self.requests_per_hour / SECONDS_PER_HOUR

    @property
    def utilisation(self) -> float | None:
        """Share of one instance's target load at break-even (> 1: serverless is always cheaper)."""
        if not self.instance_requests_per_hour:
            return None
        return self.requests_per_hour / self.instance_requests_per_hour


def break_even(
    *,
    memory_mb: int,
    latency_ms: float,
    payload_kb: float,
    region: str,
    instance_price: float,
    instance_requests_per_hour: float | None = None,
) -> BreakEven:
    """Below ``requests_per_hour`` serverless is cheaper; above it (sustained) a provisioned instance is.

    Costs are linear on both sides (N instances carry N times the load), so the rate per instance
    holds at any scale as long as the instances are kept at that load.
    """
    per_request = serverless_request_cost(
        latency_ms / 1000,
        payload_kb,
        pricing.serverless_second_price(region, memory_mb),
        pricing.serverless_gb_processed_price(region),
    )
    return BreakEven(
        memory_mb=memory_mb,
        latency_ms=latency_ms,
        serverless_cost_per_request=per_request,
        instance_hour_price=instance_price,
        requests_per_hour=instance_price / per_request,
        instance_requests_per_hour=instance_requests_per_hour,
    )


def break_even_matrix(
    cfg: CostConfig, instance_price: float, latencies_ms: Iterable[float] = (50, 150, 500, 1000, 2000)
) -> list[BreakEven]:
    """The decision matrix: break-even rate for every serverless memory size x a range of model latencies."""
    return [
        break_even(
            memory_mb=memory, latency_ms=latency, payload_kb=cfg.payload_kb, region=cfg.region,
            instance_price=instance_price,
        )
        for memory in SERVERLESS_MEMORY_SIZES
        for latency in latencies_ms
    ]
