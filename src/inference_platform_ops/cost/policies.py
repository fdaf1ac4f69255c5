"""The policies the cost report compares to answer "what should I run?", each costed hour by hour.

* ``always_on``          the classic variant held at the busiest hour's capacity all the time;
* ``seed_schedule``      today's deployment: the router's business-hours rule and the classic variant's schedule
                         (it never goes below one instance);
* ``seed_scale_to_zero`` the same rule on a scale-to-zero endpoint (``EnableScaleToZero``): woken
                         ``ScaleToZeroWakeLeadMinutes`` before business hours, back to zero after;
* ``cost_policy``        the hour-of-week plan ``RoutingPolicy: cost`` deploys, planned from the trace's own
                         hour-of-week averages (what the planner would read from CloudWatch) within
                         ``ColdStartBudgetPerMonth`` business-hour cold starts;
* ``serverless_only``    every request on the serverless endpoint;
* ``oracle``             each hour on its own at its cheapest real-time option, waking and scaling for free;
* ``constrained_oracle`` the cheapest hour-by-hour plan for this very trace with no cold start in business hours.

All but ``always_on``, ``seed_schedule`` and ``oracle`` (which keep the simulation's own figures) are costed
by :mod:`inference_platform.planning.capacity`, the code the planner Lambda plans with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from inference_platform.planning.capacity import (
    PROVISIONED,
    SERVERLESS,
    CostInputs,
    PlanOutcome,
    evaluate,
    hour_of_week,
    plan_hours,
    seed_choices,
)
from inference_platform_ops.cost.model import (
    HOURS_PER_MONTH,
    SECONDS_PER_HOUR,
    CostConfig,
    PipelineUsage,
    UnitPrices,
    batch_job_cost,
    serverless_request_cost,
)

POLICIES = ("always_on", "seed_schedule", "seed_scale_to_zero", "cost_policy", "serverless_only", "oracle",
            "constrained_oracle")
# What an operator can deploy (the oracles are yardsticks), with the paths each one needs.
DEPLOYABLE = {
    "always_on": ("provisioned",),
    "seed_schedule": (),
    "seed_scale_to_zero": ("provisioned",),
    "cost_policy": ("provisioned",),
    "serverless_only": ("serverless",),
}
POLICY_LABELS = {
    "always_on": "Always on at peak (classic variant)",
    "seed_schedule": "Seed: business hours + schedule (today)",
    "seed_scale_to_zero": "Seed rule on a scale-to-zero endpoint",
    "cost_policy": "Cost policy (hour-of-week plan)",
    "serverless_only": "Serverless only",
    "oracle": "Oracle (each hour alone)",
    "constrained_oracle": "Oracle, no business-hour cold starts",
}


@dataclass(frozen=True)
class PolicyResult:
    name: str
    hourly_cost: tuple[float, ...]  # endpoint USD per simulated hour
    hourly_instances: tuple[float, ...]  # instance-hours per simulated hour
    hourly_choice: tuple[str, ...]
    cold_starts: float  # over the trace
    business_cold_starts: float
    hours_over_capacity: int = 0  # hours the chosen path cannot carry (schedule max, ServerlessMaxConcurrency)

    @property
    def total(self) -> float:
        return sum(self.hourly_cost)


def cost_inputs(cfg: CostConfig, prices: UnitPrices, keep_warm_minutes: float, usage: PipelineUsage, *,
                min_instances: int = 1) -> CostInputs:
    """The planner's view of ``cfg``: unit costs, limits and the scale-to-zero timing."""
    per_request = serverless_request_cost(cfg.latency_s, cfg.payload_kb, prices.serverless_second, prices.serverless_gb)
    # One transform job per BatchThreshold files, as the batch line of the report assumes.
    batch_per_request = batch_job_cost(cfg.batch_threshold, cfg, prices, usage) / cfg.batch_threshold
    maximum = max(min_instances, cfg.business_capacity.maximum)
    return CostInputs(
        serverless_cost_per_request=per_request,
        instance_hour_price=prices.instance_hour,
        requests_per_instance_hour=cfg.instance_requests_per_hour,
        latency_s=cfg.latency_s,
        serverless_max_concurrency=cfg.serverless_max_concurrency,
        keep_warm_s=keep_warm_minutes * 60,
        wake_lead_hours=cfg.wake_lead_minutes / 60,
        scale_in_hours=0.25,  # target tracking's scale-in alarm needs 15 one-minute periods at zero
        min_instances=min_instances,
        max_instances=maximum,
        batch_cost_per_request=batch_per_request,
        provisioned_enabled=cfg.provisioned_enabled,
        serverless_enabled=cfg.serverless_enabled,
        provisioned_concurrency=cfg.serverless_provisioned_concurrency if cfg.serverless_enabled else 0,
        provisioned_concurrency_hour_cost=(cfg.serverless_provisioned_concurrency * SECONDS_PER_HOUR
                                           * prices.provisioned_concurrency_second if cfg.serverless_enabled else 0.0),
        provisioned_concurrency_saving_per_request=cfg.latency_s * max(
            0.0, prices.serverless_second - prices.provisioned_concurrency_compute_second),
    )


