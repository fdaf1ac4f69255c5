"""scaling.yaml and the scaling wiring in main.yaml: schedules, time zone, minimum capacity."""

from __future__ import annotations

import copy

import pytest

from inference_platform_ops.intrinsics import conditions, parameter_values, resolve
from tests.helpers.template_loader import TEMPLATES, load_template

SCALING = load_template("scaling.yaml")
MAIN = load_template("main.yaml")
ALL_TEMPLATES = sorted(path.name for path in TEMPLATES.glob("*.yaml"))


def forbidden_scheduled_action_resources(template: dict) -> list[str]:
    """Resources typed AWS::ApplicationAutoScaling::ScheduledAction (no such CloudFormation type)."""
    return [name for name, res in (template.get("Resources") or {}).items()
            if res.get("Type") == "AWS::ApplicationAutoScaling::ScheduledAction"]


def capacity_minimums(template: dict) -> list[tuple[str, object]]:
    """Every MinCapacity of a SageMaker variant scalable target and of its scheduled actions."""
    found = []
    for name, res in (template.get("Resources") or {}).items():
        if res.get("Type") != "AWS::ApplicationAutoScaling::ScalableTarget":
            continue
        props = res.get("Properties", {})
        if props.get("ScalableDimension") != "sagemaker:variant:DesiredInstanceCount":
            continue
        found.append((f"{name}.MinCapacity", props.get("MinCapacity")))
        for action in props.get("ScheduledActions", []):
            target_action = action.get("ScalableTargetAction", {})
            if "MinCapacity" in target_action:
                found.append((f"{name}.{action.get('ScheduledActionName')}.MinCapacity", target_action["MinCapacity"]))
    return found


def minimums_that_can_be_zero(template: dict) -> list[str]:
    """Places where a classic variant's minimum capacity could end up 0 (or is not provably >= 1)."""
    parameters = template.get("Parameters") or {}
    bad = []
    for where, value in capacity_minimums(template):
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
            spec = parameters[value["Ref"]]
            allowed = spec.get("AllowedValues")
            floor = min(float(v) for v in allowed) if allowed else float(spec.get("MinValue", 0))
            if floor < 1:
                bad.append(where)
        elif isinstance(value, dict) or float(value) < 1:
            bad.append(where)
    return bad


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_no_template_uses_the_nonexistent_scheduled_action_type(name):
    assert forbidden_scheduled_action_resources(load_template(name)) == []


def test_the_scheduled_action_check_catches_a_reintroduced_resource():
    mutated = copy.deepcopy(SCALING)
    mutated["Resources"]["Morning"] = {"Type": "AWS::ApplicationAutoScaling::ScheduledAction", "Properties": {}}
    assert forbidden_scheduled_action_resources(mutated) == ["Morning"]


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_no_classic_variant_minimum_can_be_zero(name):
    assert minimums_that_can_be_zero(load_template(name)) == []


def test_scaling_has_minimums_to_check():
    assert len(capacity_minimums(SCALING)) == 3


@pytest.mark.parametrize("mutation", ["literal", "parameter-floor", "allowed-values"])
def test_the_minimum_check_catches_a_zero(mutation):
    mutated = copy.deepcopy(SCALING)
    target = mutated["Resources"]["ScalableTarget"]["Properties"]
    if mutation == "literal":
        target["ScheduledActions"][1]["ScalableTargetAction"]["MinCapacity"] = 0
    elif mutation == "parameter-floor":
        mutated["Parameters"]["OffHoursMinCapacity"]["MinValue"] = 0
    else:
        mutated["Parameters"]["MinCapacity"] = {"Type": "Number", "AllowedValues": [0, 1, 2]}
    assert minimums_that_can_be_zero(mutated) != []


def test_every_minimum_parameter_in_main_is_at_least_one():
    for name in ["BusinessHoursMinCapacity", "OffHoursMinCapacity", "InitialInstanceCount"]:
        assert MAIN["Parameters"][name]["MinValue"] >= 1, name


