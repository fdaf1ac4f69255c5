"""The routing contract (docs/workflow.md, "Routing"): forced modes, thresholds, business hours, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inference_platform.workflow.routing import (
    InferenceStrategy,
    RoutingContext,
    is_business_hours,
    resolve_inference_strategy,
)


def ctx(**overrides) -> RoutingContext:
    base = dict(file_count=10, batch_threshold=100, requested_mode="auto", current_hour=12, is_business_hours=True)
    base.update(overrides)
    return RoutingContext(**base)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, InferenceStrategy.PROVISIONED_ENDPOINT),
        ({"is_business_hours": False, "current_hour": 22}, InferenceStrategy.SERVERLESS_INFERENCE),
        ({"file_count": 100}, InferenceStrategy.BATCH_TRANSFORM),
        ({"requested_mode": "serverless", "file_count": 10_000}, InferenceStrategy.SERVERLESS_INFERENCE),
        ({"requested_mode": "batch", "file_count": 1}, InferenceStrategy.BATCH_TRANSFORM),
        ({"requested_mode": "provisioned", "is_business_hours": False}, InferenceStrategy.PROVISIONED_ENDPOINT),
        ({"provisioned_enabled": False}, InferenceStrategy.SERVERLESS_INFERENCE),
        ({"provisioned_enabled": False, "serverless_enabled": False}, InferenceStrategy.BATCH_TRANSFORM),
        ({"requested_mode": "serverless", "serverless_enabled": False}, InferenceStrategy.BATCH_TRANSFORM),
    ],
)
def test_routing_table(overrides, expected):
    assert resolve_inference_strategy(ctx(**overrides)) is expected


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"file_count": -1}, "file_count"),
        ({"batch_threshold": 0}, "batch_threshold"),
        ({"current_hour": 24}, "current_hour"),
        ({"requested_mode": "fastest"}, "requested_mode"),
    ],
)
def test_invalid_input_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        resolve_inference_strategy(ctx(**overrides))


def test_business_hours_follow_the_local_clock_across_dst():
    # 13:30 UTC is 09:30 in New York in summer (EDT) but 08:30 in winter (EST).
    assert is_business_hours(datetime(2026, 7, 1, 13, 30, tzinfo=UTC), "America/New_York")
    assert not is_business_hours(datetime(2026, 1, 7, 13, 30, tzinfo=UTC), "America/New_York")
    assert not is_business_hours(datetime(2026, 7, 4, 15, 0, tzinfo=UTC), "America/New_York")  # Saturday


def test_unknown_timezone_is_a_clear_error():
    with pytest.raises(ValueError, match="timezone"):
        is_business_hours(datetime(2026, 7, 1, tzinfo=UTC), "Mars/Olympus_Mons")

