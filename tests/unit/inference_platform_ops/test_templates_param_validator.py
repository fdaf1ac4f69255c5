"""inference_platform_ops.templates.validate_parameters: every problem, named, in one pass."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference_platform_ops.templates import load_template, validate_parameters
from tests.helpers.template_loader import TEMPLATES

TEMPLATE = {
    "Parameters": {
        "Name": {"Type": "String", "AllowedPattern": "^[a-z]+$", "MinLength": 2, "MaxLength": 5,
                 "ConstraintDescription": "lower-case letters"},
        "Mode": {"Type": "String", "Default": "a", "AllowedValues": ["a", "b"]},
        "Count": {"Type": "Number", "Default": 1, "MinValue": 1, "MaxValue": 10},
        "Size": {"Type": "Number", "Default": 1024, "AllowedValues": [1024, 2048]},
        "Limit": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 10},
        "Zones": {"Type": "CommaDelimitedList", "Default": "x", "AllowedValues": ["x", "y"]},
        "Flag": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]},
    },
    "Rules": {
        "FlagNeedsModeB": {
            "RuleCondition": {"Fn::Equals": [{"Ref": "Flag"}, "true"]},
            "Assertions": [{"Assert": {"Fn::Equals": [{"Ref": "Mode"}, "b"]},
                            "AssertDescription": "Flag needs Mode b"}],
        },
        "OnlyInHome": {
            "Assertions": [{"Assert": {"Fn::Contains": [["eu-west-1"], {"Ref": "AWS::Region"}]},
                            "AssertDescription": "home region only"}],
        },
        "ZonesKnown": {
            "Assertions": [{"Assert": {"Fn::EachMemberIn": [{"Ref": "Zones"}, ["x", "y"]]}},
                           {"Assert": {"Fn::Not": [{"Fn::EachMemberEquals": [{"Ref": "Zones"}, "z"]}]}}],
        },
        "Unsupported": {
            "Assertions": [{"Assert": {"Fn::Equals": [{"Fn::ValueOf": ["Name", "Tag"]}, "x"]}}],
        },
    },
    "Metadata": {"ParameterComparisons": [{"Lower": "Count", "Higher": "Limit", "OrEqual": True},
                                          {"Lower": "Limit", "Higher": "Size", "OrEqual": False}]},
}


def test_valid_values_give_no_problems():
    assert validate_parameters(TEMPLATE, {"Name": "abc", "Count": "3"}, region="eu-west-1") == []


def test_every_problem_is_reported_with_the_parameter_and_the_reason():
    problems = validate_parameters(TEMPLATE, {
        "Name": "ABC", "Mode": "c", "Count": "eleven", "Size": "1536", "Zones": "x,q", "Nmae": "x", "Flag": True,
    })
    assert problems == [
        "Nmae: not a parameter of this template (did you mean 'Name'?)",
        "Flag: value True must be a string (CloudFormation parameter values are strings)",
        "Name: 'ABC' does not match AllowedPattern ^[a-z]+$ (lower-case letters)",
        "Mode: 'c' is not one of 'a', 'b'",
        "Count: 'eleven' is not a number",
        "Size: '1536' is not one of 1024, 2048",
        "Zones: 'q' is not one of 'x', 'y'",
        "Rules.ZonesKnown: assertion failed",
    ]


def test_missing_required_parameter_and_length_limits():
    assert validate_parameters(TEMPLATE, {}) == ["Name: required (the template gives it no Default)"]
    assert validate_parameters(TEMPLATE, {"Name": "a"}) == [
        "Name: 'a' is shorter than MinLength 2 (lower-case letters)"]
    assert validate_parameters(TEMPLATE, {"Name": "abcdef"}) == [
        "Name: 'abcdef' is longer than MaxLength 5 (lower-case letters)"]


def test_rules_apply_only_under_their_condition_and_with_a_known_region():
    assert validate_parameters(TEMPLATE, {"Name": "ab", "Flag": "true"}) == ["Rules.FlagNeedsModeB: Flag needs Mode b"]
    assert validate_parameters(TEMPLATE, {"Name": "ab", "Flag": "true", "Mode": "b"}) == []
    assert validate_parameters(TEMPLATE, {"Name": "ab"}, region="us-east-1") == ["Rules.OnlyInHome: home region only"]


def test_numeric_comparisons_declared_in_metadata():
    assert validate_parameters(TEMPLATE, {"Name": "ab", "Count": "7", "Limit": "6"}) == [
        "Count=7 must be at most Limit=6"]
    assert validate_parameters(TEMPLATE, {"Name": "ab", "Count": "7", "Limit": "7"}) == []


@settings(max_examples=60)
@given(st.integers(min_value=-50, max_value=60))
def test_a_number_is_accepted_exactly_inside_its_range(count):
    """Whatever the value, Count is accepted iff 1 <= Count <= 10 (and comparisons still hold)."""
    problems = validate_parameters(TEMPLATE, {"Name": "ab", "Count": str(count), "Limit": "10"})
    assert (problems == []) is (1 <= count <= 10)
    if problems:
        assert problems[0].startswith("Count: ")


def test_non_finite_numbers_are_not_numbers():
    assert validate_parameters(TEMPLATE, {"Name": "ab", "Count": "nan"}) == ["Count: 'nan' is not a number"]


def test_load_template_reads_short_form_tags():
    template = load_template(TEMPLATES / "scaling.yaml")
    target = template["Resources"]["ScalableTarget"]["Properties"]
    assert target["MinCapacity"] == {"Ref": "MinCapacity"}


def test_main_yaml_reports_a_bad_params_file_all_at_once():
    main = load_template(TEMPLATES / "main.yaml")
    problems = validate_parameters(main, {
        "Environment": "prod", "ServerlessMemorySizeInMB": "1000", "BusinessStartHour": "18",
        "BusinessEndHour": "9", "EnableWorkflow": "true"}, region="us-east-1")
    joined = "\n".join(problems)
    for fragment in ["Environment: 'prod' is not one of", "ServerlessMemorySizeInMB: '1000' is not one of",
                     "BusinessStartHour=18 must be below BusinessEndHour=9", "EnableWorkflow needs EnableStateStore"]:
        assert fragment in joined


@pytest.mark.parametrize("value", ["true", "false"])
def test_boolean_defaults_compare_as_cloudformation_text(value):
    flag = {"Type": "String", "Default": value == "true", "AllowedValues": ["true", "false"]}
    template = {"Parameters": {"Flag": flag},
                "Rules": {"R": {"Assertions": [{"Assert": {"Fn::Equals": [{"Ref": "Flag"}, value]}}]}}}
    assert validate_parameters(template, {}) == []


def test_a_rewritten_template_is_read_again_even_with_the_same_size_and_time(tmp_path):
    """The parse cache must never hand back an old version: file times have a clock tick's granularity."""
    import os

    template = tmp_path / "t.yaml"
    template.write_text("Resources:\n  A:\n    Type: AWS::SNS::Topic\n")
    before = template.stat()
    first = load_template(template)
    first["Resources"]["A"]["Type"] = "edited by the caller"  # callers get their own copy

    template.write_text("Resources:\n  B:\n    Type: AWS::SQS::Queue\n")  # same size
    os.utime(template, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert template.stat().st_size == before.st_size
    assert load_template(template) == {"Resources": {"B": {"Type": "AWS::SQS::Queue"}}}
