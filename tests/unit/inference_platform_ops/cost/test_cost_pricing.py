"""The shipped price table: complete for every region and instance type the environments use."""

from __future__ import annotations

import pytest

from inference_platform.shared import pricing
from inference_platform.shared.constants import ENVIRONMENTS
from inference_platform_ops.cost.model import SERVERLESS_MEMORY_SIZES, CostConfig, UnitPrices
from inference_platform_ops.cost.report import load_params, template_defaults
from inference_platform_ops.deploy.dr_tiers import region_plans
from inference_platform_ops.paths import ROOT

PARAMS = ROOT / "templates" / "params"
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def test_every_section_names_its_source_and_date_and_covers_every_region():
    table = pricing.load_prices()
    for section in pricing.PRICED_SECTIONS:
        assert table[section]["source"].startswith("https://aws.amazon.com/"), section
        assert len(table[section]["as_of"]) == 10, section  # YYYY-MM-DD
        assert set(table[section]["prices"]) >= set(REGIONS), section


def test_serverless_prices_cover_every_memory_size_and_grow_with_memory():
    for region in REGIONS:
        prices = [pricing.serverless_second_price(region, memory) for memory in SERVERLESS_MEMORY_SIZES]
        assert prices == sorted(prices) and prices[0] > 0
        assert pricing.serverless_gb_processed_price(region) > 0


def test_batch_table_prices_every_real_time_instance_type():
    table = pricing.load_prices()
    for region in REGIONS:
        for instance_type in table["sagemaker_instance_hour"]["prices"][region]:
            assert pricing.batch_instance_hour_price(region, instance_type) > 0


def test_us_east_1_figures_used_by_the_hand_computed_cost_tests():
    assert pricing.instance_hour_price("us-east-1", "ml.m5.large") == 0.115
    assert pricing.serverless_second_price("us-east-1", 2048) == 0.00004
    assert pricing.serverless_gb_processed_price("us-east-1") == 0.016
    platform = pricing.platform_prices("us-east-1")
    assert platform.step_functions_per_transition == 0.000025
    assert platform.dynamodb_per_write_unit == 0.000000625


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: pricing.serverless_second_price("us-east-1", 1536), "1536 MB"),
        (lambda: pricing.serverless_second_price("ap-south-9", 2048), "ap-south-9"),
        (lambda: pricing.batch_instance_hour_price("us-east-1", "ml.p9.huge"), "ml.p9.huge"),
        (lambda: pricing.platform_prices("mars-north-1"), "mars-north-1"),
        (lambda: pricing._price("no_such_section", "us-east-1", "x"), "no_such_section"),
    ],
)
def test_missing_price_is_a_key_error_naming_what_is_missing(call, expected):
    with pytest.raises(KeyError, match=expected):
        call()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_prices_exist_for_every_region_and_instance_type_a_params_file_uses(env):
    path = PARAMS / f"{env}.json"
    if not path.is_file():
        pytest.skip(f"{path.name} does not exist yet")
    config = load_params(path)
    defaults = template_defaults(ROOT / "templates" / "main.yaml")
    for plan in region_plans(config):  # primary and, by DR tier, the secondary region
        regional = config | {"Regions": config["Regions"] | {"Primary": plan.region},
                             "Parameters": defaults | plan.parameters}
        cfg = CostConfig.from_params(regional, source=f"{path.name} [{plan.region}]")
        UnitPrices.for_config(cfg)  # raises KeyError naming the missing price
