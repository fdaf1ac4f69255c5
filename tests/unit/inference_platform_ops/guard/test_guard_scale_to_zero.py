"""SCALE_TO_ZERO_WAKE_UP_LINK: a component that can reach zero copies has its wake-up wired to it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from inference_platform_ops.guard.scale_to_zero_checks import RULE, check_scale_to_zero
from tests.helpers.template_loader import load_template


def wired(**target_overrides: Any) -> dict[str, Any]:
    target = {"ScalableDimension": "sagemaker:inference-component:DesiredCopyCount", "MinCapacity": 0,
              "MaxCapacity": 4}
    target.update(target_overrides)
    return {
        "Parameters": {"WakeMin": {"Type": "Number", "MinValue": 1}, "AnyMin": {"Type": "Number", "MinValue": 0}},
        "Resources": {
            "Target": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": target},
            "WakeUp": {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
                "PolicyType": "StepScaling", "ScalingTargetId": {"Ref": "Target"},
                "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity",
                                                   "StepAdjustments": [{"ScalingAdjustment": 1}]}}},
            "NoCapacity": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "Namespace": "AWS/SageMaker", "MetricName": "NoCapacityInvocationFailures",
                "Dimensions": [{"Name": "InferenceComponentName", "Value": "c"}],
                "AlarmActions": [{"Ref": "WakeUp"}]}},
        },
    }


def failures(tpl: dict[str, Any]) -> list[str]:
    return [f.message for f in check_scale_to_zero("scaling.yaml", tpl) if f.rule == RULE]


def test_the_shipped_scaling_template_is_wired():
    assert check_scale_to_zero("scaling.yaml", load_template("scaling.yaml")) == []


def test_a_wired_component_passes_and_a_classic_variant_is_not_checked():
    assert failures(wired()) == []
    classic = wired(ScalableDimension="sagemaker:variant:DesiredInstanceCount")
    del classic["Resources"]["WakeUp"], classic["Resources"]["NoCapacity"]
    assert failures(classic) == []


def test_a_policy_on_another_target_does_not_wake_this_one():
    tpl = wired()
    tpl["Resources"]["WakeUp"]["Properties"]["ScalingTargetId"] = {"Ref": "SomethingElse"}
    assert "no StepScaling policy on this target" in failures(tpl)[0]


def test_an_alarm_that_calls_nothing_of_ours_is_reported():
    tpl = wired()
    tpl["Resources"]["NoCapacity"]["Properties"]["AlarmActions"] = [{"Ref": "SomeTopic"}]
    assert "calls WakeUp" in failures(tpl)[0] or "calls" in failures(tpl)[0]


@pytest.mark.parametrize("minimum", [0, {"Ref": "AnyMin"}])
def test_a_schedule_that_only_sleeps_is_reported(minimum):
    sleeping = wired(MinCapacity=1, ScheduledActions={"Fn::If": ["On", [
        {"Schedule": "cron(0 18 ? * MON-FRI *)", "ScalableTargetAction": {"MinCapacity": minimum, "MaxCapacity": 0}}],
        {"Ref": "AWS::NoValue"}]})
    assert any("no action of it wakes it" in message for message in failures(sleeping))
    awake = copy.deepcopy(sleeping)
    awake["Resources"]["Target"]["Properties"]["ScheduledActions"]["Fn::If"][1].append(
        {"Schedule": "cron(45 8 ? * MON-FRI *)", "ScalableTargetAction": {"MinCapacity": {"Ref": "WakeMin"}}})
    assert failures(awake) == []


def test_a_target_that_never_reaches_zero_needs_no_wake_up():
    always_up = wired(MinCapacity=1)
    del always_up["Resources"]["WakeUp"], always_up["Resources"]["NoCapacity"]
    assert failures(always_up) == []
