"""templates/params/<env>.json: the shared format, and values main.yaml accepts in every region."""

from __future__ import annotations

import json

import pytest

from inference_platform.shared.constants import ENVIRONMENTS
from inference_platform.shared.pricing import load_prices
from inference_platform_ops.deploy.deploy import pre_check_parameters
from inference_platform_ops.deploy.dr_tiers import region_plans
from inference_platform_ops.templates import validate_parameters
from tests.helpers.template_loader import TEMPLATES, load_template

MAIN = load_template("main.yaml")
ENVS = ENVIRONMENTS
PRICES = load_prices()
TOP_LEVEL = {"Environment", "StackName", "Regions", "DrTier", "DrTargets", "Tags", "Parameters", "BillingAlarms",
             "CostProfile"}
OPTIONAL = {"RegionParameters"}


def config(env: str) -> dict:
    return json.loads((TEMPLATES / "params" / f"{env}.json").read_text())


@pytest.mark.parametrize("env", ENVS)
def test_file_has_the_shared_shape(env):
    cfg = config(env)
    assert TOP_LEVEL <= set(cfg) <= TOP_LEVEL | OPTIONAL
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
    plans = region_plans(config(env))
    assert [plan.role for plan in plans] == (["primary"] if config(env)["DrTier"] == 3 else ["primary", "secondary"])
    for plan in plans:
        checked = pre_check_parameters(config(env), plan)
        assert validate_parameters(MAIN, checked, region=plan.region) == [], plan.region


@pytest.mark.parametrize("env", ENVS)
def test_each_region_pulls_its_model_image_from_its_own_region(env):
    """SageMaker pulls the container from ECR in the endpoint's region."""
    for plan in region_plans(config(env)):
        assert f".dkr.ecr.{plan.region}.amazonaws.com/" in plan.parameters["ModelImageUri"], plan.region


@pytest.mark.parametrize("env", ["staging", "production"])
def test_artifact_buckets_come_from_each_regions_bootstrap_stack(env):
    """Lambda reads its code only from a bucket in its own region: no params file names one (no placeholder to
    paste over); the deploy reads each region's ArtifactBucketName output of its bootstrap stack."""
    cfg = config(env)
    assert "ArtifactBucket" not in cfg["Parameters"]
    assert all("ArtifactBucket" not in values for values in (cfg.get("RegionParameters") or {}).values())
    assert "replace-with" not in json.dumps(cfg)


@pytest.mark.parametrize("env", ENVS)
def test_instance_types_have_prices_in_every_region(env):
    cfg = config(env)
    prices = PRICES["sagemaker_instance_hour"]["prices"]
    for region in filter(None, cfg["Regions"].values()):
        for name in ("InstanceType", "TransformInstanceType"):
            assert cfg["Parameters"][name] in prices[region], (region, name)


def test_local_switches_everything_on_for_the_emulator_demo():
    """Every capability but scale to zero: moto has no SageMaker inference components (no API, no
    CloudFormation type), so the emulator could neither create one nor tell the router its copy count."""
    params = config("local")["Parameters"]
    flags = [name for name in MAIN["Parameters"] if name.startswith("Enable") and name != "EnableScaleToZero"]
    assert {params[name] for name in flags} == {"true"}
    assert params.get("EnableScaleToZero", "false") == "false"
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
def test_lambda_code_key_is_marked_as_set_by_the_deploy(env):
    assert config(env)["Parameters"]["LambdaCodeKey"].startswith("set-by-deploy/")


def test_production_keeps_logs_a_year_as_the_compliance_exception_says():
    """rules/exceptions.yaml excepts CT.CLOUDWATCH.PR.2 (retention >= 365 days) because production meets it at
    deploy time; this keeps that reason true."""
    assert int(config("production")["Parameters"]["LogRetentionDays"]) >= 365
    exceptions = (TEMPLATES.parent / "rules" / "exceptions.yaml").read_text()
    assert "CT.CLOUDWATCH.PR.2" in exceptions and "365 days (params/production.json" in exceptions
