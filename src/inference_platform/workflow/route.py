"""The Route step: count the request's files (bounded) and decide the path.

Counting stops at the batch threshold: that is all the decision needs. InferencePipeline never gets the
files in its state: its distributed Map lists the input prefix on its own (``ItemReader``
``s3:listObjectsV2``), so a forced real-time request over many files still covers all of them. Only the
Express front door asks for the keys, and only up to a small bound (``list_keys_up_to``), so its file
set can run without a listing of its own.

A scale-to-zero endpoint (an inference component) is chosen only while it has a copy; under
``RoutingPolicy: cost`` the hour-of-week plan replaces the business-hours rule.

Pure decision in :func:`decide`; the S3 listing in :func:`route_request`, with the client passed in.

The execution input is checked first (:func:`requested_mode`): a field other than ``mode``, or a mode that
does not exist, is answered with strategy ``invalid_input`` and an error and cause in the input's own terms,
which the state machine fails with -- never a Lambda error, whose cause would carry a Python stack trace.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from inference_platform.planning.capacity import HOURS_PER_WEEK, hour_of_week
from inference_platform.workflow.config import RouteConfig
from inference_platform.workflow.listing import list_keys_up_to as list_keys_up_to_threshold
from inference_platform.workflow.routing import (
    VALID_MODES,
    InferenceStrategy,
    RoutingContext,
    is_business_hours,
    resolve_inference_strategy,
)

# What an execution's input may ask for; "auto" lets the router choose.
DEFAULT_MODE = "auto"
INPUT_FIELDS = ("mode",)  # every field a caller's execution input may have
# Also accepted: the Express front door hands a failed real-time run over to the batch path with these (its
# StartBatch then cancels that run); they are not offered to callers.
HANDOVER_FIELDS = ("replaces", "fallback_reason")
INVALID_INPUT = "invalid_input"  # Route's strategy for an input it refuses; the state machine fails with the cause
MAX_LISTED_KEYS = 200


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
    unknown = sorted(set(request) - set(INPUT_FIELDS) - set(HANDOVER_FIELDS))
    if unknown:
        hint = difflib.get_close_matches(unknown[0], INPUT_FIELDS, n=1)
        maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InvalidExecutionInput(f"the execution input has the unknown field {unknown[0]!r}{maybe}; accepted "
                                    f"fields: {', '.join(INPUT_FIELDS)}")
    mode = request.get("mode", DEFAULT_MODE)
    if mode not in VALID_MODES:
        raise InvalidExecutionInput(f"mode must be one of {', '.join(VALID_MODES)}, got {mode!r}")
    if "replaces" in request or "fallback_reason" in request:
        replaces = request.get("replaces")
        if mode != "batch" or not isinstance(request.get("fallback_reason"), dict) or not (
                isinstance(replaces, str) and 1 <= len(replaces) <= 80):
            raise InvalidExecutionInput('replaces and fallback_reason hand a failed real-time request over to '
                                        'batch: both together, with mode "batch", replaces an execution name '
                                        '(1-80 characters) and fallback_reason an object')
    return mode


def refusal(exc: InvalidExecutionInput, execution_name: str) -> dict:
    """Route's answer for an input it refuses: the state machine fails with this error and cause (no trace)."""
    return {"strategy": INVALID_INPUT, "target": None, "file_count": 0, "file_count_is_lower_bound": False,
            "business_hours": False, "mode": "", "listing_pages": 0, "execution_name": execution_name,
            "keys": None, "error": type(exc).__name__, "cause": str(exc)}


TARGETS = {InferenceStrategy.PROVISIONED_ENDPOINT: "provisioned", InferenceStrategy.SERVERLESS_INFERENCE: "serverless"}
PLAN_STRATEGIES = {"provisioned": InferenceStrategy.PROVISIONED_ENDPOINT.value,
                   "serverless": InferenceStrategy.SERVERLESS_INFERENCE.value,
                   "batch": InferenceStrategy.BATCH_TRANSFORM.value}


