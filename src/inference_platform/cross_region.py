"""Contract path ``inference_platform.cross_region``; the code is in ``inference_platform.resilience.cross_region``."""

from inference_platform.resilience.cross_region import (
    BreakerOpenError,
    CrossRegionClient,
    CrossRegionUnavailableError,
    InvocationResult,
    SlowResponseError,
    default_client_factory,
    is_region_failure,
)

__all__ = [
    "BreakerOpenError", "CrossRegionClient", "CrossRegionUnavailableError", "InvocationResult",
    "SlowResponseError", "default_client_factory", "is_region_failure",
]
