"""inference_platform_ops.deploy.change_review: what AWS would reject (or what would lose data) is refused
before any change set executes, with a one-line message saying what to do."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber
from moto import mock_aws

from inference_platform_ops.deploy import change_review, deploy, stack_ops
from inference_platform_ops.deploy.config import StackTarget
from inference_platform_ops.iam.principals import deployment
from tests.helpers.template_loader import TEMPLATES

PROVISIONED_CONFIG = "EndpointsStack/ProvisionedEndpointConfig"


def plan(changes, before=None, after=None, change_set_type="UPDATE"):
    return stack_ops.ChangeSetPlan("us-east-1", "ml-inference-staging", "stack-id", "cs-id", change_set_type,
                                   [stack_ops.Change(*c) for c in changes], parameters=after or {},
                                   previous_parameters=before or {})


SCALED = {"EnableScheduledScaling": "true", "InstanceType": "ml.m5.large"}


def test_instance_type_change_of_an_auto_scaled_variant_is_refused():
    """SageMaker refuses UpdateEndpoint when an auto-scaled variant changes instance type: the stack update
    would fail halfway. The message says how to get there in three deploys."""
    changes = [("Add", PROVISIONED_CONFIG, "AWS::SageMaker::EndpointConfig", "-"),
               ("Modify", "EndpointsStack/ProvisionedEndpoint", "AWS::SageMaker::Endpoint", "False")]
    (refusal,) = change_review.review([plan(changes, SCALED, {**SCALED, "InstanceType": "ml.m5.xlarge"})])
    assert refusal.rule == "autoscaled-instance-type"
    assert "ml.m5.large -> ml.m5.xlarge" in str(refusal) and "EnableScheduledScaling=false" in str(refusal)
    # The same change without a scalable target, or while removing it, goes through.
    unscaled = {**SCALED, "EnableScheduledScaling": "false"}
    assert change_review.review([plan(changes, unscaled, {**unscaled, "InstanceType": "ml.m5.xlarge"})]) == []
    assert change_review.review([plan(changes, SCALED, {**unscaled, "InstanceType": "ml.m5.xlarge"})]) == []


def test_replacing_a_stateful_resource_needs_allow_replace():
    changes = [("Modify", "StateStoreStack/StateTable", "AWS::DynamoDB::GlobalTable", "True"),
               ("Modify", "WorkflowStack/RouteFunction", "AWS::Lambda::Function", "True"),
               ("Modify", "WorkflowStack/RouteLogGroup", "AWS::Logs::LogGroup", "Conditional")]
    refusals = change_review.review([plan(changes)])
    assert [(r.logical_id, r.rule) for r in refusals] == [("StateStoreStack/StateTable", "stateful-replacement"),
                                                          ("WorkflowStack/RouteLogGroup", "stateful-replacement")]
    assert "ALLOW_REPLACE=StateTable" in str(refusals[0])
    allowed = change_review.review([plan(changes)], allow_replace=["StateTable", "WorkflowStack/RouteLogGroup"])
    assert allowed == []


def test_an_existing_retained_name_blocks_a_create():
    """A production table is Retain'ed with a fixed name: re-creating the stack would fail with AlreadyExists."""
    config = deployment("production", TEMPLATES)
    root = config.primary
    target = StackTarget("primary", root.region, root.stack_name, TEMPLATES / "main.yaml", root.parameters, {})
    created = stack_ops.ChangeSetPlan(root.region, root.stack_name, "stack-id", "cs-id", "CREATE",
                                      [stack_ops.Change("Add", "StateStoreStack", "AWS::CloudFormation::Stack", "-")])
    with mock_aws():
        deployer = deploy.Deployer("production", None, 0.0, boto3.Session())
        assert deploy.retained_collisions(deployer, [(target, created)]) == []
        boto3.client("dynamodb", region_name=root.region).create_table(
            TableName="ml-inference-production-state", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        existing = deploy.retained_collisions(deployer, [(target, created)])
    assert [(e.logical_id, e.name) for e in existing] == [("ProductionStateTable", "ml-inference-production-state")]
    (refusal,) = change_review.review([created], existing=existing)
    assert refusal.rule == "retained-name-collision" and "AlreadyExists" in refusal.message


def test_the_plan_carries_the_parameters_before_and_after():
    """stack_ops records what the stack has now, so the review can see a parameter change (Stubber checks
    the request and response shapes against botocore's CloudFormation model)."""
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(cfn)
    stubber.add_response("create_change_set", {"Id": "arn:cs", "StackId": "arn:stack"})
    stubber.add_response("describe_stacks", {"Stacks": [{
        "StackName": "s", "CreationTime": "2026-01-01T00:00:00Z", "StackStatus": "UPDATE_COMPLETE",
        "Parameters": [{"ParameterKey": "InstanceType", "ParameterValue": "ml.m5.large"}]}]})
    stubber.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [{"Type": "Resource",
                         "ResourceChange": {"Action": "Modify", "LogicalResourceId": "EndpointsStack",
                                            "ResourceType": "AWS::CloudFormation::Stack", "Replacement": "False"}}]})
    with stubber:
        built = stack_ops.create_change_set(cfn, region="us-east-1", stack_name="s", change_set_name="c",
                                            change_set_type="UPDATE", template={"TemplateBody": "{}"},
                                            parameters={"InstanceType": "ml.m5.xlarge"}, tags={}, poll=0)
    assert built.previous_parameters == {"InstanceType": "ml.m5.large"}
    assert built.parameters == {"InstanceType": "ml.m5.xlarge"}
