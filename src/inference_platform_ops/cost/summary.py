"""Turn a simulation into the cost report: a JSON-ready summary and the table people read."""

from __future__ import annotations

import math
from dataclasses import replace

from inference_platform.shared import pricing
from inference_platform_ops.cost.model import (
    SERVERLESS_MEMORY_SIZES,
    CostConfig,
    PipelineUsage,
    UnitPrices,
    break_even,
    break_even_matrix,
    cloudwatch_monthly,
)
from inference_platform_ops.cost.policies import POLICIES, POLICY_LABELS, configured_policy, recommend
from inference_platform_ops.cost.trace_sim import Simulation, standing_monthly_cost
from inference_platform_ops.deploy.dr_tiers import dr_tier, region_plans

PLAN_LABELS = {
    "always_on": "Always on at peak",
    "scheduled": "Schedule alone (all on provisioned)",
    "right_sized": "Provisioned, right-sized every hour",
    "serverless": "Serverless alone",
    "platform": "Platform: router + schedule",
    "oracle": "Hour-by-hour oracle",
}


def _money(value: float) -> float:
    return round(value, 2)


def secondary_regions(
    config: dict, sim: Simulation, source: str, defaults: dict[str, str] | None = None,
    usage: PipelineUsage | None = None,
) -> list[dict]:
    """Standing monthly cost of every secondary region the DR tier deploys (tier 3: none).

    A standby region carries no traffic until a failover, so it costs its endpoints at their
    configured minimum, its CloudWatch alarms (no custom metric receives data), and the state table
    writes replicated into it.
    ``defaults`` (main.yaml's parameter defaults) fill what the derived region parameters leave out.
    """
    usage = usage or PipelineUsage()
    rows = []
    for plan in region_plans(config)[1:]:
        parameters = (defaults or {}) | plan.parameters
        regional = config | {"Regions": config["Regions"] | {"Primary": plan.region}, "Parameters": parameters}
        cfg = replace(CostConfig.from_params(regional, source=f"{source} [{plan.region}]"),
                      traffic_profile=sim.config.traffic_profile)
        prices = UnitPrices.for_config(cfg)
        endpoints = standing_monthly_cost(cfg, prices, (hour.start_utc for hour in sim.hours))
        monthly_writes = sim.requests / sim.months * usage.dynamodb_writes_per_request
        replicated = monthly_writes * prices.platform.dynamodb_per_write_unit
        cloudwatch = cloudwatch_monthly(cfg, prices, usage, billing_alarms=False, takes_traffic=False)
        rows.append({
            "region": plan.region,
            "role": plan.role,
            "dr_tier": dr_tier(config),
            "endpoints_usd": _money(endpoints),
            "replicated_writes_usd": _money(replicated),
            "cloudwatch_usd": _money(cloudwatch),
            "total_usd": _money(endpoints + replicated + cloudwatch),
        })
    return rows


def policy_table(sim: Simulation) -> tuple[dict[str, dict], str]:
    """Monthly figures of every policy, and the recommended one."""
    pipeline = sum(sim.pipeline_monthly.values())
    table = {}
    for name in POLICIES:
        result = sim.policies[name]
        endpoint = result.total / sim.months
        table[name] = {
            "monthly_usd": _money(endpoint + pipeline),
            "endpoint_usd": _money(endpoint),
            "pipeline_usd": _money(pipeline),
            "instance_hours_per_month": round(sum(result.hourly_instances) / sim.months, 1),
            "cold_starts_per_month": round(result.cold_starts / sim.months, 1),
            "business_hours_cold_starts_per_month": round(result.business_cold_starts / sim.months, 1),
            "hours_over_capacity_per_month": round(result.hours_over_capacity / sim.months, 1),
        }
    return table, recommend(table, sim.config)


def pipeline_per_million(sim: Simulation) -> float:
    """Step Functions, Lambda and DynamoDB per million real-time requests (the fixed CloudWatch part left out)."""
    monthly_requests = sim.requests / sim.months
    variable = sum(value for name, value in sim.pipeline_monthly.items() if name != "cloudwatch")
    return round(variable / monthly_requests * 1_000_000, 2) if monthly_requests else 0.0


