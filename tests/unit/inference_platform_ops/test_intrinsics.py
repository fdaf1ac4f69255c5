"""The one intrinsic evaluator: what tests, the deploy pre-check and the guard gate rely on it to compute."""

from __future__ import annotations

import pytest

from inference_platform_ops.intrinsics import NO_VALUE, Evaluator, UnresolvableError, active_resources

TEMPLATE = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev"},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>", "Default": "subnet-a, subnet-b"},
        "Flag": {"Type": "String", "Default": True},
        "Required": {"Type": "String"},
    },
    "Mappings": {"Sizes": {"dev": {"Memory": 1024}, "production": {"Memory": 4096}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "production"]},
        "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Flagged": {"Fn::And": [{"Condition": "NotProd"}, {"Fn::Equals": [{"Ref": "Flag"}, "true"]}]},
    },
    "Resources": {
        "Always": {"Type": "AWS::SNS::Topic"},
        "ProdOnly": {"Type": "AWS::SNS::Topic", "Condition": "IsProd"},
    },
}


def test_references_functions_and_conditions_resolve_as_cloudformation_would():
    ev = Evaluator(TEMPLATE, {"Required": "x"}, region="eu-west-1",
                   resources={"Bucket": "bucket-123", "Bucket.Arn": "arn:aws:s3:::bucket-123"})
    assert ev.resolve({"Ref": "Subnets"}) == ["subnet-a", "subnet-b"]  # list parameters are lists
    assert ev.resolve({"Ref": "Flag"}) == "true"  # YAML booleans reach CloudFormation as text
    assert ev.resolve({"Fn::Sub": "${AWS::Region}-${Env}-${Bucket}-${Bucket.Arn}-${!Literal}"}) == \
        "eu-west-1-dev-bucket-123-arn:aws:s3:::bucket-123-${Literal}"
    assert ev.resolve({"Fn::Sub": ["${Name}-x", {"Name": {"Ref": "Env"}}]}) == "dev-x"
    assert ev.resolve({"Fn::Join": ["/", [{"Ref": "Env"}, {"Fn::Select": [1, {"Ref": "Subnets"}]}]]}) == "dev/subnet-b"
    assert ev.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}) == 1024
    assert ev.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::bucket-123"
    assert ev.resolve({"A": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}, "B": [NO_VALUE, 2]}) == {"B": [2]}
    assert ev.conditions == {"IsProd": False, "NotProd": True, "Flagged": True}


def test_unknown_references_stay_as_they_are_unless_strict():
    lenient = Evaluator(TEMPLATE)
    assert lenient.resolve({"Ref": "SomeResource"}) == {"Ref": "SomeResource"}
    assert lenient.resolve({"Fn::Sub": "${SomeResource.Arn}/x"}) == "${SomeResource.Arn}/x"
    assert lenient.resolve({"Fn::GetAZs": ""}) == {"Fn::GetAZs": ""}
    strict = Evaluator(TEMPLATE, strict=True)
    for expr in ({"Ref": "SomeResource"}, {"Ref": "Required"}, {"Fn::GetAZs": ""}, {"Fn::Sub": "${X.Arn}"}):
        with pytest.raises(UnresolvableError):
            strict.resolve(expr)
    with pytest.raises(UnresolvableError):
        Evaluator(TEMPLATE, region=None, strict=True).truth({"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]})


def test_rules_functions_compare_lists_and_members():
    ev = Evaluator(TEMPLATE)
    assert ev.truth({"Fn::Contains": [["dev", "staging"], {"Ref": "Env"}]})
    assert ev.truth({"Fn::EachMemberIn": [{"Ref": "Subnets"}, ["subnet-a", "subnet-b", "subnet-c"]]})
    assert not ev.truth({"Fn::EachMemberEquals": [{"Ref": "Subnets"}, "subnet-a"]})


def test_active_resources_follow_conditions():
    assert set(active_resources(TEMPLATE, {"Env": "production"})) == {"Always", "ProdOnly"}
    assert set(active_resources(TEMPLATE)) == {"Always"}
