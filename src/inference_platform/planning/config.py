"""Settings of the capacity planner Lambda (``RoutingPolicy: cost``), read once per run from its environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from inference_platform.planning.capacity import CostInputs
from inference_platform.shared import pricing
from inference_platform.shared.settings import ConfigError, integer, required, text
from inference_platform.workflow.config import RouteConfig

HOURS_PER_MONTH = 730.0


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = text(env, name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw!r}")
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
        # The router's settings of business hours, endpoints and state table; the planner reads no input
        # files, so the input/output settings it does not have get harmless placeholders.
        route = RouteConfig.from_env({**env, "INPUT_LOCATION": text(env, "INPUT_LOCATION", "unused"),
                                      "INPUT_PREFIX": text(env, "INPUT_PREFIX", "input/"),
                                      "OUTPUT_PREFIX": text(env, "OUTPUT_PREFIX", "output/"),
                                      "ROUTING_POLICY": "cost"})
        component = required(env, "PROVISIONED_INFERENCE_COMPONENT_NAME")
        if not route.serverless_endpoint:
            raise ConfigError("SERVERLESS_ENDPOINT_NAME is required: RoutingPolicy cost sends quiet hours to "
                              "serverless (EnableServerlessInference)")
        return cls(
            route=route,
            component=component,
            weeks=integer(env, "PLANNING_WEEKS", 4, 1, 12),
            cold_start_budget_per_month=_number(env, "COLD_START_BUDGET_PER_MONTH", 0, 0, 100_000),
            expected_latency_ms=_number(env, "EXPECTED_MODEL_LATENCY_MS", 150, 1, 60_000),
            instance_type=required(env, "INSTANCE_TYPE"),
            serverless_memory_mb=integer(env, "SERVERLESS_MEMORY_MB", 2048, 1024, 6144),
            serverless_max_concurrency=integer(env, "SERVERLESS_MAX_CONCURRENCY", 50, 1, 200),
            invocations_per_copy_per_minute=_number(env, "TARGET_INVOCATIONS_PER_COPY", 70, 1, 100_000),
            max_copies=integer(env, "MAX_COPIES", 8, 1, 100),
            wake_lead_minutes=integer(env, "WAKE_LEAD_MINUTES", 15, 1, 60),
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
