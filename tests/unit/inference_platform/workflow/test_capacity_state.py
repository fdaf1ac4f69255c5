"""The router's view of capacity: copies of the inference component and the published plan, cached briefly.

SageMaker is stubbed with botocore's Stubber, which validates every request against the service model
(DescribeInferenceComponent's parameter names and types) as a real call would be.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from inference_platform.workflow.capacity_state import PLAN_KEY, CapacityState
from tests.helpers.workflow_harness import aws

COMPONENT = "demo-prod-component"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sagemaker_answering(*copy_counts: int | None):
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for copies in copy_counts:
        if copies is None:
            stubber.add_client_error("describe_inference_component", "ThrottlingException", http_status_code=400,
                                     expected_params={"InferenceComponentName": COMPONENT})
            continue
        stubber.add_response("describe_inference_component", {
            "InferenceComponentName": COMPONENT, "InferenceComponentArn":
                f"arn:aws:sagemaker:us-east-1:123456789012:inference-component/{COMPONENT}",
            "EndpointName": "demo-prod-provisioned", "EndpointArn":
                "arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo-prod-provisioned",
            "CreationTime": "2026-01-01T00:00:00Z", "LastModifiedTime": "2026-01-01T00:00:00Z",
            "InferenceComponentStatus": "InService",
            "RuntimeConfig": {"DesiredCopyCount": copies, "CurrentCopyCount": copies},
        }, {"InferenceComponentName": COMPONENT})
    stubber.activate()
    return client, stubber


def test_copies_are_read_once_per_ttl_and_zero_means_no_capacity():
    clock = Clock()
    state = CapacityState(clock=clock, copies_ttl_s=30)
    client, stubber = sagemaker_answering(1, 0)

    assert state.component_has_copies(client, COMPONENT) is True
    clock.now = 29
    assert state.component_has_copies(client, COMPONENT) is True  # cached: no second call
    clock.now = 31
    assert state.component_has_copies(client, COMPONENT) is False  # scaled to zero since
    stubber.assert_no_pending_responses()


def test_when_sagemaker_cannot_be_asked_the_component_is_treated_as_empty(caplog):
    client, _ = sagemaker_answering(None)
    assert CapacityState().component_has_copies(client, COMPONENT) is False
    assert "routing elsewhere" in caplog.text


@pytest.fixture
def state_table():
    with mock_aws():
        aws("dynamodb").create_table(
            TableName="state", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        yield boto3.resource("dynamodb", region_name="us-east-1").Table("state")


def test_plan_is_none_before_the_first_publication_then_read_from_the_table(state_table):
    clock = Clock()
    state = CapacityState(clock=clock, plan_ttl_s=300)
    assert state.plan(state_table) is None

    state_table.put_item(Item={**PLAN_KEY, "choices": ["serverless"] * 168})
    assert state.plan(state_table) is None  # still cached
    clock.now = 301
    assert state.plan(state_table) == ["serverless"] * 168
