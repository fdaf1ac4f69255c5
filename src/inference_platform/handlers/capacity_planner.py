"""Capacity planner Lambda (``RoutingPolicy: cost``), run weekly by EventBridge.

Reads the last ``PLANNING_WEEKS`` weeks of invocations (one batched GetMetricData), plans next week's path
for every local hour (:func:`inference_platform.planning.capacity.plan_hours`: the cheapest plan within
``COLD_START_BUDGET_PER_MONTH`` business-hour cold starts, never dearer than the business-hours rule), and
publishes it: the plan item the router reads, and the inference component's scheduled actions.

It runs in the account, not on a laptop, so the plan follows traffic every week without anyone's
credentials; ``make plan-capacity`` prints the same plan from a laptop without publishing it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from inference_platform.planning.capacity import plan_hours
from inference_platform.planning.config import HOURS_PER_MONTH, PlannerConfig
from inference_platform.planning.publish import History, metric_sources, publish, weekly_requests
from inference_platform.shared.clients import client, current_region, table

logger = Logger()


def plan_from_history(config: PlannerConfig, history: History, region: str) -> tuple[list[str], dict]:
    latency_ms = history.latency_ms or config.expected_latency_ms
    budget_per_week = config.cold_start_budget_per_month * 168 / HOURS_PER_MONTH
    plan = plan_hours(config.cost_inputs(region, latency_ms), history.requests, config.business(), budget_per_week)
    details = {  # strings: the state table is written through the DynamoDB resource (no floats)
        "weeks": str(history.weeks),
        "model_latency_ms": f"{latency_ms:.1f}",
        "expected_endpoint_usd_per_week": f"{plan.outcome.cost:.2f}",
        "business_cold_starts_per_week": f"{plan.outcome.business_cold_starts:.2f}",
        "within_budget": str(plan.within_budget).lower(),
    }
    return list(plan.choices), details


@logger.inject_lambda_context
def handler(event: dict, context: Any) -> dict:
    config = PlannerConfig.from_env()
    now = datetime.now(UTC)
    sources = metric_sources(component=config.component, endpoints=[config.route.serverless_endpoint])
    history = weekly_requests(client("cloudwatch"), sources, weeks=config.weeks, now=now,
                              timezone=config.route.timezone)
    choices, details = plan_from_history(config, history, current_region())
    published = publish(table(config.route.state_table), client("application-autoscaling"), choices=choices,
                        component=config.component, timezone=config.route.timezone,
                        lead_minutes=config.wake_lead_minutes, max_copies=config.max_copies, details=details,
                        now=now)
    logger.info("capacity plan published", extra={**details, **published})
    return {**details, **published, "provisioned_hours": choices.count("provisioned")}