def planned_strategy(plan: Sequence[str] | None, config: RouteConfig, now: datetime) -> str | None:
    """The hour-of-week plan's strategy for ``now`` (local time), or None: no plan, or the default policy."""
    if config.routing_policy != "cost" or not plan:
        return None
    if len(plan) != HOURS_PER_WEEK or any(choice not in PLAN_STRATEGIES for choice in plan):
        raise ValueError(f"the capacity plan must list {HOURS_PER_WEEK} hours of "
                         f"{'/'.join(PLAN_STRATEGIES)}; got {len(plan)} entries")
    local = now.astimezone(ZoneInfo(config.timezone))
    return PLAN_STRATEGIES[plan[hour_of_week(local.weekday(), local.hour)]]


def decide(config: RouteConfig, mode: str, file_count: int, threshold_reached: bool, now: datetime, *,
           provisioned_has_capacity: Callable[[], bool] = lambda: True,
           plan: Sequence[str] | None = None) -> Decision:
    """The strategy for this request. ``provisioned_has_capacity`` is asked only when the provisioned path
    would be chosen: a scale-to-zero endpoint with no copy is treated as absent (serverless, else batch)."""
    business = is_business_hours(
        now, config.timezone, config.business_days, config.business_start_hour, config.business_end_hour
    )
    local_hour = now.astimezone(ZoneInfo(config.timezone)).hour

    def resolve(provisioned: bool) -> InferenceStrategy:
        return resolve_inference_strategy(RoutingContext(
            file_count=file_count,
            batch_threshold=config.batch_threshold,
            requested_mode=mode,
            current_hour=local_hour,
            is_business_hours=business,
            provisioned_enabled=provisioned,
            serverless_enabled=bool(config.serverless_endpoint),
            planned_strategy=planned_strategy(plan, config, now),
        ))

    strategy = resolve(bool(config.provisioned_endpoint))
    if strategy is InferenceStrategy.PROVISIONED_ENDPOINT and not provisioned_has_capacity():
        strategy = resolve(False)
    return Decision(strategy, file_count, threshold_reached, business, mode)


def route_request(s3: Any, config: RouteConfig, request: Any, execution_name: str, now: datetime, *,
                  list_keys_up_to: int | None = None,
                  provisioned_has_capacity: Callable[[], bool] = lambda: True,
                  plan: Callable[[], Sequence[str] | None] = lambda: None) -> dict:
    """Everything the state machine needs to branch, small enough for any state payload.

    ``list_keys_up_to`` (the Express front door): for a real-time request of at most that many files, the
    keys themselves (at most 200 keys of at most 1 KB: under the 256 KB state limit), else ``keys`` None.
    """
    if not execution_name:
        raise ValueError("execution_name is required (pass $$.Execution.Name)")
    if list_keys_up_to is not None and not 1 <= list_keys_up_to <= MAX_LISTED_KEYS:
        raise ValueError(f"list_keys_up_to must be 1-{MAX_LISTED_KEYS}, got {list_keys_up_to}")
    try:
        mode = requested_mode(request)
    except InvalidExecutionInput as exc:
        return refusal(exc, execution_name)
    listing = list_keys_up_to_threshold(s3, config.input_location, config.input_prefix, config.batch_threshold,
                                        exclude_prefix=config.output_prefix)
    decision = decide(config, mode, len(listing.keys), listing.limit_reached, now,
                      provisioned_has_capacity=provisioned_has_capacity,
                      plan=plan() if config.routing_policy == "cost" else None)
    target = TARGETS.get(decision.strategy)
    small = list_keys_up_to is not None and not listing.limit_reached and len(listing.keys) <= list_keys_up_to
    return {
        "strategy": decision.strategy.value,
        "target": target,
        "file_count": decision.file_count,
        "file_count_is_lower_bound": decision.threshold_reached,
        "business_hours": decision.business_hours,
        "mode": decision.mode,
        "listing_pages": listing.pages,
        "execution_name": execution_name,
        "keys": list(listing.keys) if target and small else None,
        "error": "",
        "cause": "",
    }
