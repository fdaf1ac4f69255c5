"""Join checks cfn-guard cannot express: TLS-only bucket policies and Lambda log groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_platform_ops.guard.extra_checks import (
    LOG_GROUP_RULE,
    TLS_RULE,
    check_bucket_tls,
    check_lambda_log_groups,
)
from inference_platform_ops.guard.findings import read_suppressions
from inference_platform_ops.templates import load_template

TLS_STATEMENT = {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def bucket_template(statement: dict | None, bucket_ref: str = "Data") -> dict:
    resources = {"Data": {"Type": "AWS::S3::Bucket"}}
    if statement is not None:
        resources["DataPolicy"] = {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": bucket_ref}, "PolicyDocument": {"Statement": [statement]}}}
    return {"Resources": resources}


def test_bucket_with_tls_deny_policy_passes() -> None:
    assert check_bucket_tls("t.yaml", bucket_template(TLS_STATEMENT)) == []


@pytest.mark.parametrize("statement, ref", [
    (None, "Data"),
    ({**TLS_STATEMENT, "Effect": "Allow"}, "Data"),
    ({**TLS_STATEMENT, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, "Data"),
    ({**TLS_STATEMENT, "Action": "s3:GetObject"}, "Data"),
    (TLS_STATEMENT, "OtherBucket"),
])
def test_bucket_without_a_matching_tls_deny_fails(statement: dict | None, ref: str) -> None:
    findings = check_bucket_tls("t.yaml", bucket_template(statement, ref))
    assert [(f.template, f.resource, f.rule) for f in findings] == [("t.yaml", "Data", TLS_RULE)]


def function(**props: object) -> dict:
    return {"Type": "AWS::Lambda::Function", "Properties": props}


def log_group(name: object, retention: bool = True) -> dict:
    props = {"LogGroupName": name}
    if retention:
        props["RetentionInDays"] = 30
    return {"Type": "AWS::Logs::LogGroup", "Properties": props}


@pytest.mark.parametrize("resources", [
    {"Fn": function(FunctionName={"Fn::Sub": "${ProjectName}-route"}),
     "Logs": log_group({"Fn::Sub": "/aws/lambda/${ProjectName}-route"})},
    {"Fn": function(), "Logs": log_group({"Fn::Sub": "/aws/lambda/${Fn}"})},
    {"Fn": function(LoggingConfig={"LogGroup": {"Ref": "Logs"}}), "Logs": log_group("/custom/route")},
    {"Fn": function(FunctionName="route"), "Logs": log_group("/aws/lambda/route")},
])
def test_function_with_its_log_group_and_retention_passes(resources: dict) -> None:
    assert check_lambda_log_groups("t.yaml", {"Resources": resources}) == []


def test_function_without_log_group_fails() -> None:
    findings = check_lambda_log_groups("t.yaml", {"Resources": {
        "Fn": function(FunctionName="route"), "Other": log_group("/aws/lambda/other")}})
    assert [(f.resource, f.rule) for f in findings] == [("Fn", LOG_GROUP_RULE)]
    assert "no AWS::Logs::LogGroup for this function" in findings[0].message


def test_log_group_without_retention_fails() -> None:
    findings = check_lambda_log_groups("t.yaml", {"Resources": {
        "Fn": function(FunctionName="route"), "Logs": log_group("/aws/lambda/route", retention=False)}})
    assert [(f.resource, f.rule) for f in findings] == [("Fn", LOG_GROUP_RULE)]
    assert "Logs has no RetentionInDays" in findings[0].message


def test_loader_reads_short_form_tags_in_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("Resources:\n  R:\n    Type: X\n    Properties:\n      A: !Ref P\n      B: !GetAtt Fn.Arn\n"
                    "      C: !Sub '${P}-x'\n      D: !If [Cond, !Ref P, !Ref AWS::NoValue]\n")
    props = load_template(path)["Resources"]["R"]["Properties"]
    assert props == {"A": {"Ref": "P"}, "B": {"Fn::GetAtt": ["Fn", "Arn"]}, "C": {"Fn::Sub": "${P}-x"},
                     "D": {"Fn::If": ["Cond", {"Ref": "P"}, {"Ref": "AWS::NoValue"}]}}


def test_malformed_suppressions_are_findings_not_suppressions() -> None:
    template = {"Resources": {
        "A": {"Type": "X", "Metadata": {"guard": {"SuppressedRules": "ONE_RULE", "Reason": "why"}}},
        "B": {"Type": "X", "Metadata": {"guard": {"Reason": "only a reason"}}},
        "C": {"Type": "X", "Metadata": {"guard": {"SuppressedRules": ["R1", "R2"], "Reason": "fine"}}},
    }}
    valid, invalid = read_suppressions("t.yaml", template)
    assert [(s.resource, s.rule) for s in valid] == [("C", "R1"), ("C", "R2")]
    assert sorted(f.resource for f in invalid) == ["A", "B"]


def test_log_groups_need_a_local_key_or_the_required_key_parameter() -> None:
    from inference_platform_ops.guard.extra_checks import LOG_KEY_RULE, check_log_group_keys

    template = {
        "Parameters": {"LogsKmsKeyArn": {"Type": "String"}},
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key"},
            "Local": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
            "FromParent": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Ref": "LogsKmsKeyArn"}}},
            "Plain": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
            "Child": {"Type": "AWS::CloudFormation::Stack",
                      "Properties": {"Parameters": {"LogsKmsKeyArn": "arn:aws:kms:us-east-1:1:key/x"}}},
        },
    }
    assert [(f.resource, f.rule) for f in check_log_group_keys("t.yaml", template)] == [
        ("Plain", LOG_KEY_RULE), ("Child", LOG_KEY_RULE)]
    template["Parameters"]["LogsKmsKeyArn"]["Default"] = ""  # optional: a stack could go unencrypted
    assert "FromParent" in {f.resource for f in check_log_group_keys("t.yaml", template)}
