"""The price table shipped with the package, shared by the idle detector and the cost report.

Every section of ``data/prices.json`` has the same shape: ``source``, ``as_of`` and
``prices[region][key]``. A missing region or key is a ``KeyError`` that names the section, the
region and what is missing, so a stale table fails loudly instead of costing something at $0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

PRICED_SECTIONS = (
    "sagemaker_instance_hour",
    "sagemaker_batch_transform_instance_hour",
    "sagemaker_serverless",
    "sagemaker_serverless_provisioned_concurrency",
    "lambda",
    "step_functions_standard",
    "step_functions_express",
    "dynamodb_on_demand",
    "cloudwatch",
)


@cache
def load_prices() -> dict:
    return json.loads(resources.files("inference_platform.shared").joinpath("data/prices.json").read_text())


def instance_hour_price(region: str, instance_type: str) -> float:
    """On-demand price of one SageMaker real-time inference instance-hour; KeyError names what is missing."""
    table = load_prices()["sagemaker_instance_hour"]["prices"]
    if region not in table:
        raise KeyError(f"no SageMaker prices for region {region!r} in data/prices.json (have: {', '.join(table)})")
    if instance_type not in table[region]:
        raise KeyError(f"no price for {instance_type!r} in {region} in data/prices.json")
    return float(table[region][instance_type])


def _region_table(section: str, region: str) -> dict:
    prices = load_prices()
    if section not in prices:
        raise KeyError(f"data/prices.json has no section {section!r}")
    table = prices[section]["prices"]
    if region not in table:
        raise KeyError(f"no {section} prices for region {region!r} in data/prices.json (have: {', '.join(table)})")
    return table[region]


def _price(section: str, region: str, key: str) -> float:
    table = _region_table(section, region)
    if key not in table:
        raise KeyError(f"no {section} price {key!r} for {region} in data/prices.json")
    return float(table[key])


def batch_instance_hour_price(region: str, instance_type: str) -> float:
    """On-demand price of one batch transform instance-hour (billed per second)."""
    return _price("sagemaker_batch_transform_instance_hour", region, instance_type)


def serverless_second_price(region: str, memory_mb: int) -> float:
    """Price of one second of serverless inference compute at ``memory_mb`` (1024-6144 in 1024 steps)."""
    table = _region_table("sagemaker_serverless", region)["per_second_by_memory_mb"]
    if str(memory_mb) not in table:
        raise KeyError(
            f"no sagemaker_serverless price for memory {memory_mb} MB in {region} "
            f"in data/prices.json (have: {', '.join(table)})"
        )
    return float(table[str(memory_mb)])


def _by_memory(section: str, key: str, region: str, memory_mb: int) -> float:
    table = _region_table(section, region)
    if key not in table:
        raise KeyError(f"no {section} price {key!r} for {region} in data/prices.json")
    if str(memory_mb) not in table[key]:
        raise KeyError(f"no {section} {key} price for memory {memory_mb} MB in {region} in data/prices.json "
                       f"(have: {', '.join(table[key])})")
    return float(table[key][str(memory_mb)])


def serverless_provisioned_concurrency_prices(region: str, memory_mb: int) -> tuple[float, float]:
    """(USD per second per unit of provisioned concurrency, USD per second of compute it serves) at ``memory_mb``."""
    section = "sagemaker_serverless_provisioned_concurrency"
    return (_by_memory(section, "provisioned_per_second_by_memory_mb", region, memory_mb),
            _by_memory(section, "inference_per_second_by_memory_mb", region, memory_mb))


def serverless_gb_processed_price(region: str) -> float:
    """Price of one GB of serverless inference data processed (request in + response out)."""
    return _price("sagemaker_serverless", region, "per_gb_processed")


@dataclass(frozen=True)
class PlatformPrices:
    """Per-unit prices of the services the pipeline itself uses in one region."""

    lambda_per_request: float
    lambda_per_gb_second: float
    step_functions_per_transition: float
    express_per_request: float
    express_per_gb_second: float
    dynamodb_per_write_unit: float
    dynamodb_per_read_unit: float
    cloudwatch_per_alarm_month: float
    cloudwatch_per_metric_month: float


def platform_prices(region: str) -> PlatformPrices:
    return PlatformPrices(
        lambda_per_request=_price("lambda", region, "per_request"),
        lambda_per_gb_second=_price("lambda", region, "per_gb_second"),
        step_functions_per_transition=_price("step_functions_standard", region, "per_state_transition"),
        express_per_request=_price("step_functions_express", region, "per_request"),
        express_per_gb_second=_price("step_functions_express", region, "per_gb_second"),
        dynamodb_per_write_unit=_price("dynamodb_on_demand", region, "per_write_request_unit"),
        dynamodb_per_read_unit=_price("dynamodb_on_demand", region, "per_read_request_unit"),
        cloudwatch_per_alarm_month=_price("cloudwatch", region, "per_alarm_month"),
        cloudwatch_per_metric_month=_price("cloudwatch", region, "per_custom_metric_month"),
    )


def price_sources() -> dict[str, dict[str, str]]:
    """``{section: {"source": ..., "as_of": ...}}`` for every priced section, printed under the report."""
    prices = load_prices()
    return {name: {"source": prices[name]["source"], "as_of": prices[name]["as_of"]} for name in PRICED_SECTIONS}
