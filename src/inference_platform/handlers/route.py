"""Route Lambda: ``{"request": <execution input>, "execution_name": ...}`` -> strategy and bounded file count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from inference_platform.shared.clients import client
from inference_platform.workflow.config import RouteConfig
from inference_platform.workflow.route import route_request

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict, context: Any) -> dict:
    config = RouteConfig.from_env()
    result = route_request(
        client("s3"), config, event.get("request"), str(event.get("execution_name", "")), datetime.now(UTC)
    )
    logger.info("routed", extra=result)
    return result
