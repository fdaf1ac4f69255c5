"""Deterministic choice of the inference path for a request.

Pure functions only: the same context always yields the same strategy, nothing is read
from the clock or the environment here (callers pass ``current_hour``/``is_business_hours``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

VALID_MODES = ("auto", "batch", "provisioned", "serverless")


class InferenceStrategy(StrEnum):
    BATCH_TRANSFORM = "batch_transform"
    PROVISIONED_ENDPOINT = "provisioned_endpoint"
    SERVERLESS_INFERENCE = "serverless_inference"


@dataclass(frozen=True)
class RoutingContext:
    file_count: int
    batch_threshold: int
    requested_mode: str
    current_hour: int
    is_business_hours: bool
    provisioned_enabled: bool = True
    serverless_enabled: bool = True
    # RoutingPolicy cost: the hour-of-week plan's path for this hour (a strategy value), or None for the
    # default business-hours rule. It replaces only the business-hours rule: forced modes and the batch
    # threshold still win, and a disabled path still falls back.
    planned_strategy: str | None = None

    def validate(self) -> None:
        for name in ("file_count", "batch_threshold", "current_hour"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.file_count < 0:
            raise ValueError(f"file_count must be >= 0, got {self.file_count}")
        if self.batch_threshold < 1:
            raise ValueError(f"batch_threshold must be >= 1, got {self.batch_threshold}")
        if not 0 <= self.current_hour <= 23:
            raise ValueError(f"current_hour must be in 0-23, got {self.current_hour}")
        if self.requested_mode not in VALID_MODES:
            raise ValueError(f"requested_mode must be one of {', '.join(VALID_MODES)}, got {self.requested_mode!r}")
        for name in ("is_business_hours", "provisioned_enabled", "serverless_enabled"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a boolean, got {getattr(self, name)!r}")
        if self.planned_strategy is not None and self.planned_strategy not in {s.value for s in InferenceStrategy}:
            raise ValueError(f"planned_strategy must be None or one of "
                             f"{', '.join(s.value for s in InferenceStrategy)}, got {self.planned_strategy!r}")


_FORCED = {
    "batch": InferenceStrategy.BATCH_TRANSFORM,
    "provisioned": InferenceStrategy.PROVISIONED_ENDPOINT,
    "serverless": InferenceStrategy.SERVERLESS_INFERENCE,
}


def _enabled(ctx: RoutingContext, strategy: InferenceStrategy) -> bool:
    if strategy is InferenceStrategy.PROVISIONED_ENDPOINT:
        return ctx.provisioned_enabled
    if strategy is InferenceStrategy.SERVERLESS_INFERENCE:
        return ctx.serverless_enabled
    return True  # batch transform needs no standing endpoint: always available


def resolve_inference_strategy(ctx: RoutingContext) -> InferenceStrategy:
    """Pick the cheapest enabled path that meets latency; batch is the fallback for anything disabled."""
    ctx.validate()
    if ctx.requested_mode in _FORCED:
        preferred = _FORCED[ctx.requested_mode]
    elif ctx.file_count >= ctx.batch_threshold:
        preferred = InferenceStrategy.BATCH_TRANSFORM
    elif ctx.planned_strategy is not None:
        preferred = InferenceStrategy(ctx.planned_strategy)
    elif ctx.is_business_hours:
        preferred = InferenceStrategy.PROVISIONED_ENDPOINT
    else:
        preferred = InferenceStrategy.SERVERLESS_INFERENCE
    if _enabled(ctx, preferred):
        return preferred
    # Auto mode prefers the other real-time path before batch; a forced mode falls to batch.
    if ctx.requested_mode == "auto":
        for alternative in (InferenceStrategy.PROVISIONED_ENDPOINT, InferenceStrategy.SERVERLESS_INFERENCE):
            if _enabled(ctx, alternative):
                return alternative
    return InferenceStrategy.BATCH_TRANSFORM


def is_business_hours(
    now: datetime, timezone: str, weekdays: tuple[int, ...] = (0, 1, 2, 3, 4), start_hour: int = 9, end_hour: int = 18
) -> bool:
    """True when ``now`` (timezone-aware) falls on a business weekday in [start_hour, end_hour) local time.

    ``weekdays`` uses Python's numbering (Monday=0).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone: unknown timezone {timezone!r}") from exc
    if not (0 <= start_hour <= 23 and 1 <= end_hour <= 24 and start_hour < end_hour):
        raise ValueError(f"start_hour/end_hour must satisfy 0 <= start < end <= 24, got {start_hour}, {end_hour}")
    if any(day not in range(7) for day in weekdays):
        raise ValueError(f"weekdays must be in 0-6 (Monday=0), got {weekdays}")
    local = now.astimezone(zone)
    return local.weekday() in weekdays and start_hour <= local.hour < end_hour
