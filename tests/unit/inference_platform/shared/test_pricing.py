"""The shipped price table: lookups name what is missing instead of pricing it at $0."""

from __future__ import annotations

import pytest

from inference_platform.shared.pricing import instance_hour_price


def test_price_table_names_missing_region_and_type():
    assert instance_hour_price("us-east-1", "ml.m5.large") > 0
    with pytest.raises(KeyError, match="ap-south-9"):
        instance_hour_price("ap-south-9", "ml.m5.large")
    with pytest.raises(KeyError, match="ml.p9.huge"):
        instance_hour_price("us-east-1", "ml.p9.huge")
