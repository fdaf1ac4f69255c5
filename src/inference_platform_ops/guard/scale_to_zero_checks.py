"""SCALE_TO_ZERO_WAKE_UP_LINK: a copy count that can reach zero has a wake-up wired to it.

cfn-guard 3.1 can see that a step policy and a NoCapacityInvocationFailures alarm exist (rule
SCALING_SCALE_TO_ZERO_WAKE_UP), not that they belong together. For every ScalableTarget on
``sagemaker:inference-component:DesiredCopyCount`` that can reach 0 copies (MinCapacity, or a scheduled
action's MinCapacity, is 0 or a Parameter that allows 0), this check requires, in the same template:

* a StepScaling ScalingPolicy whose ScalingTargetId is ``Ref`` that target, AdjustmentType ChangeInCapacity,
  every ScalingAdjustment >= 1;
* an AWS/SageMaker NoCapacityInvocationFailures alarm with an InferenceComponentName dimension whose
  AlarmActions include ``Ref`` that policy;
* in every list of scheduled actions that sends the component to 0, a wake-up action whose MinCapacity
  is >= 1 (a literal, or a Parameter whose MinValue is >= 1).
"""

from __future__ import annotations

from typing import Any

from inference_platform_ops.guard.findings import Finding
from inference_platform_ops.templates import declared_parameters, properties, resources_of_type

RULE = "SCALE_TO_ZERO_WAKE_UP_LINK"
COPY_COUNT = "sagemaker:inference-component:DesiredCopyCount"


def _minimum(value: Any, parameters: dict[str, Any]) -> float | None:
    """The smallest value ``value`` can take: a literal, or a Ref'd Parameter's MinValue (None: unknown)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        spec = parameters.get(value["Ref"])
        if isinstance(spec, dict):
            if "MinValue" in spec:
                return float(spec["MinValue"])
            allowed = spec.get("AllowedValues")
            if isinstance(allowed, list) and allowed:
                return min(float(v) for v in allowed)
    return None


def _action_lists(scheduled: Any) -> list[list[dict]]:
    """The lists of actions a ScheduledActions value can be: itself, or each list branch of an Fn::If."""
    if isinstance(scheduled, list):
        return [[a for a in scheduled if isinstance(a, dict)]]
    if isinstance(scheduled, dict) and isinstance(scheduled.get("Fn::If"), list):
        return [[a for a in branch if isinstance(a, dict)] for branch in scheduled["Fn::If"][1:]
                if isinstance(branch, list)]
    return []


def _action_minimum(action: dict, parameters: dict[str, Any]) -> float | None:
    target_action = action.get("ScalableTargetAction")
    return _minimum(target_action.get("MinCapacity"), parameters) if isinstance(target_action, dict) else None


def _can_reach_zero(props: dict, parameters: dict[str, Any]) -> bool:
    minima = [_minimum(props.get("MinCapacity"), parameters)]
    minima += [_action_minimum(a, parameters) for actions in _action_lists(props.get("ScheduledActions"))
               for a in actions]
    return any(m is None or m <= 0 for m in minima)


def _wakes(policy: dict) -> bool:
    config = properties(policy).get("StepScalingPolicyConfiguration")
    if properties(policy).get("PolicyType") != "StepScaling" or not isinstance(config, dict):
        return False
    steps = config.get("StepAdjustments")
    return (config.get("AdjustmentType") == "ChangeInCapacity" and isinstance(steps, list) and bool(steps)
            and all(isinstance(s, dict) and isinstance(s.get("ScalingAdjustment"), int)
                    and s["ScalingAdjustment"] >= 1 for s in steps))


def _alarm_calls(alarm: dict, policy: str) -> bool:
    props = properties(alarm)
    dimensions = found if isinstance(found := props.get("Dimensions"), list) else []
    return (props.get("Namespace") == "AWS/SageMaker" and props.get("MetricName") == "NoCapacityInvocationFailures"
            and any(isinstance(d, dict) and d.get("Name") == "InferenceComponentName" for d in dimensions)
            and {"Ref": policy} in (props.get("AlarmActions") or []))


def check_scale_to_zero(template_name: str, template: dict[str, Any]) -> list[Finding]:
    parameters = declared_parameters(template)
    policies = resources_of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    findings = []
    for name, target in resources_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget").items():
        props = properties(target)
        if props.get("ScalableDimension") != COPY_COUNT or not _can_reach_zero(props, parameters):
            continue
        wake_policies = [p for p, body in policies.items()
                         if properties(body).get("ScalingTargetId") == {"Ref": name} and _wakes(body)]
        if not wake_policies:
            findings.append(Finding(template_name, name, RULE,
                                    "the inference component can reach 0 copies but no StepScaling policy on this "
                                    "target adds one (ChangeInCapacity, ScalingAdjustment >= 1). Fix: add one with "
                                    f"ScalingTargetId: !Ref {name}."))
        elif not any(_alarm_calls(alarm, policy) for alarm in alarms.values() for policy in wake_policies):
            findings.append(Finding(template_name, name, RULE,
                                    f"no NoCapacityInvocationFailures alarm (dimension InferenceComponentName) calls "
                                    f"{', '.join(wake_policies)}: a request at zero copies wakes nothing. Fix: "
                                    f"AlarmActions: [!Ref {wake_policies[0]}]."))
        for actions in _action_lists(props.get("ScheduledActions")):
            minima = [_action_minimum(a, parameters) for a in actions]
            if actions and any(m is not None and m <= 0 for m in minima) and not any(
                    m is not None and m >= 1 for m in minima):
                findings.append(Finding(template_name, name, RULE,
                                        "a schedule takes the component to 0 copies and no action of it wakes it "
                                        "(MinCapacity >= 1, literal or a Parameter with MinValue >= 1). Fix: add a "
                                        "wake-up action before business hours."))
    return findings
