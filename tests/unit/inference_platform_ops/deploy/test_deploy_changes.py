"""Change-set rendering for what only AWS returns: nested stacks' change sets (IncludeNestedStacks).

moto does not produce nested change sets, so AWS's documented DescribeChangeSet answers are replayed
through botocore's Stubber (which also validates the request shapes against the API model).
"""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from inference_platform_ops.deploy import stack_ops

ROOT_ID = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-1/root"
NESTED_ID = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-1-WorkflowStack/nested"


def change(action: str, logical_id: str, resource_type: str, **extra: str) -> dict:
    return {"Type": "Resource", "ResourceChange": {"Action": action, "LogicalResourceId": logical_id,
                                                   "ResourceType": resource_type, **extra}}


def test_nested_stack_changes_are_listed_under_their_parent():
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cfn) as stub:
        stub.add_response("describe_change_set", {
            "Status": "CREATE_COMPLETE", "ChangeSetId": ROOT_ID,
            "Changes": [change("Modify", "WorkflowStack", "AWS::CloudFormation::Stack", Replacement="False",
                               ChangeSetId=NESTED_ID)],
        }, {"ChangeSetName": ROOT_ID})
        stub.add_response("describe_change_set", {
            "Status": "CREATE_COMPLETE", "ChangeSetId": NESTED_ID,
            "Changes": [change("Modify", "RouteFunction", "AWS::Lambda::Function", Replacement="False"),
                        change("Add", "RouteAlarm", "AWS::CloudWatch::Alarm")],
        }, {"ChangeSetName": NESTED_ID})

        _, changes = stack_ops.list_changes(cfn, ROOT_ID)

    plan = stack_ops.ChangeSetPlan("us-east-1", "ml-inference-staging", "id", ROOT_ID, "UPDATE", changes)
    table = stack_ops.format_changes(plan)
    assert [c.logical_id for c in changes] == [
        "WorkflowStack", "WorkflowStack/RouteFunction", "WorkflowStack/RouteAlarm"]
    assert "Modify  WorkflowStack/RouteFunction  AWS::Lambda::Function" in table
    assert "| Add | `WorkflowStack/RouteAlarm` | AWS::CloudWatch::Alarm | - |" in stack_ops.markdown_changes(plan)