def weekly_profile(cfg: CostConfig, starts: Sequence, requests: Sequence[float]) -> list[float]:
    """Mean requests per local hour of the week: what the planner reads from the last weeks' metrics."""
    zone = ZoneInfo(cfg.window.timezone)
    sums, counts = [0.0] * 168, [0] * 168
    for start, count in zip(starts, requests, strict=True):
        local = start.astimezone(zone)
        slot = hour_of_week(local.weekday(), local.hour)
        sums[slot] += count
        counts[slot] += 1
    return [total / seen if seen else 0.0 for total, seen in zip(sums, counts, strict=True)]


def week_business(cfg: CostConfig) -> list[bool]:
    """Business hours per local hour of the week."""
    return [day in cfg.window.weekdays and cfg.window.start_hour <= hour < cfg.window.end_hour
            for day in range(7) for hour in range(24)]


def _result(name: str, outcome: PlanOutcome) -> PolicyResult:
    return PolicyResult(name, tuple(h.cost for h in outcome.hours), tuple(h.instances for h in outcome.hours),
                        outcome.choices, outcome.cold_starts, outcome.business_cold_starts,
                        outcome.hours_over_capacity)


def _repeating(inputs: CostInputs, requests: Sequence[float], business: Sequence[bool],
               choices: Sequence[str]) -> PlanOutcome:
    """Cost of ``choices`` over the trace taken as repeating (its last hour precedes its first)."""
    return evaluate(inputs, requests, business, choices, before=choices[-1], before_requests=requests[-1])


def plan_week(cfg: CostConfig, prices: UnitPrices, keep_warm_minutes: float, usage: PipelineUsage,
              history: Sequence[float]):
    """The week plan ``RoutingPolicy: cost`` deploys for a weekly ``history`` (168 local hours)."""
    inputs = cost_inputs(cfg, prices, keep_warm_minutes, usage)
    budget = cfg.cold_start_budget_per_month * 168 / HOURS_PER_MONTH
    return plan_hours(inputs, history, week_business(cfg), budget, cyclic=True)


