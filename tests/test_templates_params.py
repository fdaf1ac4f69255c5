"""templates/params/<env>.json: the shared format, and values main.yaml accepts in every region."""

from __future__ import annotations

import json

import pytest
from template_loader import TEMPLATES, load_template

from inference_platform.template_params import validate_parameters

MAIN = load_template("main.yaml")
ENVS = ["local", "dev", "staging", "production"]
PRICES = json.loads((TEMPLATES.parent / "src/inference_platform/data/prices.json").read_text())
TOP_LEVEL = {"Environment", "StackName", "Regions", "DrTier", "DrTargets", "Tags", "Parameters", "BillingAlarms",
             "CostProfile"}


def config(env: str) -> dict:
    return json.loads((TEMPLATES / "params" / f"{env}.json").read_text())


@pytest.mark.parametrize("env", ENVS)
def test_file_has_the_shared_shape(env):
    cfg = config(env)
    assert set(cfg) == TOP_LEVEL
    assert cfg["Environment"] == env == cfg["Parameters"]["Environment"] == cfg["Tags"]["Environment"]
    assert cfg["DrTier"] in (1, 2, 3)
    assert str(cfg["DrTier"]) == cfg["Parameters"]["DrTier"]
    assert cfg["Regions"]["Primary"] == cfg["Parameters"]["PrimaryRegion"]
    assert cfg["Regions"]["Secondary"] == cfg["Parameters"]["SecondaryRegion"]
    assert set(cfg["DrTargets"]) == {"RpoMinutes", "RtoMinutes"}
    assert set(cfg["BillingAlarms"]) == {"Enabled", "MonthlyBudgetUsd", "AlarmEmail"}
    assert all(isinstance(value, str) for value in cfg["Parameters"].values())


@pytest.mark.parametrize("env", ENVS)
def test_parameters_satisfy_main_in_every_region_of_the_plan(env):
    cfg = config(env)
    regions = [cfg["Regions"]["Primary"]] + ([cfg["Regions"]["Secondary"]] if cfg["Regions"]["Secondary"] else [])
    for region in regions:
        assert validate_parameters(MAIN, cfg["Parameters"], region=region) == [], region


@pytest.mark.parametrize("env", ENVS)
def test_instance_types_have_prices_in_every_region(env):
    cfg = config(env)
    prices = PRICES["sagemaker_instance_hour"]["prices"]
    for region in filter(None, cfg["Regions"].values()):
        for name in ("InstanceType", "TransformInstanceType"):
            assert cfg["Parameters"][name] in prices[region], (region, name)


def test_local_switches_everything_on_for_the_emulator_demo():
    params = config("local")["Parameters"]
    flags = [name for name in MAIN["Parameters"] if name.startswith("Enable")]
    assert {params[name] for name in flags} == {"true"}
    assert params["IdleDetectionDryRun"] == "true"
    assert config("local")["Regions"] == {"Primary": "us-east-1", "Secondary": ""}
    assert config("local")["DrTier"] == 3


@pytest.mark.parametrize(("env", "secondary", "tier"), [("staging", "us-west-2", 2), ("production", "us-west-2", 1)])
def test_multi_region_environments(env, secondary, tier):
    cfg = config(env)
    assert cfg["Regions"] == {"Primary": "us-east-1", "Secondary": secondary}
    assert cfg["DrTier"] == tier


def test_production_endpoints_are_protected():
    assert config("production")["Parameters"]["ProtectionLevel"] == "critical"
    assert "critical" in config("production")["Parameters"]["IdleProtectedValues"].split(",")


@pytest.mark.parametrize("env", ENVS)
def test_deploy_placeholders_are_marked(env):
    """LambdaCodeKey is overwritten by the deploy script; real accounts must name their bootstrap bucket."""
    params = config(env)["Parameters"]
    assert params["LambdaCodeKey"].startswith("set-by-deploy/")
    if env == "local":
        assert params["ArtifactBucket"] == "ml-inference-local-artifacts"  # the emulator creates it
    else:
        assert params["ArtifactBucket"].startswith("replace-with-")
