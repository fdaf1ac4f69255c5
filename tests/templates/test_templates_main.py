"""main.yaml: opt-in flags, nested stack wiring and the Rules that keep flag combinations honest."""

from __future__ import annotations

import json

import pytest

from inference_platform.shared.constants import ENVIRONMENTS
from inference_platform_ops.deploy.deploy import pre_check_parameters
from inference_platform_ops.deploy.dr_tiers import region_plans
from inference_platform_ops.intrinsics import active_resources, parameter_values, resolve
from inference_platform_ops.templates import validate_parameters
from tests.helpers.template_loader import TEMPLATES, load_template

MAIN = load_template("main.yaml")
FLAGS = ["EnableProvisionedEndpoint", "EnableServerlessInference", "EnableScheduledScaling",
         "EnableIdleDetection", "EnableStateStore", "EnableWorkflow"]
NESTED = {name: res for name, res in MAIN["Resources"].items() if res["Type"] == "AWS::CloudFormation::Stack"}


def stacks(overrides: dict, region: str = "us-east-1") -> set[str]:
    base = {"Environment": "dev", **overrides}
    return {name for name, res in active_resources(MAIN, base, region).items()
            if res["Type"] == "AWS::CloudFormation::Stack"}


def on(*flags: str) -> dict:
    return {flag: "true" for flag in flags}


def test_every_flag_defaults_to_false_and_has_its_own_condition():
    for flag in FLAGS:
        assert MAIN["Parameters"][flag]["Default"] == "false", flag
        assert MAIN["Parameters"][flag]["AllowedValues"] == ["true", "false"], flag
    tested = {json.dumps(cond) for cond in MAIN["Conditions"].values()}
    for flag in FLAGS:
        assert json.dumps({"Fn::Equals": [{"Ref": flag}, "true"]}) in tested, flag


def test_all_flags_off_creates_nothing():
    assert active_resources(MAIN, {"Environment": "production"}) == {}


def test_the_root_holds_nested_stacks_and_only_what_they_share():
    """Besides one nested stack per capability, the root keeps what the Lambda stacks share: the log
    key and the encrypted alarm topic, created only when a stack with Lambdas is."""
    shared = {name: res for name, res in MAIN["Resources"].items() if res["Type"] != "AWS::CloudFormation::Stack"}
    assert {res["Type"] for res in shared.values()} == {"AWS::KMS::Key", "AWS::SNS::Topic", "AWS::SNS::TopicPolicy",
                                                        "AWS::SNS::Subscription"}
    assert {res["Condition"] for res in shared.values()} <= {"CreateOperationsResources", "SubscribeAlarmEmail"}
    only_endpoints = active_resources(MAIN, {"Environment": "dev", **on("EnableProvisionedEndpoint")})
    assert set(only_endpoints) == {"EndpointsStack"}
    with_idle = active_resources(MAIN, {"Environment": "dev", **on("EnableIdleDetection")})
    assert {"LogsKey", "AlarmTopic", "AlarmTopicKey", "CostControlsStack"} <= set(with_idle)


@pytest.mark.parametrize(("flags", "base", "expected"), [
    (["EnableProvisionedEndpoint"], [], {"EndpointsStack"}),
    (["EnableServerlessInference"], [], {"EndpointsStack"}),
    (["EnableIdleDetection"], [], {"CostControlsStack"}),
    (["EnableStateStore"], [], {"StateStoreStack"}),
    # Scheduled scaling needs the provisioned endpoint; it adds only the scaling stack.
    (["EnableScheduledScaling"], ["EnableProvisionedEndpoint"], {"ScalingStack"}),
    # The workflow needs the state store; it adds itself and the model (endpoints stack) for batch transform.
    (["EnableWorkflow"], ["EnableStateStore"], {"WorkflowStack", "EndpointsStack"}),
])
def test_each_flag_turns_on_exactly_its_stack(flags, base, expected):
    before = stacks(on(*base))
    after = stacks(on(*base, *flags))
    assert after - before == expected
    assert before <= after


def test_endpoints_stack_for_the_workflow_creates_the_model_but_no_endpoint():
    endpoints = load_template("endpoints.yaml")
    passed = NESTED["EndpointsStack"]["Properties"]["Parameters"]
    values = parameter_values(MAIN, {"Environment": "dev", **on("EnableWorkflow", "EnableStateStore")})
    child_values = {name: resolve(MAIN, expr, values) for name, expr in passed.items()}
    created = active_resources(endpoints, child_values)
    kinds = {res["Type"] for res in created.values()}
    assert "AWS::SageMaker::Model" in kinds
    assert "AWS::SageMaker::Endpoint" not in kinds
    assert "AWS::SageMaker::EndpointConfig" not in kinds


