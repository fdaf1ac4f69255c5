"""From CloudWatch history to a published plan: one batched GetMetricData, the scheduled actions, the item.

GetMetricData is stubbed with botocore's Stubber (the request is validated against the CloudWatch model and
must be exactly one call per page); the scheduled actions and the plan item go to moto.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from inference_platform.planning.capacity import BATCH, HOURS_PER_WEEK, PROVISIONED, SERVERLESS
from inference_platform.planning.publish import (
    PLAN_KEY,
    metric_queries,
    metric_sources,
    publish,
    schedule_actions,
    weekly_requests,
)
from inference_platform_ops.emulator import compat
from inference_platform_ops.iam import recorder
from tests.helpers.template_loader import TEMPLATES
from tests.helpers.workflow_harness import aws

NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # Sunday 20:30 in New York (EST, UTC-5)
COMPONENT = "ml-inference-local-component"  # the names of templates/params/local.json with EnableScaleToZero
SOURCES = metric_sources(component=COMPONENT, endpoints=["ml-inference-local-serverless"])
COMPONENT_RESOURCE = f"inference-component/{COMPONENT}"
DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


def cloudwatch_answering(*pages: dict, weeks: int = 2):
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    end = NOW.replace(minute=0)
    for index, page in enumerate(pages):
        expected = {"MetricDataQueries": metric_queries(SOURCES), "StartTime": end - timedelta(weeks=weeks),
                    "EndTime": end, "ScanBy": "TimestampAscending"}
        if index:
            expected["NextToken"] = ANY
        stubber.add_response("get_metric_data", page, expected)
    stubber.activate()
    return client, stubber


def test_the_component_and_the_serverless_endpoint_are_read_under_their_own_dimensions():
    assert SOURCES == [[{"Name": "InferenceComponentName", "Value": COMPONENT}],
                       [{"Name": "EndpointName", "Value": "ml-inference-local-serverless"},
                        {"Name": "VariantName", "Value": "AllTraffic"}]]
    assert metric_sources(endpoints=["a", ""]) == [[{"Name": "EndpointName", "Value": "a"},
                                                    {"Name": "VariantName", "Value": "AllTraffic"}]]


def test_one_batched_call_per_page_folds_both_sources_into_local_hours_of_the_week():
    """Monday 09:00 New York (14:00 UTC) in two weeks, from both sources; latency is in microseconds."""
    monday_9 = [datetime(2026, 11, 9, 14, tzinfo=UTC), datetime(2026, 11, 16, 14, tzinfo=UTC)]
    client, stubber = cloudwatch_answering(
        {"MetricDataResults": [{"Id": "invocations0", "Timestamps": monday_9, "Values": [100.0, 300.0]},
                               {"Id": "latency0", "Timestamps": monday_9, "Values": [100_000.0, 300_000.0]}],
         "NextToken": "page-2"},
        {"MetricDataResults": [{"Id": "invocations1", "Timestamps": monday_9[:1], "Values": [40.0]}]},
    )

    history = weekly_requests(client, SOURCES, weeks=2, now=NOW, timezone="America/New_York")

    stubber.assert_no_pending_responses()  # exactly two calls: the first page and its NextToken
    assert len(history.requests) == HOURS_PER_WEEK
    assert history.requests[9] == pytest.approx((100 + 300 + 40) / 2)  # mean over the 2 weeks
    assert sum(history.requests) == pytest.approx(220)
    assert history.latency_ms == pytest.approx(200.0)


def test_no_data_means_no_requests_and_no_latency():
    client, _ = cloudwatch_answering({"MetricDataResults": []}, weeks=4)
    history = weekly_requests(client, SOURCES, weeks=4, now=NOW, timezone="America/New_York")
    assert sum(history.requests) == 0 and history.latency_ms is None
    with pytest.raises(ValueError, match="weeks must be 1-12"):
        weekly_requests(client, SOURCES, weeks=13, now=NOW, timezone="UTC")
    with pytest.raises(ValueError, match="no endpoint or inference component"):
        weekly_requests(client, [], weeks=4, now=NOW, timezone="UTC")


def weekdays_nine_to_five() -> list[str]:
    return [PROVISIONED if day < 5 and 9 <= hour < 17 else SERVERLESS for day in range(7) for hour in range(24)]


def test_each_provisioned_run_is_woken_ahead_and_emptied_when_it_ends():
    actions = schedule_actions(weekdays_nine_to_five(), lead_minutes=15, max_copies=4)
    wakes = [a for a in actions if a["name"].startswith("plan-wake")]
    zeros = [a for a in actions if a["name"].startswith("plan-zero")]
    assert [a["schedule"] for a in wakes] == [f"cron(45 8 ? * {day} *)" for day in ("MON", "TUE", "WED", "THU", "FRI")]
    assert [a["schedule"] for a in zeros] == [f"cron(0 17 ? * {day} *)" for day in ("MON", "TUE", "WED", "THU", "FRI")]
    assert {(a["min"], a["max"]) for a in wakes} == {(1, 4)} and {(a["min"], a["max"]) for a in zeros} == {(0, 0)}


def test_a_run_across_midnight_sunday_wakes_on_sunday_and_an_always_on_plan_is_one_action():
    choices = [SERVERLESS] * HOURS_PER_WEEK
    choices[0] = PROVISIONED  # Monday 00:00-01:00
    actions = schedule_actions(choices, lead_minutes=60, max_copies=1)
    assert [(a["name"], a["schedule"]) for a in actions] == [("plan-wake-000", "cron(0 23 ? * SUN *)"),
                                                             ("plan-zero-001", "cron(0 1 ? * MON *)")]
    assert schedule_actions([PROVISIONED] * HOURS_PER_WEEK, lead_minutes=15, max_copies=2) == [
        {"name": "plan-always", "schedule": "cron(0 0 ? * MON *)", "min": 1, "max": 2}]
    assert schedule_actions([BATCH] * HOURS_PER_WEEK, lead_minutes=15, max_copies=2) == []
    with pytest.raises(ValueError, match="168 hours"):
        schedule_actions([SERVERLESS] * 24, lead_minutes=15, max_copies=1)


@pytest.fixture
def account():
    # compat: moto refuses the inference-component scalable dimension botocore's model has (patch 15).
    with mock_aws(), compat.patched():
        aws("dynamodb").create_table(
            TableName="ml-inference-local-state", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        autoscaling = aws("application-autoscaling")
        autoscaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=COMPONENT_RESOURCE,
                                             ScalableDimension=DIMENSION, MinCapacity=0, MaxCapacity=4)
        yield boto3.resource("dynamodb", region_name="us-east-1").Table("ml-inference-local-state"), autoscaling


def plan_actions(autoscaling) -> dict[str, str]:
    found = autoscaling.describe_scheduled_actions(ServiceNamespace="sagemaker", ResourceId=COMPONENT_RESOURCE,
                                                   ScalableDimension=DIMENSION)["ScheduledActions"]
    return {a["ScheduledActionName"]: a["Schedule"] for a in found}


def test_publishing_replaces_the_plans_actions_and_keeps_the_templates_own(account):
    table, autoscaling = account
    autoscaling.put_scheduled_action(  # the template's own business-hours wake-up: not the planner's to touch
        ServiceNamespace="sagemaker", ScheduledActionName="wake-before-business-hours", ResourceId=COMPONENT_RESOURCE,
        ScalableDimension=DIMENSION, Schedule="cron(45 8 ? * MON-FRI *)", ScalableTargetAction={"MinCapacity": 1})
    publish(table, autoscaling, choices=weekdays_nine_to_five(), component=COMPONENT,
            timezone="America/New_York", lead_minutes=15, max_copies=4, details={"weeks": "4"}, now=NOW)
    assert len(plan_actions(autoscaling)) == 11

    mondays_only = [c if i < 24 else SERVERLESS for i, c in enumerate(weekdays_nine_to_five())]
    result = publish(table, autoscaling, choices=mondays_only, component=COMPONENT,
                     timezone="America/New_York", lead_minutes=15, max_copies=4, details={}, now=NOW)

    assert result == {"actions": 2, "removed": 8}
    assert plan_actions(autoscaling) == {"wake-before-business-hours": "cron(45 8 ? * MON-FRI *)",
                                         "plan-wake-009": "cron(45 8 ? * MON *)",
                                         "plan-zero-017": "cron(0 17 ? * MON *)"}
    item = table.get_item(Key=PLAN_KEY)["Item"]
    assert item["choices"] == mondays_only and item["created_at"] == NOW.isoformat()


COST_POLICY = {"EnableScaleToZero": "true", "RoutingPolicy": "cost"}
PLANNER = recorder.Principal("lambda", "ml-inference-local-capacity-planner", "us-east-1", "123456789012")
PLANNER_ENV = {
    "PROVISIONED_ENDPOINT_NAME": "ml-inference-local-provisioned", "PROVISIONED_INFERENCE_COMPONENT_NAME": COMPONENT,
    "SERVERLESS_ENDPOINT_NAME": "ml-inference-local-serverless", "STATE_TABLE_NAME": "ml-inference-local-state",
    "BUSINESS_TIMEZONE": "America/New_York", "BUSINESS_START_HOUR": "9", "BUSINESS_END_HOUR": "17",
    "BUSINESS_DAYS": "MON-FRI", "PLANNING_WEEKS": "1", "COLD_START_BUDGET_PER_MONTH": "1000",
    "EXPECTED_MODEL_LATENCY_MS": "150", "INSTANCE_TYPE": "ml.m5.large", "SERVERLESS_MEMORY_MB": "2048",
    "SERVERLESS_MAX_CONCURRENCY": "50", "TARGET_INVOCATIONS_PER_COPY": "200", "MAX_COPIES": "4",
    "WAKE_LEAD_MINUTES": "15", "AWS_REGION": "us-east-1",
}


def test_the_planner_lambda_reads_last_weeks_traffic_and_publishes_next_weeks_plan(account, monkeypatch):
    """Last week the component was busy on Tuesday 10:00-12:00 local (10,000 requests an hour at 1 s each):
    the plan keeps it awake then (woken at 09:45), and quiet hours go to serverless."""
    from inference_platform.handlers import capacity_planner
    from inference_platform_ops.emulator.lambdas import EmulatedLambdaContext

    table, autoscaling = account
    for name, value in PLANNER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(capacity_planner, "datetime", type("FixedClock", (datetime,), {"now": staticmethod(
        lambda tz=None: NOW)}))  # Sunday evening: last week is Monday 16 to Sunday 22 November
    busy = [datetime(2026, 11, 17, h, 30, tzinfo=ZoneInfo("America/New_York")) for h in (10, 11)]
    dimensions = [{"Name": "InferenceComponentName", "Value": COMPONENT}]
    aws("cloudwatch").put_metric_data(Namespace="AWS/SageMaker", MetricData=[
        *({"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": t, "Value": 10_000.0} for t in busy),
        *({"MetricName": "ModelLatency", "Dimensions": dimensions, "Timestamp": t, "Value": 1_000_000.0}
          for t in busy)])

    # Made as the deployed planner of the local params with the cost policy on: the permission contract checks
    # every call it makes against its role's policy.
    with recorder.world("local", TEMPLATES, **COST_POLICY), recorder.acting_as(PLANNER):
        result = capacity_planner.handler({}, EmulatedLambdaContext(
            PLANNER.name, f"arn:aws:lambda:us-east-1:123456789012:function:{PLANNER.name}"))

    choices = table.get_item(Key=PLAN_KEY)["Item"]["choices"]
    assert [i for i, c in enumerate(choices) if c == PROVISIONED] == [24 + 10, 24 + 11]
    assert set(choices) == {PROVISIONED, SERVERLESS}
    assert result["provisioned_hours"] == 2 and result["model_latency_ms"] == "1000.0"
    assert {k: v for k, v in plan_actions(autoscaling).items()} == {"plan-wake-034": "cron(45 9 ? * TUE *)",
                                                                    "plan-zero-036": "cron(0 12 ? * TUE *)"}
