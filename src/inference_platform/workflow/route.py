"""The Route step: count the request's files (bounded) and decide the path.

Counting stops at the batch threshold: that is all the decision needs. The files themselves are never
listed into the state: the real-time paths' distributed Map lists the input prefix on its own
(``ItemReader`` ``s3:listObjectsV2``), so a forced real-time request over many files still covers all
of them, and the state stays small whatever the count.

Pure decision in :func:`decide`; the S3 listing in :func:`route_request`, with the client passed in.

The execution input is checked first (:func:`requested_mode`): a field other than ``mode``, or a mode that
does not exist, is answered with strategy ``invalid_input`` and an error and cause in the input's own terms,
which the state machine fails with -- never a Lambda error, whose cause would carry a Python stack trace.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from inference_platform.workflow.config import RouteConfig
from inference_platform.workflow.listing import list_keys_up_to
from inference_platform.workflow.routing import (
    VALID_MODES,
    InferenceStrategy,
    RoutingContext,
    is_business_hours,
    resolve_inference_strategy,
)

# What an execution's input may ask for; "auto" lets the router choose.
DEFAULT_MODE = "auto"
INPUT_FIELDS = ("mode",)  # every field an execution input may have
INVALID_INPUT = "invalid_input"  # Route's strategy for an input it refuses; the state machine fails with the cause


class InvalidExecutionInput(ValueError):  # noqa: N818 - the error name the execution fails with
    """The execution input is not what the pipeline takes; the message names the input's own fields."""


@dataclass(frozen=True)
class Decision:
    strategy: InferenceStrategy
    file_count: int
    threshold_reached: bool
    business_hours: bool
    mode: str


def requested_mode(request: Any) -> str:
    """The input's ``mode``; every other field, and every other value, is refused in the input's own terms."""
    if not isinstance(request, dict):
        kind = "null" if request is None else type(request).__name__
        raise InvalidExecutionInput(f"the execution input must be a JSON object such as {{}} or "
                                    f'{{"mode": "batch"}}, got {kind}')
    unknown = sorted(set(request) - set(INPUT_FIELDS))
    if unknown:
        hint = difflib.get_close_matches(unknown[0], INPUT_FIELDS, n=1)
        maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InvalidExecutionInput(f"the execution input has the unknown field {unknown[0]!r}{maybe}; accepted "
                                    f"fields: {', '.join(INPUT_FIELDS)}")
    mode = request.get("mode", DEFAULT_MODE)
    if mode not in VALID_MODES:
        raise InvalidExecutionInput(f"mode must be one of {', '.join(VALID_MODES)}, got {mode!r}")
    return mode


def refusal(exc: InvalidExecutionInput, execution_name: str) -> dict:
    """Route's answer for an input it refuses: the state machine fails with this error and cause (no trace)."""
    return {"strategy": INVALID_INPUT, "file_count": 0, "file_count_is_lower_bound": False, "business_hours": False,
            "mode": "", "listing_pages": 0, "execution_name": execution_name,
            "error": type(exc).__name__, "cause": str(exc)}


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
    try:
        mode = requested_mode(request)
    except InvalidExecutionInput as exc:
        return refusal(exc, execution_name)
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
        "error": "",
        "cause": "",
    }