def compute_policies(cfg: CostConfig, prices: UnitPrices, keep_warm_minutes: float, usage: PipelineUsage,
                     sim_hours: Sequence) -> dict[str, PolicyResult]:
    """Every policy over the simulated hours (``sim_hours``: the simulation's ``HourResult`` rows)."""
    starts = [h.start_utc for h in sim_hours]
    requests = [float(h.requests) for h in sim_hours]
    business = [h.business_hours for h in sim_hours]
    zone = ZoneInfo(cfg.window.timezone)
    slots = [hour_of_week(s.astimezone(zone).weekday(), s.astimezone(zone).hour) for s in starts]
    planner = cost_inputs(cfg, prices, keep_warm_minutes, usage)
    # The seed schedule wakes the endpoint to BusinessHoursMinCapacity copies.
    seed = cost_inputs(cfg, prices, keep_warm_minutes, usage, min_instances=cfg.business_capacity.minimum)
    results = {
        "always_on": PolicyResult("always_on", tuple(h.always_on_cost for h in sim_hours),
                                  tuple(float(h.always_on_instances) for h in sim_hours),
                                  (PROVISIONED,) * len(sim_hours), 0.0, 0.0,
                                  sum(h.always_on_instances * cfg.instance_requests_per_hour < h.requests
                                      for h in sim_hours)),
        "seed_schedule": PolicyResult(
            "seed_schedule", tuple(h.platform_cost + planner.provisioned_concurrency_hour_cost for h in sim_hours),
            tuple(float(h.platform_instances) for h in sim_hours), tuple(h.strategy for h in sim_hours),
            sum(h.platform_cold_starts for h in sim_hours),
            sum(h.platform_cold_starts for h in sim_hours if h.business_hours),
            sum((h.strategy == "provisioned_endpoint" and h.scheduled_unmet)
                or (h.strategy == "serverless_inference" and h.serverless_throttled) for h in sim_hours)),
        "oracle": PolicyResult(
            "oracle", tuple(h.oracle_cost for h in sim_hours), tuple(float(h.oracle_instances) for h in sim_hours),
            tuple(h.oracle_choice for h in sim_hours), sum(h.oracle_cold_starts for h in sim_hours),
            sum(h.oracle_cold_starts for h in sim_hours if h.business_hours)),
    }
    results["seed_scale_to_zero"] = _result(
        "seed_scale_to_zero", _repeating(seed, requests, business, seed_choices(seed, business)))
    week = plan_week(cfg, prices, keep_warm_minutes, usage, weekly_profile(cfg, starts, requests))
    results["cost_policy"] = _result(
        "cost_policy", _repeating(planner, requests, business, [week.choices[slot] for slot in slots]))
    only = SERVERLESS if cfg.serverless_enabled else planner.paths[0]
    results["serverless_only"] = _result("serverless_only", _repeating(planner, requests, business,
                                                                        [only] * len(requests)))
    constrained = plan_hours(planner, requests, business, 0.0, cyclic=True)
    results["constrained_oracle"] = _result("constrained_oracle", constrained.outcome)
    return {name: results[name] for name in POLICIES}


def configured_policy(cfg: CostConfig) -> str:
    """The policy the environment's parameters deploy."""
    if cfg.provisioned_enabled and cfg.scale_to_zero_enabled:
        return "cost_policy" if cfg.routing_policy == "cost" else "seed_scale_to_zero"
    return "seed_schedule"


def recommend(policies: dict[str, dict], cfg: CostConfig) -> str:
    """The cheapest deployable policy (endpoint + pipeline) that carries every hour the others can and
    whose business-hour cold starts stay within ``ColdStartBudgetPerMonth`` (to the nearest whole cold
    start); paths the environment does not enable rule a policy out."""
    enabled = {"provisioned": cfg.provisioned_enabled, "serverless": cfg.serverless_enabled}
    candidates = [name for name, needs in DEPLOYABLE.items() if all(enabled[path] for path in needs)]
    least_over = min(policies[name]["hours_over_capacity_per_month"] for name in candidates)
    carried = [name for name in candidates if policies[name]["hours_over_capacity_per_month"] <= least_over]
    within = [name for name in carried
              if policies[name]["business_hours_cold_starts_per_month"] <= cfg.cold_start_budget_per_month + 0.5]
    pool = within or carried
    return min(pool, key=lambda name: (policies[name]["monthly_usd"], POLICIES.index(name)))
