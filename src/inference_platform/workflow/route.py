"""The Route step: count the request's files (bounded) and decide the path.

Counting stops at the batch threshold: that is all the decision needs. The files themselves are never
listed into the state: the real-time paths' distributed Map lists the input prefix on its own
(``ItemReader`` ``s3:listObjectsV2``), so a forced real-time request over many files still covers all
of them, and the state stays small whatever the count.

Pure decision in :func:`decide`; the S3 listing in :func:`route_request`, with the client passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from inference_platform.workflow.config import RouteConfig
from inference_platform.workflow.listing import list_keys_up_to
from inference_platform.workflow.routing import (
    InferenceStrategy,
    RoutingContext,
    is_business_hours,
    resolve_inference_strategy,
)

# What an execution's input may ask for; "auto" lets the router choose.
DEFAULT_MODE = "auto"


@dataclass(frozen=True)
class Decision:
    strategy: InferenceStrategy
    file_count: int
    threshold_reached: bool
    business_hours: bool
    mode: str


def requested_mode(request: Any) -> str:
    if request is None:
        return DEFAULT_MODE
    if not isinstance(request, dict):
        raise ValueError(f"execution input must be a JSON object, got {type(request).__name__}")
    mode = request.get("mode", DEFAULT_MODE)
    if not isinstance(mode, str):
        raise ValueError(f"mode must be a string, got {mode!r}")
    return mode


def decide(config: RouteConfig, mode: str, file_count: int, threshold_reached: bool, now: datetime) -> Decision:
    business = is_business_hours(
        now, config.timezone, config.business_days, config.business_start_hour, config.business_end_hour
    )
    local_hour = now.astimezone(ZoneInfo(config.timezone)).hour
    ctx = RoutingContext(
        file_count=file_count,
        batch_threshold=config.batch_threshold,
        requested_mode=mode,
        current_hour=local_hour,
        is_business_hours=business,
        provisioned_enabled=bool(config.provisioned_endpoint),
        serverless_enabled=bool(config.serverless_endpoint),
    )
    return Decision(resolve_inference_strategy(ctx), file_count, threshold_reached, business, mode)


def route_request(s3: Any, config: RouteConfig, request: Any, execution_name: str, now: datetime) -> dict:
    """Everything the state machine needs to branch, small enough for any state payload."""
    if not execution_name:
        raise ValueError("execution_name is required (pass $$.Execution.Name)")
    mode = requested_mode(request)
    listing = list_keys_up_to(s3, config.input_location, config.input_prefix, config.batch_threshold,
                              exclude_prefix=config.output_prefix)
    decision = decide(config, mode, len(listing.keys), listing.limit_reached, now)
    return {
        "strategy": decision.strategy.value,
        "file_count": decision.file_count,
        "file_count_is_lower_bound": decision.threshold_reached,
        "business_hours": decision.business_hours,
        "mode": decision.mode,
        "listing_pages": listing.pages,
        "execution_name": execution_name,
    }
