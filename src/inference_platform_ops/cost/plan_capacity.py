"""`make plan-capacity ENV=<env>`: the week plan the cost policy would deploy, printed as a grid.

The planning is the runtime's own (:mod:`inference_platform.planning`), so this prints exactly what the
capacity planner Lambda would publish for the same history. It never publishes anything: that is the
Lambda's job, in the account, every week (``RoutingPolicy: cost``); this runs on a laptop or in CI to
look before switching the policy on.

History comes from one of:

* ``--from-cloudwatch``: the deployed environment's own ``AWS/SageMaker Invocations`` for the last
  ``--weeks`` weeks (one batched GetMetricData, the planner Lambda's function), endpoint names from the
  stack's outputs, model latency from ``ModelLatency``;
* otherwise the traffic profile (``--profile`` or the params file's ``CostProfile.TrafficProfile``),
  folded into hours of the week as the cost report does.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from inference_platform.planning.capacity import HOURS_PER_WEEK, PROVISIONED, evaluate, seed_choices, week_grid
from inference_platform_ops.paths import PARAMS, ROOT, TEMPLATES, TRAFFIC

EXIT_BAD_INPUT = 2


def _config(args: argparse.Namespace) -> tuple[dict, Any]:
    from inference_platform_ops.cost.model import CostConfig
    from inference_platform_ops.cost.report import load_params, template_defaults, with_defaults

    params_path = args.params or PARAMS / f"{args.env}.json"
    config = load_params(params_path)
    cfg = CostConfig.from_params(with_defaults(config, template_defaults(TEMPLATES / "main.yaml")),
                                 source=str(params_path))
    return config, cfg


def _profile_history(cfg: Any, profile: str | None, week_start: date) -> tuple[list[float], str]:
    from inference_platform_ops.cost.policies import weekly_profile
    from inference_platform_ops.cost.report import profile_path
    from inference_platform_ops.cost.trace_sim import load_trace

    path = profile_path(profile or cfg.traffic_profile, TRAFFIC)
    trace = load_trace(path, cfg.window.timezone, week_start)
    shown = path.relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
    return weekly_profile(cfg, [h.start_utc for h in trace], [h.requests for h in trace]), f"profile {shown}"


def _cloudwatch_history(env: str, config: dict, cfg: Any, weeks: int, endpoint_url: str | None,
                        ) -> tuple[list[float], Any, str]:
    from inference_platform.planning.publish import metric_sources, weekly_requests
    from inference_platform_ops.deploy.aws_access import endpoint_for, session_for

    region = config["Regions"]["Primary"]
    endpoint_url = endpoint_for(env, endpoint_url, "plan-capacity")
    session = session_for(env, endpoint_url, region)
    stack = session.client("cloudformation", region_name=region, endpoint_url=endpoint_url).describe_stacks(
        StackName=config["StackName"])["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    component = outputs.get("InferenceComponentName", "")
    endpoints = [outputs.get("ServerlessEndpointName", "")] + ([] if component else
                                                               [outputs.get("ProvisionedEndpointName", "")])
    sources = metric_sources(component=component, endpoints=endpoints)
    if not sources:
        raise ValueError(f"stack {config['StackName']} in {region} has no endpoint outputs to read invocations of")
    history = weekly_requests(session.client("cloudwatch", region_name=region, endpoint_url=endpoint_url),
                              sources, weeks=weeks, now=datetime.now(UTC), timezone=cfg.window.timezone)
    if history.latency_ms:
        cfg = replace(cfg, model_latency_ms=history.latency_ms)
    names = ", ".join(d[0]["Value"] for d in sources)
    return list(history.requests), cfg, f"AWS/SageMaker Invocations of {names}, last {weeks} weeks"


def plan_summary(cfg: Any, history: list[float], source: str, keep_warm_minutes: float = 10.0) -> dict:
    """The plan for ``history`` and, for comparison, the business-hours rule on the same endpoint."""
    from inference_platform_ops.cost.model import HOURS_PER_MONTH, PipelineUsage, UnitPrices
    from inference_platform_ops.cost.policies import cost_inputs, plan_week, week_business

    prices = UnitPrices.for_config(cfg)
    usage = PipelineUsage()
    plan = plan_week(cfg, prices, keep_warm_minutes, usage, history)
    business = week_business(cfg)
    seed_inputs = cost_inputs(cfg, prices, keep_warm_minutes, usage, min_instances=cfg.business_capacity.minimum)
    seed = seed_choices(seed_inputs, business)
    seed_outcome = evaluate(seed_inputs, history, business, seed, before=seed[-1], before_requests=history[-1])
    per_month = HOURS_PER_MONTH / HOURS_PER_WEEK
    return {
        "environment": cfg.environment,
        "history": source,
        "business_hours": cfg.window.describe(),
        "cold_start_budget_per_month": cfg.cold_start_budget_per_month,
        "within_budget": plan.within_budget,
        "notes": list(plan.notes),
        "choices": list(plan.choices),
        "provisioned_hours_per_week": plan.choices.count(PROVISIONED),
        "plan": {"endpoint_usd_per_month": round(plan.outcome.cost * per_month, 2),
                 "business_hours_cold_starts_per_month": round(plan.outcome.business_cold_starts * per_month, 1),
                 "cold_starts_per_month": round(plan.outcome.cold_starts * per_month, 1)},
        "business_hours_rule": {"endpoint_usd_per_month": round(seed_outcome.cost * per_month, 2),
                                "business_hours_cold_starts_per_month": round(
                                    seed_outcome.business_cold_starts * per_month, 1),
                                "cold_starts_per_month": round(seed_outcome.cold_starts * per_month, 1)},
    }


def render(summary: dict) -> str:
    plan, seed = summary["plan"], summary["business_hours_rule"]
    lines = [
        f"Capacity plan for {summary['environment']} ({summary['business_hours']}) from {summary['history']}",
        "  P = provisioned (the scale-to-zero endpoint awake), s = serverless, b = batch; local hours of the week",
        "",
        *("  " + line for line in week_grid(summary["choices"]).splitlines()),
        "",
        f"  {summary['provisioned_hours_per_week']} provisioned hours a week; budget "
        f"{summary['cold_start_budget_per_month']:g} business-hour cold starts a month "
        f"({'met' if summary['within_budget'] else 'NOT met'})",
        f"  plan:                 ${plan['endpoint_usd_per_month']:,.2f}/month endpoints, "
        f"{plan['business_hours_cold_starts_per_month']:,.1f} business-hour cold starts "
        f"({plan['cold_starts_per_month']:,.0f} in all)",
        f"  business-hours rule:  ${seed['endpoint_usd_per_month']:,.2f}/month endpoints, "
        f"{seed['business_hours_cold_starts_per_month']:,.1f} business-hour cold starts "
        f"({seed['cold_starts_per_month']:,.0f} in all)",
        *(f"  note: {note}" for note in summary["notes"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="environment: reads templates/params/<env>.json")
    parser.add_argument("--params", type=Path, help="a params file instead of templates/params/<env>.json")
    parser.add_argument("--profile", help="traffic profile name or CSV (default: CostProfile.TrafficProfile)")
    parser.add_argument("--from-cloudwatch", action="store_true",
                        help="plan from the deployed environment's invocations instead of a traffic profile")
    parser.add_argument("--weeks", type=int, help="weeks of history to read (default: Parameters.PlanningWeeks)")
    parser.add_argument("--endpoint-url", help="send the AWS calls to this emulator URL")
    parser.add_argument("--week-start", type=date.fromisoformat, default=date(2026, 11, 16),
                        help="Monday a weekly profile is laid on (default 2026-11-16)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)
    if args.weeks is not None and not 1 <= args.weeks <= 12:
        print(f"plan-capacity: --weeks must be 1-12 (the range of PlanningWeeks), got {args.weeks}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        config, cfg = _config(args)
        if args.from_cloudwatch:
            weeks = args.weeks or int(config.get("Parameters", {}).get("PlanningWeeks", "4"))
            history, cfg, source = _cloudwatch_history(args.env, config, cfg, weeks, args.endpoint_url)
        else:
            history, source = _profile_history(cfg, args.profile, args.week_start)
        summary = plan_summary(cfg, history, source)
    except (ValueError, KeyError, ClientError, BotoCoreError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)  # ConfigError is a ValueError
        print(f"plan-capacity: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
