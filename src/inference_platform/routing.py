"""Contract path ``inference_platform.routing``; the code is in ``inference_platform.workflow.routing``."""

from inference_platform.workflow.routing import (
    VALID_MODES,
    InferenceStrategy,
    RoutingContext,
    is_business_hours,
    resolve_inference_strategy,
)

__all__ = ["VALID_MODES", "InferenceStrategy", "RoutingContext", "is_business_hours", "resolve_inference_strategy"]
