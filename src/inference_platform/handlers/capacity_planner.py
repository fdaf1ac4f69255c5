"""Capacity planner Lambda (``RoutingPolicy: cost``), run weekly by EventBridge.

Reads the last ``PLANNING_WEEKS`` weeks of invocations (one batched GetMetricData), plans next week's path
for every local hour (:func:`inference_platform.planning.capacity.plan_hours`: the cheapest plan within
``COLD_START_BUDGET_PER_MONTH`` business-hour cold starts, never dearer than the business-hours rule), and
publishes it: the plan item the router reads, and the inference component's scheduled actions.

It runs in the account, not on a laptop, so the plan follows traffic every week without anyone's
credentials; ``make plan-capacity`` prints the same plan from a laptop without publishing it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from inference_platform.planning.capacity import CostInputs, plan_hours
from inference_platform.planning.publish import History, publish, weekly_requests
from inference_platform.shared import pricing
from inference_platform.shared.clients import client, current_region, table
from inference_platform.workflow.config import RouteConfig

logger = Logger()
HOURS_PER_MONTH = 730.0


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"environment variable {name} must be between {low:g} and {high:g}, got {raw!r}")
    return value


@dataclass(frozen=True)
class PlannerConfig:
    route: RouteConfig  # endpoints, business hours, time zone (the same variables the router reads)
    component: str
    weeks: int
    cold_start_budget_per_month: float
    expected_latency_ms: float
    instance_type: str
    serverless_memory_mb: int
    serverless_max_concurrency: int
    invocations_per_copy_per_minute: float
    max_copies: int
    wake_lead_minutes: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PlannerConfig:
        route = RouteConfig.from_env({**env, "INPUT_LOCATION": env.get("INPUT_LOCATION") or "unused",
                                      "ROUTING_POLICY": "cost"})
        component = env.get("PROVISIONED_INFERENCE_COMPONENT_NAME", "").strip()
        if not component or not route.serverless_endpoint:
            raise ValueError("the planner needs PROVISIONED_INFERENCE_COMPONENT_NAME and SERVERLESS_ENDPOINT_NAME "
                             "(RoutingPolicy cost needs EnableScaleToZero and EnableServerlessInference)")
        instance_type = env.get("INSTANCE_TYPE", "").strip()
        if not instance_type:
            raise ValueError("environment variable INSTANCE_TYPE is required and is empty or missing")
        return cls(
            route=route,
            component=component,
            weeks=int(_number(env, "PLANNING_WEEKS", 4, 1, 12)),
            cold_start_budget_per_month=_number(env, "COLD_START_BUDGET_PER_MONTH", 0, 0, 100_000),
            expected_latency_ms=_number(env, "EXPECTED_MODEL_LATENCY_MS", 150, 1, 60_000),
            instance_type=instance_type,
            serverless_memory_mb=int(_number(env, "SERVERLESS_MEMORY_MB", 2048, 1024, 6144)),
            serverless_max_concurrency=int(_number(env, "SERVERLESS_MAX_CONCURRENCY", 50, 1, 200)),
            invocations_per_copy_per_minute=_number(env, "TARGET_INVOCATIONS_PER_COPY", 70, 1, 100_000),
            max_copies=int(_number(env, "MAX_COPIES", 8, 1, 100)),
            wake_lead_minutes=int(_number(env, "WAKE_LEAD_MINUTES", 15, 1, 60)),
        )

    def business(self) -> list[bool]:
        route = self.route
        return [day in route.business_days and route.business_start_hour <= hour < route.business_end_hour
                for day in range(7) for hour in range(24)]

    def cost_inputs(self, region: str, latency_ms: float) -> CostInputs:
        latency_s = latency_ms / 1000
        return CostInputs(
            serverless_cost_per_request=latency_s * pricing.serverless_second_price(region, self.serverless_memory_mb),
            instance_hour_price=pricing.instance_hour_price(region, self.instance_type),
            requests_per_instance_hour=self.invocations_per_copy_per_minute * 60,
            latency_s=latency_s,
            serverless_max_concurrency=self.serverless_max_concurrency,
            wake_lead_hours=self.wake_lead_minutes / 60,
            max_instances=self.max_copies,
        )


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
    endpoints = [e for e in (config.route.provisioned_endpoint, config.route.serverless_endpoint) if e]
    history = weekly_requests(client("cloudwatch"), endpoints, weeks=config.weeks, now=now,
                              timezone=config.route.timezone)
    choices, details = plan_from_history(config, history, current_region())
    published = publish(table(config.route.state_table), client("application-autoscaling"), choices=choices,
                        component=config.component, timezone=config.route.timezone,
                        lead_minutes=config.wake_lead_minutes, max_copies=config.max_copies, details=details,
                        now=now)
    logger.info("capacity plan published", extra={**details, **published})
    return {**details, **published, "provisioned_hours": choices.count("provisioned")}
