"""The price table shipped with the package, shared by the idle detector and the cost report."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def load_prices() -> dict:
    return json.loads(resources.files("inference_platform").joinpath("data/prices.json").read_text())


def instance_hour_price(region: str, instance_type: str) -> float:
    """On-demand price of one SageMaker real-time inference instance-hour; KeyError names what is missing."""
    table = load_prices()["sagemaker_instance_hour"]["prices"]
    if region not in table:
        raise KeyError(f"no SageMaker prices for region {region!r} in data/prices.json (have: {', '.join(table)})")
    if instance_type not in table[region]:
        raise KeyError(f"no price for {instance_type!r} in {region} in data/prices.json")
    return float(table[region][instance_type])