def budget_warning(config: dict, environment_monthly_usd: float) -> str | None:
    """The estimate against the billing alarms' monthly budget, when the params file sets one."""
    budget = (config.get("BillingAlarms") or {}).get("MonthlyBudgetUsd")
    if isinstance(budget, int | float) and not isinstance(budget, bool) and environment_monthly_usd > budget:
        return (f"the estimate ${environment_monthly_usd:,.2f}/month is above BillingAlarms.MonthlyBudgetUsd "
                f"${budget:,.2f}: the billing alarms will fire")
    return None


def summarise(sim: Simulation, prices: UnitPrices, trace_source: str, secondary: list[dict] | None = None) -> dict:
    """Everything the report prints, as plain JSON types (monthly figures scaled to 730 h)."""
    secondary = secondary or []
    cfg = sim.config
    hours = sim.hours
    configured = break_even(
        memory_mb=cfg.serverless_memory_mb,
        latency_ms=cfg.model_latency_ms,
        payload_kb=cfg.payload_kb,
        region=cfg.region,
        instance_price=prices.instance_hour,
        instance_requests_per_hour=cfg.instance_requests_per_hour,
    )
    warnings = list(cfg.warnings)
    if not cfg.scheduled_scaling_enabled:
        warnings.append("EnableScheduledScaling is false: the 'schedule alone' line is what enabling it would do")
    unmet = sum(h.scheduled_unmet for h in hours)
    if unmet:
        warnings.append(f"{unmet} hour(s) need more instances than the schedule's max capacity allows")
    throttled = sum(h.serverless_throttled for h in hours)
    if throttled:
        warnings.append(f"{throttled} hour(s) need more than ServerlessMaxConcurrency={cfg.serverless_max_concurrency}")
    monthly = {plan: _money(sim.monthly(plan)) for plan in PLAN_LABELS}
    monthly["batch"] = _money(sim.batch_monthly)
    instance_hours = {
        plan: round(sum(getattr(h, f"{plan}_instances") for h in hours) / sim.months, 1)
        for plan in ("always_on", "scheduled", "right_sized", "platform", "oracle")
    }
    pipeline = {name: _money(value) for name, value in sim.pipeline_monthly.items()}
    policies, recommended = policy_table(sim)
    deployed = configured_policy(cfg)
    return {
        "environment": cfg.environment,
        "region": cfg.region,
        "instance_type": cfg.instance_type,
        "instance_hour_usd": prices.instance_hour,
        "serverless_memory_mb": cfg.serverless_memory_mb,
        "model_latency_ms": cfg.model_latency_ms,
        "payload_kb": cfg.payload_kb,
        "business_hours": cfg.window.describe(),
        "trace": {
            "profile": cfg.traffic_profile,
            "source": trace_source,
            "hours": len(hours),
            "first_hour_utc": hours[0].start_utc.strftime("%Y-%m-%dT%H:%MZ"),
            "requests": sim.requests,
            "requests_per_month": round(sim.requests / sim.months),
        },
        "peak_instances": sim.peak_instances,
        "monthly_usd": monthly,
        "instance_hours_per_month": instance_hours,
        "saving_vs_always_on": {plan: round(sim.saving_vs_always_on(plan), 4) for plan in PLAN_LABELS},
        # null when the oracle costs nothing but the plan does (no finite ratio; strict JSON has no Infinity)
        "gap_to_oracle": {
            plan: None if math.isinf(gap := sim.gap_to_oracle(plan)) else round(gap, 4) for plan in PLAN_LABELS
        },
        "batch_jobs_per_month": sim.batch_jobs_monthly,
        "policies": policies,
        "recommended": recommended,
        "pipeline_usd_per_million_requests": pipeline_per_million(sim),
        "pipeline_monthly_usd": pipeline | {"total": _money(sum(sim.pipeline_monthly.values()))},
        "secondary_regions": secondary,
        "configured_policy": deployed,
        "environment_monthly_usd": _money(
            policies[deployed]["endpoint_usd"] + sum(sim.pipeline_monthly.values())
            + sum(r["total_usd"] for r in secondary)
        ),
        "standby_share_of_primary_endpoints": (
            round(sum(r["total_usd"] for r in secondary) / policies[deployed]["endpoint_usd"], 4)
            if secondary and policies[deployed]["endpoint_usd"] else None),
        "cold_starts": {
            plan: {"trace": round(sim.cold_starts(plan), 1), "per_month": round(sim.cold_starts(plan) / sim.months)}
            for plan in ("serverless", "platform", "oracle")
        },
        "break_even": {
            "memory_mb": configured.memory_mb,
            "latency_ms": configured.latency_ms,
            "serverless_usd_per_request": configured.serverless_cost_per_request,
            "requests_per_hour": round(configured.requests_per_hour, 1),
            "requests_per_second": round(configured.requests_per_second, 3),
            "instance_target_requests_per_hour": configured.instance_requests_per_hour,
            "utilisation_of_one_instance": round(configured.utilisation or 0.0, 4),
        },
        "decision_matrix": [
            {"memory_mb": b.memory_mb, "latency_ms": b.latency_ms, "requests_per_hour": round(b.requests_per_hour, 1)}
            for b in break_even_matrix(cfg, prices.instance_hour)
        ],
        "warnings": warnings,
        "prices": pricing.price_sources(),
    }


