"""billing-alarms.yaml: us-east-1 only, three budget tiers, an encrypted topic, visible missing data."""

from __future__ import annotations

import copy

from inference_platform_ops.intrinsics import active_resources, parameter_values, resolve
from inference_platform_ops.templates import validate_parameters
from tests.helpers.template_loader import load_template

BILLING = load_template("billing-alarms.yaml")
ALARMS = ["FirstTierAlarm", "SecondTierAlarm", "ThirdTierAlarm"]


def asserts_us_east_1(template: dict) -> bool:
    """True when an unconditional Rules assertion pins AWS::Region to us-east-1."""
    for rule in (template.get("Rules") or {}).values():
        if "RuleCondition" in rule:
            continue
        for assertion in rule.get("Assertions", []):
            test = assertion.get("Assert", {})
            if test.get("Fn::Equals") in ([{"Ref": "AWS::Region"}, "us-east-1"], ["us-east-1", {"Ref": "AWS::Region"}]):
                return True
    return False


def test_billing_stack_refuses_every_region_but_us_east_1():
    assert asserts_us_east_1(BILLING)
    assert validate_parameters(BILLING, {"Environment": "dev"}, region="us-east-1") == []
    problems = validate_parameters(BILLING, {"Environment": "dev"}, region="eu-west-1")
    assert len(problems) == 1
    assert "us-east-1" in problems[0] and "published only" in problems[0]


def test_the_region_check_catches_a_removed_or_weakened_assertion():
    removed = copy.deepcopy(BILLING)
    del removed["Rules"]
    assert not asserts_us_east_1(removed)
    conditional = copy.deepcopy(BILLING)
    conditional["Rules"]["BillingMetricsOnlyInUsEast1"]["RuleCondition"] = {
        "Fn::Equals": [{"Ref": "Environment"}, "production"]}
    assert not asserts_us_east_1(conditional)


def alarm(name: str) -> dict:
    return BILLING["Resources"][name]["Properties"]


def test_three_tiers_at_50_80_100_percent_of_the_budget_by_default():
    values = parameter_values(BILLING, {"Environment": "dev", "MonthlyBudgetUsd": "400"})
    thresholds = [resolve(BILLING, alarm(name)["Threshold"], values) for name in ALARMS]
    assert thresholds == ["50", "80", "100"]
    for name in ALARMS:
        metrics = {metric["Id"]: metric for metric in alarm(name)["Metrics"]}
        stat = metrics["charges"]["MetricStat"]
        assert stat["Metric"]["Namespace"] == "AWS/Billing"
        assert stat["Metric"]["MetricName"] == "EstimatedCharges"
        assert stat["Metric"]["Dimensions"] == [{"Name": "Currency", "Value": "USD"}]
        assert resolve(BILLING, metrics["percent_of_budget"]["Expression"], values) == "100 * charges / 400"
        assert metrics["percent_of_budget"]["ReturnData"] is True
        assert alarm(name)["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_missing_billing_data_is_never_a_silent_ok():
    for name in ALARMS:
        assert alarm(name)["TreatMissingData"] not in ("notBreaching", "ignore"), name
    # At least one tier tells someone when there is no billing data at all.
    assert any(alarm(name).get("InsufficientDataActions") == [{"Ref": "AlarmTopic"}] for name in ALARMS)


def test_alarms_notify_a_kms_encrypted_topic_exported_as_output():
    for name in ALARMS:
        assert alarm(name)["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert BILLING["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    assert BILLING["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}


def test_email_subscription_only_when_an_address_is_given():
    without = active_resources(BILLING, {"Environment": "dev"})
    with_email = active_resources(BILLING, {"Environment": "dev", "AlarmEmail": "ops@example.com"})
    assert "AlarmEmailSubscription" not in without
    assert set(with_email) - set(without) == {"AlarmEmailSubscription"}
    assert validate_parameters(BILLING, {"Environment": "dev", "AlarmEmail": "not-an-address"}) != []