def test_state_store_is_declared_only_in_the_primary_region():
    flags = on("EnableStateStore", "EnableWorkflow")
    overrides = {**flags, "PrimaryRegion": "us-east-1", "SecondaryRegion": "us-west-2", "DrTier": "2"}
    assert "StateStoreStack" in stacks(overrides, region="us-east-1")
    secondary = stacks(overrides, region="us-west-2")
    assert "StateStoreStack" not in secondary
    assert "WorkflowStack" in secondary  # uses the replica, found by its deterministic name


def test_workflow_gets_the_deterministic_table_name_in_every_region():
    expr = NESTED["WorkflowStack"]["Properties"]["Parameters"]["StateTableName"]
    values = parameter_values(MAIN, {"Environment": "staging", "PrimaryRegion": "us-east-1",
                                     **on("EnableStateStore", "EnableWorkflow")})
    assert resolve(MAIN, expr, values, region="us-west-2") == "ml-inference-staging-state"
    # In the primary region it comes from the state store stack (which creates the dependency).
    primary = resolve(MAIN, expr, values, region="us-east-1")
    assert primary == {"Fn::GetAtt": ["StateStoreStack", "Outputs.TableName"]}
    state_store = load_template("state-store.yaml")
    table = state_store["Resources"]["StateTable"]["Properties"]["TableName"]
    assert resolve(state_store, table, {"ProjectName": "ml-inference", "Environment": "staging"}) == \
        "ml-inference-staging-state"


def test_template_urls_are_relative_files_beside_main():
    for name, res in NESTED.items():
        url = res["Properties"]["TemplateURL"]
        assert "/" not in url and url.endswith(".yaml"), name


@pytest.mark.parametrize("stack", sorted(NESTED))
def test_nested_stack_parameters_match_the_child(stack):
    child_file = NESTED[stack]["Properties"]["TemplateURL"]
    assert (TEMPLATES / child_file).is_file(), f"{child_file} (child of {stack}) does not exist yet"
    child = load_template(child_file)
    declared = child.get("Parameters") or {}
    passed = NESTED[stack]["Properties"]["Parameters"]
    unknown = sorted(set(passed) - set(declared))
    missing = sorted(name for name, spec in declared.items() if "Default" not in spec and name not in passed)
    assert unknown == [], f"{stack} passes parameters {child_file} does not declare: {unknown}"
    assert missing == [], f"{stack} does not pass required parameters of {child_file}: {missing}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("stack", sorted(NESTED))
def test_values_main_passes_satisfy_the_child_constraints(stack, env):
    """What main hands a child for a real params file is accepted by the child's own constraints."""
    child_file = NESTED[stack]["Properties"]["TemplateURL"]
    if not (TEMPLATES / child_file).is_file():
        pytest.fail(f"{child_file} does not exist yet")
    config = json.loads((TEMPLATES / "params" / f"{env}.json").read_text())
    child = load_template(child_file)
    for plan in region_plans(config):
        values = parameter_values(MAIN, pre_check_parameters(config, plan))
        resolved = {}
        for name, expr in NESTED[stack]["Properties"]["Parameters"].items():
            value = resolve(MAIN, expr, values, region=plan.region)
            if isinstance(value, str):  # GetAtt of a sibling's output is known only at deploy time
                resolved[name] = value
        problems = [p for p in validate_parameters(child, resolved)
                    if not p.endswith("(the template gives it no Default)")]
        assert problems == [], plan.region


def test_outputs_cover_what_callers_need():
    outputs = MAIN["Outputs"]
    for name in ["ProvisionedEndpointName", "ProvisionedVariantName", "ServerlessEndpointName", "ModelName",
                 "StateMachineArn", "StateTableName", "IdleDetectorFunctionName"]:
        assert name in outputs, name
    assert outputs["StateMachineArn"]["Condition"] == "CreateWorkflowStack"


@pytest.mark.parametrize(("overrides", "fragment"), [
    (on("EnableWorkflow"), "EnableWorkflow needs EnableStateStore"),
    (on("EnableScheduledScaling"), "set EnableProvisionedEndpoint"),
    ({**on("EnableIdleDetection"), "ArtifactBucket": "b-1-x"}, "need LambdaCodeKey"),
    (on("EnableServerlessInference"), "need ModelImageUri"),
    ({"DrTier": "1"}, "set SecondaryRegion"),
    ({"SecondaryRegion": "us-east-1"}, "SecondaryRegion must differ"),
    (on("EnableScaleToZero"), "set EnableProvisionedEndpoint"),
    ({**on("EnableScaleToZero", "EnableProvisionedEndpoint"), "BusinessStartHour": "0"},
     "Start business hours at 1 or later"),
    ({"RoutingPolicy": "cost"}, "it needs EnableScaleToZero"),
    ({**on("EnableScaleToZero", "EnableProvisionedEndpoint"), "RoutingPolicy": "cost"},
     "set EnableServerlessInference"),
])
def test_rules_refuse_inconsistent_flag_combinations(overrides, fragment):
    problems = validate_parameters(MAIN, {"Environment": "dev", **overrides}, region="us-east-1")
    assert any(fragment in problem for problem in problems), problems
