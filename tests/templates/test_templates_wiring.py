"""main.yaml wiring, exhaustively over every combination of the six flags in both regions.

Invariants, in words:
- whatever the flags, every Ref/GetAtt of an active resource or output points at something that
  exists, and every `GetAtt <Stack>.Outputs.<Name>` names an output the child really has for the
  parameters main passes it (a missing nested output fails the deploy, not the lint);
- when the Rules accept a combination, each capability's stack exists exactly when its flag is on.
"""

from __future__ import annotations

import itertools

import pytest

from inference_platform_ops.intrinsics import active_resources, conditions, parameter_values, resolve
from inference_platform_ops.templates import validate_parameters
from tests.helpers.template_loader import load_template

MAIN = load_template("main.yaml")
FLAGS = ["EnableProvisionedEndpoint", "EnableServerlessInference", "EnableScheduledScaling",
         "EnableIdleDetection", "EnableStateStore", "EnableWorkflow"]
FILLED = {"Environment": "staging", "PrimaryRegion": "us-east-1", "SecondaryRegion": "us-west-2", "DrTier": "2",
          "ModelImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1", "InputLocation": "input-bucket",
          "ArtifactBucket": "artifacts-bucket", "LambdaCodeKey": "lambda/code.zip"}
COMBINATIONS = [dict(zip(FLAGS, values, strict=True)) for values in itertools.product(["true", "false"], repeat=6)]
CHILDREN = {name: load_template(res["Properties"]["TemplateURL"]) for name, res in MAIN["Resources"].items()
            if res["Type"] == "AWS::CloudFormation::Stack"}


def references(node) -> list[tuple[str, str | None]]:
    """(logical id, nested output or None) for every Ref and GetAtt in an already-resolved node."""
    found = []
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            found.append((node["Ref"], None))
        elif set(node) == {"Fn::GetAtt"}:
            target, attribute = node["Fn::GetAtt"]
            found.append((target, attribute.removeprefix("Outputs.") if attribute.startswith("Outputs.") else None))
        else:
            for value in node.values():
                found.extend(references(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(references(value))
    return found


def child_outputs(stack: str, values: dict[str, str], region: str) -> set[str]:
    """Outputs the child stack has for the parameters main passes it (sibling outputs stubbed)."""
    passed = resolve(MAIN, MAIN["Resources"][stack]["Properties"]["Parameters"], values, region)
    child = CHILDREN[stack]
    child_values = parameter_values(child, {k: v if isinstance(v, str) else f"stub-{k}" for k, v in passed.items()})
    evaluated = conditions(child, child_values, region)
    return {name for name, output in child.get("Outputs", {}).items()
            if "Condition" not in output or evaluated[output["Condition"]]}


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
@pytest.mark.parametrize("flags", COMBINATIONS, ids=lambda flags: "".join("1" if v == "true" else "0"
                                                                         for v in flags.values()))
def test_every_reference_resolves_for_every_flag_combination(flags, region):
    values = parameter_values(MAIN, {**FILLED, **flags})
    active = active_resources(MAIN, {**FILLED, **flags}, region)
    evaluated = conditions(MAIN, values, region)
    nodes = {f"Resources.{name}": resolve(MAIN, res.get("Properties", {}), values, region)
             for name, res in active.items()}
    nodes.update({f"Outputs.{name}": resolve(MAIN, output["Value"], values, region)
                  for name, output in MAIN["Outputs"].items()
                  if "Condition" not in output or evaluated[output["Condition"]]})
    for where, node in nodes.items():
        for target, output in references(node):
            if target in MAIN["Parameters"] or target.startswith("AWS::"):
                continue
            assert target in active, f"{where} references {target}, which is not created"
            if output is not None:
                assert output in child_outputs(target, values, region), \
                    f"{where} reads {target}.Outputs.{output}, which the child does not have here"


@pytest.mark.parametrize("flags", COMBINATIONS, ids=lambda flags: "".join("1" if v == "true" else "0"
                                                                         for v in flags.values()))
def test_accepted_combinations_create_exactly_the_flagged_stacks(flags):
    rule_problems = [p for p in validate_parameters(MAIN, {**FILLED, **flags}, region="us-east-1")
                     if p.startswith("Rules.")]
    if rule_problems:
        return  # refused before anything is created
    on = {flag for flag, value in flags.items() if value == "true"}
    expected = set()
    if on & {"EnableProvisionedEndpoint", "EnableServerlessInference", "EnableWorkflow"}:
        expected.add("EndpointsStack")
    for flag, stack in [("EnableScheduledScaling", "ScalingStack"), ("EnableStateStore", "StateStoreStack"),
                        ("EnableWorkflow", "WorkflowStack"), ("EnableIdleDetection", "CostControlsStack")]:
        if flag in on:
            expected.add(stack)
    if expected & {"WorkflowStack", "CostControlsStack"}:
        expected |= {"LogsKey", "AlarmTopicKey", "AlarmTopic", "AlarmTopicPolicy"}  # what the Lambda stacks share
    assert set(active_resources(MAIN, {**FILLED, **flags}, "us-east-1")) == expected


def test_rules_refuse_the_combinations_the_stacks_cannot_serve():
    refused = [flags for flags in COMBINATIONS
               if any(p.startswith("Rules.") for p in validate_parameters(MAIN, {**FILLED, **flags}, "us-east-1"))]
    for flags in refused:
        workflow_without_state = flags["EnableWorkflow"] == "true" and flags["EnableStateStore"] == "false"
        scaling_without_endpoint = (flags["EnableScheduledScaling"] == "true"
                                    and flags["EnableProvisionedEndpoint"] == "false")
        assert workflow_without_state or scaling_without_endpoint, flags
    assert len(refused) == 64 - 3 * 3 * 2 * 2  # (sched,prov) 3 ok pairs x (wf,state) 3 ok pairs x 2 x 2
