"""DR tiers: what each tier deploys in which region, checked against the real params files and main.yaml."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference_platform.shared.constants import ENVIRONMENTS
from inference_platform_ops.deploy.dr_tiers import (
    TIER_DESCRIPTIONS,
    RegionPlan,
    region_bound_warnings,
    region_plans,
)
from inference_platform_ops.paths import ROOT
from inference_platform_ops.templates import load_template, validate_parameters

PARAMS = ROOT / "templates" / "params"


def params_file(env: str) -> dict:
    return json.loads((PARAMS / f"{env}.json").read_text())


@pytest.fixture(scope="module")
def main_template() -> dict:
    return load_template(ROOT / "templates" / "main.yaml")


def config_for(tier: int, secondary: str = "us-west-2") -> dict:
    config = copy.deepcopy(params_file("production"))
    config["DrTier"] = tier
    config["Regions"] = {"Primary": "us-east-1", "Secondary": secondary}
    config["DrTargets"] = {"RpoMinutes": TIER_DESCRIPTIONS[tier].best_rpo_minutes,
                           "RtoMinutes": TIER_DESCRIPTIONS[tier].best_rto_minutes}
    config["Parameters"].pop("DrTier", None)
    config["Parameters"].pop("SecondaryRegion", None)
    config.pop("RegionParameters", None)  # each test adds the overrides it is about
    return config


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_params_file_yields_valid_main_parameters_in_every_region(env, main_template) -> None:
    plans = region_plans(params_file(env))
    assert plans[0].role == "primary"
    for plan in plans:
        problems = validate_parameters(main_template, {**plan.parameters, "LambdaCodeKey": "lambda/x.zip",
                                                       "ArtifactBucket": "artifacts-bucket"}, region=plan.region)
        assert problems == [], f"{env} {plan.role} {plan.region}: {problems}"
        unknown = set(plan.parameters) - set(main_template["Parameters"])
        assert unknown == set(), f"{env}: parameters main.yaml does not declare: {unknown}"
    assert region_bound_warnings(plans) == []  # every region pulls its image from its own ECR


def test_tier1_secondary_runs_what_the_primary_runs() -> None:
    primary, secondary = region_plans(config_for(1))
    assert (primary.region, secondary.region) == ("us-east-1", "us-west-2")
    differences = {k for k in primary.parameters if primary.parameters[k] != secondary.parameters[k]}
    # Only the names of the *other* region's endpoints differ: the secondary serves from its own.
    assert differences <= {"SecondaryProvisionedEndpointName", "SecondaryServerlessEndpointName"}
    for plan in (primary, secondary):
        assert (plan.parameters["PrimaryRegion"], plan.parameters["SecondaryRegion"], plan.parameters["DrTier"]) \
            == ("us-east-1", "us-west-2", "1")
        assert plan.parameters["EnableStateStore"] == "true"  # replica in both regions (main passes DrTier on)


def test_tier2_secondary_is_a_standby_with_nothing_running() -> None:
    """The standby keeps a serverless endpoint and the workflow, and no instance: it costs nothing until a
    failover sends it work (which then meets cold starts)."""
    config = config_for(2)
    primary, secondary = region_plans(config)
    assert primary.parameters == {**config["Parameters"], "PrimaryRegion": "us-east-1",
                                  "SecondaryRegion": "us-west-2", "DrTier": "2"}
    standby = secondary.parameters
    assert standby["EnableServerlessInference"] == "true"
    assert standby["EnableProvisionedEndpoint"] == "false"
    assert standby["ServerlessProvisionedConcurrency"] == "0"
    assert standby["EnableScheduledScaling"] == "false" and standby["EnableScaleToZero"] == "false"
    assert standby["RoutingPolicy"] == "business-hours"
    assert standby["EnableIdleDetection"] == "false"  # an idle standby must not be stopped
    assert standby["EnableWorkflow"] == "true" and standby["EnableStateStore"] == "true"
    assert standby["DrTier"] == "2" and standby["SecondaryRegion"] == "us-west-2"


def test_tier2_scale_to_zero_standby_for_models_serverless_cannot_host() -> None:
    config = config_for(2) | {"DrStandby": "scale-to-zero"}
    standby = region_plans(config)[1].parameters
    assert (standby["EnableProvisionedEndpoint"], standby["EnableScaleToZero"], standby["ScaleToZeroSchedule"],
            standby["EnableServerlessInference"]) == ("true", "true", "on-demand", "false")
    with pytest.raises(ValueError, match="DrStandby must be one of serverless, scale-to-zero, got 'warm'"):
        region_plans(config_for(2) | {"DrStandby": "warm"})


def test_tier3_is_primary_only_with_no_failover_target() -> None:
    plans = region_plans(config_for(3))
    assert [(p.region, p.role) for p in plans] == [("us-east-1", "primary")]
    assert plans[0].parameters["SecondaryRegion"] == ""
    assert plans[0].parameters["DrTier"] == "3"
    assert region_plans(config_for(3, secondary=""))[0].parameters["SecondaryRegion"] == ""


def test_region_parameters_override_regional_resources_for_one_region() -> None:
    config = config_for(1)
    config["RegionParameters"] = {"us-west-2": {
        "ModelImageUri": "123456789012.dkr.ecr.us-west-2.amazonaws.com/model:1",
        "ArtifactBucket": "artifacts-usw2"}}
    primary, secondary = region_plans(config)
    assert secondary.parameters["ModelImageUri"].startswith("123456789012.dkr.ecr.us-west-2")
    assert secondary.parameters["ArtifactBucket"] == "artifacts-usw2"
    assert primary.parameters.get("ArtifactBucket") == config["Parameters"].get("ArtifactBucket")  # untouched
    assert region_bound_warnings([primary, secondary]) == []


def test_image_from_another_region_is_flagged() -> None:
    warnings = region_bound_warnings(region_plans(config_for(2)))
    assert len(warnings) == 1
    assert warnings[0].startswith("secondary us-west-2: ModelImageUri is in ECR us-east-1")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(DrTier=4), "DrTier must be 1 .* got 4"),
        (lambda c: c.update(DrTier="two"), "DrTier must be 1"),
        (lambda c: c.update(DrTier=True), "DrTier must be 1"),
        (lambda c: c["Regions"].update(Secondary=""), "DrTier 1 \\(active-active\\) runs in two regions"),
        (lambda c: c["Regions"].update(Secondary="us-east-1"), "must differ from Regions.Primary"),
        (lambda c: c["Regions"].update(Primary="Virginia"), "Regions.Primary must be a region code"),
        (lambda c: c.pop("Regions"), "Regions must be an object"),
        (lambda c: c["Parameters"].update(InitialInstanceCount=2), "Parameters.InitialInstanceCount must be a str"),
        (lambda c: c["Parameters"].update(PrimaryRegion="eu-west-1"), "Parameters.PrimaryRegion is 'eu-west-1'"),
        (lambda c: c["Parameters"].update(DrTier="3"), "Parameters.DrTier is '3' but the top level says '1'"),
        (lambda c: c.update(DrTargets={"RpoMinutes": 0, "RtoMinutes": 15}), "DrTargets.RpoMinutes is 0"),
        (lambda c: c.update(DrTargets={"RpoMinutes": 5}), "DrTargets.RtoMinutes must be a whole number"),
        (lambda c: c.update(RegionParameters={"eu-west-1": {}}), "RegionParameters.eu-west-1: 'eu-west-1' is not"),
        (lambda c: c.update(RegionParameters={"us-west-2": {"DrTier": "2"}}), "DrTier is set by Regions/DrTier"),
    ],
)
def test_bad_dr_configuration_names_the_field(mutate, message) -> None:
    config = config_for(1)
    mutate(config)
    with pytest.raises(ValueError, match=message):
        region_plans(config)


def test_tier3_cannot_promise_a_one_minute_rpo() -> None:
    config = config_for(3)
    config["DrTargets"] = {"RpoMinutes": 1, "RtoMinutes": 480}
    with pytest.raises(ValueError, match="DrTier 3 \\(cold backup\\) cannot do better than 1440 minutes"):
        region_plans(config)


@given(tier=st.sampled_from([1, 2, 3]), secondary=st.sampled_from(["", "us-west-2", "eu-west-1"]),
       flags=st.fixed_dictionaries({f: st.sampled_from(["true", "false"]) for f in (
           "EnableProvisionedEndpoint", "EnableServerlessInference", "EnableIdleDetection", "EnableWorkflow")}))
def test_plans_invariants(tier, secondary, flags) -> None:
    """Whatever the tier and flags: the primary comes first and keeps its parameters; at most one secondary,
    in the configured secondary region; every plan names the same primary, secondary and tier; a standby
    never runs the idle detector; tier 3 deploys nothing outside the primary region."""
    config = config_for(tier, secondary="us-west-2")
    config["Regions"]["Secondary"] = secondary
    config["Parameters"].update(flags)
    if tier != 3 and not secondary:
        with pytest.raises(ValueError):
            region_plans(config)
        return
    plans = region_plans(config)
    assert all(isinstance(p, RegionPlan) for p in plans)
    assert plans[0].role == "primary" and plans[0].region == "us-east-1"
    assert all(plans[0].parameters[k] == v for k, v in flags.items())
    assert len(plans) == (1 if tier == 3 else 2)
    if len(plans) == 2:
        assert plans[1].region == secondary and plans[1].role == "secondary"
    for plan in plans:
        assert plan.parameters["DrTier"] == str(tier)
        assert plan.parameters["PrimaryRegion"] == "us-east-1"
        assert plan.parameters["SecondaryRegion"] == ("" if tier == 3 else secondary)
    if tier == 2:
        assert plans[1].parameters["EnableIdleDetection"] == "false"
