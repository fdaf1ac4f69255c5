"""inference_platform_ops.iam.translate: an API call -> the IAM requests AWS authorizes, from the Service
Authorization Reference (parliament's data), not from a table of our own."""

from __future__ import annotations

import pytest

from inference_platform_ops.iam import sar
from inference_platform_ops.iam.translate import translate

ACCOUNT = "123456789012"


def one(service, operation, params, region="us-east-1", signing_name=None):
    return translate(service, operation, params, region, ACCOUNT, signing_name=signing_name or service)


def test_an_action_without_resource_types_is_authorized_against_star():
    """states:SendTaskSuccess acts on a task token, not a resource: a state machine ARN can never match."""
    (request,) = one("stepfunctions", "SendTaskSuccess", {"taskToken": "t", "output": "{}"}, signing_name="states")
    assert (request.action, request.resource) == ("states:SendTaskSuccess", "*")
    assert sar.action("states:SendTaskFailure").resource_types == ()


def test_sagemaker_arns_are_lower_case_whatever_the_name():
    (request,) = one("sagemaker-runtime", "InvokeEndpoint", {"EndpointName": "Stack-ProvisionedEndpoint-AbC"},
                     region="us-west-2", signing_name="sagemaker")
    assert request.action == "sagemaker:InvokeEndpoint"
    assert request.resource == "arn:aws:sagemaker:us-west-2:123456789012:endpoint/stack-provisionedendpoint-abc"
    assert request.context_dict["aws:RequestedRegion"] == "us-west-2"


@pytest.mark.parametrize(("operation", "params", "action", "resource"), [
    ("ListObjectsV2", {"Bucket": "b", "Prefix": "input/"}, "s3:ListBucket", "arn:aws:s3:::b"),
    ("HeadObject", {"Bucket": "b", "Key": "k"}, "s3:GetObject", "arn:aws:s3:::b/k"),
    ("PutObject", {"Bucket": "arn:aws:s3:us-east-1:123456789012:accesspoint/fsx", "Key": "out/k"}, "s3:PutObject",
     "arn:aws:s3:us-east-1:123456789012:accesspoint/fsx/object/out/k"),
])
def test_s3_names_its_actions_and_resources_as_iam_does(operation, params, action, resource):
    request = one("s3", operation, params)[0]
    assert (request.action, request.resource) == (action, resource)
    if "Prefix" in params:
        assert request.context_dict["s3:prefix"] == "input/"


def test_delete_objects_is_one_delete_object_per_key():
    requests = one("s3", "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}})
    assert [(r.action, r.resource) for r in requests] == [("s3:DeleteObject", "arn:aws:s3:::b/a"),
                                                           ("s3:DeleteObject", "arn:aws:s3:::b/b")]


def test_arn_parameters_and_names_fill_the_reference_formats():
    (start,) = one("stepfunctions", "StartExecution",
                   {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"}, signing_name="states")
    assert start.resource == "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    (put,) = one("dynamodb", "PutItem", {"TableName": "t", "Item": {}})
    assert put.resource == "arn:aws:dynamodb:us-east-1:123456789012:table/t"
    (invoke,) = one("lambda", "Invoke", {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f"})
    assert (invoke.action, invoke.resource) == ("lambda:InvokeFunction",
                                                "arn:aws:lambda:us-east-1:123456789012:function:f")


def test_application_auto_scaling_checks_the_callers_sagemaker_permissions():
    """Application Auto Scaling's permissions validation: RegisterScalableTarget on a SageMaker variant calls
    SageMaker with the caller's credentials."""
    requests = one("application-autoscaling", "RegisterScalableTarget", {
        "ServiceNamespace": "sagemaker", "ResourceId": "endpoint/My-Endpoint/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"})
    dependent = {(r.action, r.resource) for r in requests[1:]}
    endpoint = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint"
    configs = "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/*"
    assert dependent == {("sagemaker:DescribeEndpoint", endpoint), ("sagemaker:DescribeEndpointConfig", configs),
                         ("sagemaker:UpdateEndpointWeightsAndCapacities", endpoint)}


def test_scheduled_actions_carry_the_namespace_and_dimension_a_policy_can_condition_on():
    """PutScheduledAction's reference lists application-autoscaling:service-namespace and scalable-dimension:
    a grant conditioned on them (the capacity planner's) is evaluated with the request's values."""
    (request,) = one("application-autoscaling", "PutScheduledAction", {
        "ServiceNamespace": "sagemaker", "ResourceId": "inference-component/c", "ScheduledActionName": "plan-zero-017",
        "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount", "Schedule": "cron(0 17 ? * MON *)"})
    assert request.context_dict["application-autoscaling:service-namespace"] == "sagemaker"
    assert request.context_dict["application-autoscaling:scalable-dimension"] == \
        "sagemaker:inference-component:DesiredCopyCount"
    (describe,) = one("application-autoscaling", "DescribeScheduledActions", {"ServiceNamespace": "sagemaker"})
    assert describe.resource == "*" and "application-autoscaling:service-namespace" not in describe.context_dict


def test_unknown_actions_are_reported_not_guessed():
    (request,) = one("lambda", "NoSuchOperation", {})
    assert request.resource == "?"