HOURLY_COLUMNS = (
    "hour_start_utc", "requests", "business_hours", "strategy",
    "always_on_instances", "scheduled_instances", "right_sized_instances", "platform_instances", "oracle_instances",
    "always_on_cost", "scheduled_cost", "right_sized_cost", "serverless_cost", "platform_cost", "oracle_cost",
    "oracle_choice", "platform_cold_starts",
)


def hourly_rows(sim: Simulation) -> list[dict]:
    """Every simulated hour, for checking the monthly figures by hand (written as hours.csv)."""
    rows = []
    for hour in sim.hours:
        row = {column: getattr(hour, column) for column in HOURLY_COLUMNS[1:]}
        rows.append({"hour_start_utc": hour.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ")} | row)
    return rows


def _pct(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 10:  # beyond +1000% a multiple reads better
        return f"x{value + 1:,.0f}"
    return f"{value * 100 + 0.0:+.1f}%"  # + 0.0: no "-0.0%"


def render_table(summary: dict) -> str:
    """The human-readable report."""
    trace = summary["trace"]
    lines = [
        f"Cost report: {summary['environment']} in {summary['region']}",
        f"  provisioned {summary['instance_type']} at ${summary['instance_hour_usd']}/h; serverless "
        f"{summary['serverless_memory_mb']} MB; model latency {summary['model_latency_ms']:g} ms; "
        f"payload {summary['payload_kb']:g} KB",
        f"  business hours {summary['business_hours']}",
        f"  traffic '{trace['profile']}' ({trace['source']}): {trace['hours']} h from {trace['first_hour_utc']}, "
        f"{trace['requests']:,} requests = {trace['requests_per_month']:,}/month",
        "",
        f"  {'Monthly endpoint cost (730 h)':<40}{'USD/month':>11}{'vs always-on':>14}{'vs oracle':>11}"
        f"{'instance-h':>12}",
    ]
    for plan, plan_label in PLAN_LABELS.items():
        peak = summary["peak_instances"]
        label = f"{plan_label} ({peak} instance{'s' * (peak != 1)})" if plan == "always_on" else plan_label
        hours = summary["instance_hours_per_month"].get(plan)
        lines.append(
            f"  {label:<40}{summary['monthly_usd'][plan]:>11,.2f}"
            f"{_pct(-summary['saving_vs_always_on'][plan]):>14}{_pct(summary['gap_to_oracle'][plan]):>11}"
            f"{'' if hours is None else f'{hours:,.0f}':>12}"
        )
    lines.append(
        f"  {'Batch path (' + format(summary['batch_jobs_per_month'], ',.0f') + ' transform jobs)':<40}"
        f"{summary['monthly_usd']['batch']:>11,.2f}"
    )
    pipe = summary["pipeline_monthly_usd"]
    cold = summary["cold_starts"]
    even = summary["break_even"]
    lines += ["", f"  What should I run? Every policy with the pipeline "
                  f"(${summary['pipeline_usd_per_million_requests']:,.2f} per million requests)",
              f"  {'Policy':<42}{'USD/month':>11}{'endpoints':>11}{'instance-h':>12}{'cold starts':>13}"
              f"{'in hours':>10}{'over cap.':>11}"]
    for name, label in POLICY_LABELS.items():
        row = summary["policies"][name]
        mark = "  <- recommended" if name == summary["recommended"] else ""
        lines.append(
            f"  {label:<42}{row['monthly_usd']:>11,.2f}{row['endpoint_usd']:>11,.2f}"
            f"{row['instance_hours_per_month']:>12,.0f}{row['cold_starts_per_month']:>13,.0f}"
            f"{row['business_hours_cold_starts_per_month']:>10,.0f}{row['hours_over_capacity_per_month']:>11,.0f}{mark}"
        )
    lines += [
        "",
        f"  Pipeline per month (every real-time plan): Step Functions ${pipe['step_functions']:,.2f}, "
        f"Lambda ${pipe['lambda']:,.2f}, DynamoDB ${pipe['dynamodb']:,.2f}, CloudWatch ${pipe['cloudwatch']:,.2f} "
        f"= ${pipe['total']:,.2f}",
        *(
            f"  Secondary region {r['region']} (DR tier {r['dr_tier']}, standing, no traffic): endpoints "
            f"${r['endpoints_usd']:,.2f} + replicated table writes ${r['replicated_writes_usd']:,.2f} "
            f"+ CloudWatch ${r['cloudwatch_usd']:,.2f} = ${r['total_usd']:,.2f}"
            for r in summary["secondary_regions"]
        ),
        *([f"  Standby regions: {summary['standby_share_of_primary_endpoints'] * 100:.1f}% of the primary's "
           f"endpoint cost as configured"] if summary["standby_share_of_primary_endpoints"] is not None else []),
        f"  Environment total as configured ({POLICY_LABELS[summary['configured_policy']].lower()} + pipeline "
        f"+ secondary regions): ${summary['environment_monthly_usd']:,.2f}/month",
        "  Expected serverless cold starts per month: "
        + ", ".join(f"{PLAN_LABELS[plan].split(':')[0].lower()} {cold[plan]['per_month']:,}" for plan in cold),
        f"  Break-even at {even['memory_mb']} MB / {even['latency_ms']:g} ms: {even['requests_per_hour']:,.0f} "
        f"requests/hour ({even['requests_per_second']:.2f}/s) per instance, "
        f"{even['utilisation_of_one_instance'] * 100:.0f}% of one instance's target load "
        "(below: serverless is cheaper; above, sustained: provisioned)",
        "",
        "  Decision matrix: break-even requests/hour per provisioned instance",
    ]
    latencies = sorted({row["latency_ms"] for row in summary["decision_matrix"]})
    lines.append("  " + f"{'memory':>8}" + "".join(f"{f'{lat:g} ms':>11}" for lat in latencies))
    by_cell = {(row["memory_mb"], row["latency_ms"]): row["requests_per_hour"] for row in summary["decision_matrix"]}
    for memory in SERVERLESS_MEMORY_SIZES:
        cells = "".join(f"{by_cell[(memory, lat)]:>11,.0f}" for lat in latencies)
        lines.append(f"  {f'{memory} MB':>8}{cells}")
    if summary["warnings"]:
        lines += ["", *(f"  warning: {text}" for text in summary["warnings"])]
    lines += ["", "  Prices (on-demand list prices; refresh before relying on a figure):"]
    lines += [f"    {name}: {info['source']} as of {info['as_of']}" for name, info in summary["prices"].items()]
    if summary.get("chart"):
        lines += ["", f"  Chart: {summary['chart']}"]
    return "\n".join(lines)
