"""The Route step: count the request's files (bounded), decide the path, and hand over a manifest reference.

Pure decision in :func:`decide`; S3 side effects in :func:`route_request`, with the client passed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from inference_platform.routing import InferenceStrategy, RoutingContext, is_business_hours, resolve_inference_strategy
from inference_platform.s3_listing import list_keys_up_to
from inference_platform.workflow_config import RouteConfig

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


def manifest_key(config: RouteConfig, execution_name: str) -> str:
    return f"{config.output_prefix}manifests/{execution_name}.json"


def route_request(s3: Any, config: RouteConfig, request: Any, execution_name: str, now: datetime) -> dict:
    """Everything the state machine needs to branch, small enough for any state payload."""
    if not execution_name:
        raise ValueError("execution_name is required (pass $$.Execution.Name)")
    mode = requested_mode(request)
    listing = list_keys_up_to(s3, config.input_location, config.input_prefix, config.batch_threshold)
    decision = decide(config, mode, len(listing.keys), listing.limit_reached, now)
    result: dict[str, Any] = {
        "strategy": decision.strategy.value,
        "file_count": decision.file_count,
        "file_count_is_lower_bound": decision.threshold_reached,
        "business_hours": decision.business_hours,
        "mode": decision.mode,
        "listing_pages": listing.pages,
        "manifest": None,
    }
    if decision.strategy is not InferenceStrategy.BATCH_TRANSFORM and listing.keys:
        # The key list goes to S3, the state carries only where it is (the 256 KB payload limit).
        key = manifest_key(config, execution_name)
        body = json.dumps([{"key": k} for k in listing.keys]).encode()
        s3.put_object(Bucket=config.input_location, Key=key, Body=body, ContentType="application/json")
        result["manifest"] = {"bucket": config.input_location, "key": key}
    return result