def test_scheduled_actions_are_a_property_of_the_scalable_target():
    target = SCALING["Resources"]["ScalableTarget"]["Properties"]
    assert target["ServiceNamespace"] == "sagemaker"
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["ResourceId"] == {"Fn::Sub": "endpoint/${EndpointName}/variant/${VariantName}"}
    names = [action["ScheduledActionName"] for action in target["ScheduledActions"]]
    assert names == ["business-hours-start", "business-hours-end"]


def scheduled(template: dict, values: dict) -> dict[str, dict]:
    actions = template["Resources"]["ScalableTarget"]["Properties"]["ScheduledActions"]
    out = {}
    for action in actions:
        out[action["ScheduledActionName"]] = {
            "Schedule": resolve(template, action["Schedule"], values),
            "Timezone": resolve(template, action["Timezone"], values),
            "Min": int(resolve(template, action["ScalableTargetAction"]["MinCapacity"], values)),
            "Max": int(resolve(template, action["ScalableTargetAction"]["MaxCapacity"], values)),
        }
    return out


def test_scaling_defaults_are_the_documented_business_hours():
    values = parameter_values(SCALING, {"Environment": "dev", "EndpointName": "ep"})
    assert scheduled(SCALING, values) == {
        "business-hours-start": {"Schedule": "cron(0 9 ? * MON-FRI *)", "Timezone": "America/New_York",
                                 "Min": 2, "Max": 8},
        "business-hours-end": {"Schedule": "cron(0 18 ? * MON-FRI *)", "Timezone": "America/New_York",
                               "Min": 1, "Max": 1},
    }


def child_values_from_main(overrides: dict) -> dict[str, str]:
    """Parameters main.yaml hands the scaling stack (GetAtt outputs stubbed with names)."""
    values = parameter_values(MAIN, {"Environment": "dev", **overrides})
    passed = MAIN["Resources"]["ScalingStack"]["Properties"]["Parameters"]
    resolved = {}
    for name, expr in passed.items():
        value = resolve(MAIN, expr, values)
        resolved[name] = value if isinstance(value, str) else f"stub-{name}"
    return parameter_values(SCALING, resolved)


def test_main_defaults_produce_the_issue_schedule():
    actions = scheduled(SCALING, child_values_from_main({}))
    assert actions["business-hours-start"]["Schedule"] == "cron(0 9 ? * MON-FRI *)"
    assert actions["business-hours-end"]["Schedule"] == "cron(0 18 ? * MON-FRI *)"
    assert {a["Timezone"] for a in actions.values()} == {"America/New_York"}
    assert (actions["business-hours-start"]["Min"], actions["business-hours-start"]["Max"]) == (2, 8)
    assert (actions["business-hours-end"]["Min"], actions["business-hours-end"]["Max"]) == (1, 1)


def test_schedule_follows_the_business_hours_parameters():
    """Scaling and the workflow's router read the same hours, days and time zone."""
    actions = scheduled(SCALING, child_values_from_main({
        "BusinessStartHour": "7", "BusinessEndHour": "20", "BusinessDays": "MON-SAT",
        "BusinessTimezone": "Europe/Berlin", "BusinessHoursMinCapacity": "3", "OffHoursMaxCapacity": "2"}))
    assert actions["business-hours-start"] == {"Schedule": "cron(0 7 ? * MON-SAT *)", "Timezone": "Europe/Berlin",
                                               "Min": 3, "Max": 8}
    assert actions["business-hours-end"] == {"Schedule": "cron(0 20 ? * MON-SAT *)", "Timezone": "Europe/Berlin",
                                             "Min": 1, "Max": 2}
    workflow = MAIN["Resources"]["WorkflowStack"]["Properties"]["Parameters"]
    for name in ["BusinessTimezone", "BusinessStartHour", "BusinessEndHour", "BusinessDays"]:
        assert workflow[name] == {"Ref": name}


