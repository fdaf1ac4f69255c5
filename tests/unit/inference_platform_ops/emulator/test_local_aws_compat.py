"""inference_platform_ops.emulator.compat: each CloudFormation gap it closes, checked through the CloudFormation API.

In-process moto (mock_aws) with the patches applied for the test only; deploy/smoke tests cover the
rest (nested-stack outputs, change-set outputs, failures with their reason, KMS key tags).
"""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from inference_platform_ops.emulator import compat as emulator_compat

REGION = "us-east-1"


@pytest.fixture
def cfn():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), emulator_compat.patched():
        yield boto3.client("cloudformation", region_name=REGION)


def create(cfn, name: str, template: dict, **parameters: str) -> str:
    change_set = cfn.create_change_set(
        StackName=name, ChangeSetName="c1", ChangeSetType="CREATE", TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    return change_set["StackId"]


GLOBAL_TABLE = {
    "Resources": {"State": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
        "TableName": "demo-local-state", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "Replicas": [{"Region": REGION, "Tags": [{"Key": "Environment", "Value": "local"}]}]}}},
    "Outputs": {"Table": {"Value": {"Ref": "State"}}},
}


def test_global_table_becomes_a_regional_table_of_the_same_name_and_says_so(cfn):
    create(cfn, "state", GLOBAL_TABLE)

    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName="demo-local-state")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    (row,) = cfn.describe_stack_resources(StackName="state")["StackResources"]
    assert row["ResourceType"] == "AWS::DynamoDB::GlobalTable" and row["PhysicalResourceId"] == "demo-local-state"
    reasons = [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName="state")["StackEvents"]]
    assert any("emulated as a single-region DynamoDB table" in r for r in reasons)


def test_state_machine_from_definition_with_substitutions_is_executable(cfn):
    template = {"Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "StateMachineName": "demo", "RoleArn": "arn:aws:iam::123456789012:role/sfn",
        "Definition": {"StartAt": "Done", "States": {
            "Done": {"Type": "Pass", "Result": {"greeting": "${Greeting}"}, "End": True}}},
        "DefinitionSubstitutions": {"Greeting": "hello"}}}}}
    create(cfn, "machine", template)

    sfn = boto3.client("stepfunctions", region_name=REGION)
    (machine,) = sfn.list_state_machines()["stateMachines"]
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="one")
    deadline = time.monotonic() + 120  # an upper bound only: the loop ends as soon as the execution does
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution was still RUNNING after 120 s"
        time.sleep(0.02)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"greeting": "hello"}


CONDITIONAL = {
    "Parameters": {"Flag": {"Type": "String", "AllowedValues": ["on", "off"]}, "Label": {"Type": "String"}},
    "Conditions": {"On": {"Fn::Equals": [{"Ref": "Flag"}, "on"]}},
    "Resources": {
        "Always": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Label"}}},
        "Optional": {"Type": "AWS::SQS::Queue", "Condition": "On"},
    },
}


def test_change_sets_follow_conditions_and_parameter_changes(cfn):
    first = cfn.create_change_set(StackName="cond", ChangeSetName="c1", ChangeSetType="CREATE",
                                  TemplateBody=json.dumps(CONDITIONAL),
                                  Parameters=[{"ParameterKey": "Flag", "ParameterValue": "off"},
                                              {"ParameterKey": "Label", "ParameterValue": "a"}])
    listed = [c["ResourceChange"]["LogicalResourceId"]
              for c in cfn.describe_change_set(ChangeSetName=first["Id"])["Changes"]]
    assert listed == ["Always"]  # Optional's Condition is false
    cfn.execute_change_set(ChangeSetName=first["Id"])

    second = cfn.create_change_set(StackName="cond", ChangeSetName="c2", ChangeSetType="UPDATE",
                                   TemplateBody=json.dumps(CONDITIONAL),
                                   Parameters=[{"ParameterKey": "Flag", "ParameterValue": "on"},
                                               {"ParameterKey": "Label", "ParameterValue": "b"}])
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]["Action"]
               for c in cfn.describe_change_set(ChangeSetName=second["Id"])["Changes"]}
    assert changes == {"Always": "Modify", "Optional": "Add"}


def test_termination_protection_blocks_deletion(cfn):
    create(cfn, "protected", {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    cfn.update_termination_protection(StackName="protected", EnableTerminationProtection=True)

    with pytest.raises(ClientError, match="cannot be deleted while TerminationProtection is enabled"):
        cfn.delete_stack(StackName="protected")
    assert cfn.describe_stacks(StackName="protected")["Stacks"][0]["EnableTerminationProtection"] is True


def test_patches_are_removed_afterwards():
    from moto.cloudformation.models import Stack

    with emulator_compat.patched():
        assert hasattr(Stack, "get_cfn_attribute")
    assert not hasattr(Stack, "get_cfn_attribute")  # moto as shipped again, for every other test
