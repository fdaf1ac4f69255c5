"""`make plan-capacity`: the week grid of the cost policy's plan, from a traffic profile or from CloudWatch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from inference_platform.planning.capacity import HOURS_PER_WEEK
from inference_platform_ops.cost import plan_capacity
from inference_platform_ops.paths import PARAMS
from tests.helpers.workflow_harness import aws


def params_file(tmp_path, **parameters: str):
    config = json.loads((PARAMS / "staging.json").read_text())
    config["Parameters"].update(parameters)
    path = tmp_path / "staging.json"
    path.write_text(json.dumps(config))
    return path


def test_busy_business_hours_get_the_provisioned_endpoint_and_the_plan_beats_the_rule(tmp_path, capsys):
    """60,000 requests an hour at peak, 600 a minute per instance: instances win by day, serverless at night."""
    params = params_file(tmp_path, TargetInvocationsPerInstance="600", BusinessHoursMaxCapacity="10")
    assert plan_capacity.main(["--env", "staging", "--params", str(params), "--profile", "heavy-business-hours",
                               "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)

    choices = summary["choices"]
    assert len(choices) == HOURS_PER_WEEK
    provisioned = {divmod(i, 24) for i, c in enumerate(choices) if c == "provisioned"}
    # Weekdays 08:00-18:00 carry 25,000-60,000 requests an hour: the instances; the nights (at most 8,000) and
    # weekends never do.
    assert {(day, hour) for day in range(5) for hour in range(8, 18)} <= provisioned
    assert all(day < 5 and 7 <= hour < 19 for day, hour in provisioned)
    assert summary["within_budget"]
    assert summary["plan"]["endpoint_usd_per_month"] <= summary["business_hours_rule"]["endpoint_usd_per_month"]


def test_the_grid_shows_every_hour_of_the_week(capsys):
    assert plan_capacity.main(["--env", "staging"]) == 0
    printed = capsys.readouterr().out
    rows = [line.split() for line in printed.splitlines() if line.strip()[:3] in ("Mon", "Sat", "Sun")]
    assert [row[0] for row in rows] == ["Mon", "Sat", "Sun"] and all(len(row) == 25 for row in rows)
    assert "business-hours rule:" in printed and "from profile data/traffic/business-hours.csv" in printed


def test_an_unknown_profile_is_one_line_naming_it(capsys):
    assert plan_capacity.main(["--env", "staging", "--profile", "weekends-only"]) == plan_capacity.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.startswith("plan-capacity: ") and "weekends-only" in error and error.count("\n") == 1


def test_from_cloudwatch_reads_the_components_invocations_of_the_deployed_stack(capsys):
    """The stack's outputs name the component and the serverless endpoint; their invocations are the history."""
    with mock_aws():
        aws("cloudformation").create_stack(StackName="ml-inference-staging", TemplateBody=json.dumps({
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {"InferenceComponentName": {"Value": "ml-inference-staging-component"},
                        "ProvisionedEndpointName": {"Value": "ml-inference-staging-provisioned"},
                        "ServerlessEndpointName": {"Value": "ml-inference-staging-serverless"}}}))
        hour = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(days=1)
        aws("cloudwatch").put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
            "MetricName": "Invocations", "Timestamp": hour, "Value": 4000.0,
            "Dimensions": [{"Name": "InferenceComponentName", "Value": "ml-inference-staging-component"}]}])

        assert plan_capacity.main(["--env", "staging", "--from-cloudwatch", "--weeks", "1", "--json"]) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["history"] == ("AWS/SageMaker Invocations of ml-inference-staging-component, "
                                  "ml-inference-staging-serverless, last 1 weeks")
    assert len(summary["choices"]) == HOURS_PER_WEEK


def test_from_cloudwatch_without_the_stack_is_one_line(capsys):
    with mock_aws():
        assert plan_capacity.main(["--env", "staging", "--from-cloudwatch"]) == plan_capacity.EXIT_BAD_INPUT
    assert "ml-inference-staging" in capsys.readouterr().err


@pytest.mark.parametrize("weeks", ["0", "13"])
def test_weeks_out_of_range_are_refused(weeks, capsys):
    with mock_aws():
        assert plan_capacity.main(["--env", "staging", "--from-cloudwatch", "--weeks", weeks]) == 2
    assert "--weeks must be 1-12" in capsys.readouterr().err