def test_target_tracking_on_invocations_per_instance_with_cooldowns():
    policy = SCALING["Resources"]["InvocationsTargetTracking"]["Properties"]
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    values = parameter_values(SCALING, {"Environment": "dev", "EndpointName": "ep"})
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert resolve(SCALING, config["TargetValue"], values) == "70"
    assert int(resolve(SCALING, config["ScaleInCooldown"], values)) > 0
    assert int(resolve(SCALING, config["ScaleOutCooldown"], values)) > 0


# --- scale to zero: the inference component's copies -------------------------------------------------------

SCALE_TO_ZERO = {"EnableProvisionedEndpoint": "true", "EnableScaleToZero": "true", "EnableScheduledScaling": "true"}


def component_schedule(values: dict) -> dict[str, dict] | None:
    target = SCALING["Resources"]["ComponentScalableTarget"]["Properties"]
    actions = resolve(SCALING, target["ScheduledActions"], values)
    if not isinstance(actions, list):  # AWS::NoValue: no scheduled action
        return None
    return {a["ScheduledActionName"]: {
        "Schedule": a["Schedule"], "Timezone": a["Timezone"],
        "Min": int(a["ScalableTargetAction"]["MinCapacity"]), "Max": int(a["ScalableTargetAction"]["MaxCapacity"]),
    } for a in actions}


@pytest.mark.parametrize(("overrides", "wake", "sleep"), [
    ({}, "cron(45 8 ? * MON-FRI *)", "cron(0 18 ? * MON-FRI *)"),  # the default lead: 15 minutes
    ({"ScaleToZeroWakeLeadMinutes": "30", "BusinessStartHour": "10", "BusinessEndHour": "16",
      "BusinessDays": "MON-SAT"}, "cron(30 9 ? * MON-SAT *)", "cron(0 16 ? * MON-SAT *)"),
    ({"ScaleToZeroWakeLeadMinutes": "60", "BusinessStartHour": "1"}, "cron(0 0 ? * MON-FRI *)",
     "cron(0 18 ? * MON-FRI *)"),
])
def test_the_component_wakes_its_lead_before_business_hours_and_goes_to_zero_after(overrides, wake, sleep):
    values = child_values_from_main({**SCALE_TO_ZERO, "BusinessTimezone": "Europe/Berlin", **overrides})
    assert component_schedule(values) == {
        "wake-before-business-hours": {"Schedule": wake, "Timezone": "Europe/Berlin", "Min": 2, "Max": 8},
        "zero-after-business-hours": {"Schedule": sleep, "Timezone": "Europe/Berlin", "Min": 0, "Max": 0},
    }
    target = SCALING["Resources"]["ComponentScalableTarget"]["Properties"]
    assert (target["ScalableDimension"], target["MinCapacity"]) == ("sagemaker:inference-component:DesiredCopyCount", 0)


def test_an_on_demand_component_has_no_schedule_and_wakes_on_its_first_request():
    values = child_values_from_main({**SCALE_TO_ZERO, "ScaleToZeroSchedule": "on-demand"})
    assert component_schedule(values) is None
    resources = SCALING["Resources"]
    step = resources["ComponentScaleOutFromZero"]["Properties"]
    assert step["PolicyType"] == "StepScaling"
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    alarm = resources["NoCapacityAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SageMaker", "NoCapacityInvocationFailures")
    assert alarm["AlarmActions"] == [{"Ref": "ComponentScaleOutFromZero"}]
    tracking = resources["ComponentTargetTracking"]["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == \
        "SageMakerInferenceComponentInvocationsPerCopy"


def test_the_classic_variant_keeps_its_own_target_and_rules_when_scale_to_zero_is_off():
    off = conditions(SCALING, child_values_from_main({"EnableProvisionedEndpoint": "true",
                                                            "EnableScheduledScaling": "true"}))
    on = conditions(SCALING, child_values_from_main(SCALE_TO_ZERO))
    assert (off["IsClassic"], off["IsComponent"]) == (True, False)
    assert (on["IsClassic"], on["IsComponent"]) == (False, True)
    assert SCALING["Resources"]["ScalableTarget"]["Condition"] == "IsClassic"
