"""Route Lambda: ``{"request": <execution input>, "execution_name": ..., "list_keys_up_to": N?}`` -> strategy,
target and bounded file count (and, for the Express front door, the keys of a small real-time request)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from inference_platform.shared.clients import client, table
from inference_platform.workflow.capacity_state import CapacityState
from inference_platform.workflow.config import RouteConfig
from inference_platform.workflow.route import route_request

logger = Logger()
CAPACITY = CapacityState()  # per warm Lambda: copies and plan are re-read at most every 30 s / 5 min


def _keys_wanted(event: dict) -> int | None:
    value = event.get("list_keys_up_to")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"list_keys_up_to must be a whole number, got {value!r}") from None


@logger.inject_lambda_context
def handler(event: dict, context: Any) -> dict:
    config = RouteConfig.from_env()
    component = config.provisioned_inference_component
    result = route_request(
        client("s3"), config, event.get("request"), str(event.get("execution_name", "")), datetime.now(UTC),
        list_keys_up_to=_keys_wanted(event),
        provisioned_has_capacity=(lambda: CAPACITY.component_has_copies(client("sagemaker"), component))
        if component else (lambda: True),
        plan=lambda: CAPACITY.plan(table(config.state_table)),
    )
    logger.info("routed", extra={k: v for k, v in result.items() if k != "keys"})
    return result
