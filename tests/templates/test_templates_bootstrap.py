"""bootstrap.yaml: hardened artifact bucket, exact GitHub OIDC trust, PassRole only for the execution role."""

from __future__ import annotations

import pytest

from inference_platform_ops.intrinsics import active_resources, parameter_values, resolve
from inference_platform_ops.templates import validate_parameters
from tests.helpers.template_loader import load_template

BOOTSTRAP = load_template("bootstrap.yaml")
BASE = {"GitHubOrg": "acme", "GitHubRepo": "ml-inference"}
ENVS = ["dev", "staging", "production"]


def resolved(name: str, overrides: dict | None = None) -> dict:
    values = parameter_values(BOOTSTRAP, {**BASE, **(overrides or {})})
    return resolve(BOOTSTRAP, BOOTSTRAP["Resources"][name]["Properties"], values)


@pytest.mark.parametrize("env", ENVS)
def test_deploy_role_trusts_exactly_one_github_environment(env):
    trust = resolved(f"{env.capitalize()}DeployRole")["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    statement = trust[0]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:acme/ml-inference:environment:{env}",
    }}


def test_existing_oidc_provider_is_referenced_by_its_fixed_arn():
    assert "GitHubOidcProvider" not in active_resources(BOOTSTRAP, {**BASE, "CreateOidcProvider": "false"})
    principal = resolved("DevDeployRole", {"CreateOidcProvider": "false"})["AssumeRolePolicyDocument"][
        "Statement"][0]["Principal"]["Federated"]
    assert principal == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    created = resolved("DevDeployRole")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"]
    assert created == {"Ref": "GitHubOidcProvider"}


@pytest.mark.parametrize(("name", "value"), [
    ("GitHubOrg", "*"), ("GitHubOrg", "acme*"), ("GitHubRepo", "*"), ("GitHubRepo", "repo/other"),
    ("GitHubRepo", "ml?inference"),
])
def test_wildcards_cannot_reach_the_trust_policy(name, value):
    problems = validate_parameters(BOOTSTRAP, {**BASE, name: value})
    assert any(problem.startswith(f"{name}:") for problem in problems)


def deploy_statements(env: str) -> list[dict]:
    return resolved(f"{env.capitalize()}DeployRole")["Policies"][0]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("env", ENVS)
def test_deploy_role_passes_only_the_execution_role_to_cloudformation(env):
    passing = [s for s in deploy_statements(env) if "iam:PassRole" in s["Action"]]
    assert len(passing) == 1
    assert passing[0]["Resource"] == {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}
    assert passing[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}


@pytest.mark.parametrize("env", ENVS)
def test_deploy_role_touches_only_its_environments_stacks(env):
    bootstrap_stacks = "arn:aws:cloudformation:*:123456789012:stack/ml-inference-bootstrap/*"
    for statement in deploy_statements(env):
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        if any(action.startswith("cloudformation:") for action in actions) and \
                statement["Resource"] not in ("*", bootstrap_stacks):
            assert statement["Resource"] == \
                f"arn:aws:cloudformation:*:123456789012:stack/ml-inference-{env}*/*"
    creating = next(s for s in deploy_statements(env) if "cloudformation:CreateChangeSet" in s["Action"])
    assert creating["Condition"] == {"ArnEquals": {  # cloudformation:RoleArn is an ARN-typed key
        "cloudformation:RoleArn": {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}}}


def test_artifact_bucket_is_hardened():
    bucket = resolved("ArtifactBucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["LifecycleConfiguration"]["Rules"][0]["Status"] == "Enabled"
    policy = resolved("ArtifactBucketPolicy")["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy)


def test_execution_role_is_assumable_only_by_cloudformation():
    trust = resolved("CloudFormationExecutionRole")["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "cloudformation.amazonaws.com"}]


def test_other_regions_get_only_their_artifact_bucket():
    regional = active_resources(BOOTSTRAP, {**BASE, "CreateAccountResources": "false"})
    assert {res["Type"] for res in regional.values()} == {"AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::KMS::Key"}
    assert set(regional) == {"ArtifactKey", "ArtifactBucket", "ArtifactBucketPolicy", "ArtifactAccessLogsBucket",
                             "ArtifactAccessLogsBucketPolicy"}
    assert resolved("ArtifactBucket")["BucketName"] == "ml-inference-artifacts-123456789012-us-east-1"


@pytest.mark.parametrize("env", ENVS)
def test_deploy_role_writes_only_under_its_environment_prefix(env):
    uploads = next(s for s in deploy_statements(env) if "s3:PutObject" in s["Action"])
    assert uploads["Resource"] == f"arn:aws:s3:::ml-inference-artifacts-123456789012-*/{env}/*"
    listing = next(s for s in deploy_statements(env) if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{env}/*"]}}


def test_bucket_name_fits_for_the_longest_project_name_and_region():
    longest = "a" * 24
    assert validate_parameters(BOOTSTRAP, {**BASE, "ProjectName": longest}) == []
    assert validate_parameters(BOOTSTRAP, {**BASE, "ProjectName": longest + "b"}) != []
    assert len(f"{longest}-artifacts-123456789012-ap-southeast-4") <= 63


@pytest.mark.parametrize("env", ENVS)
def test_deploy_role_may_read_the_bootstrap_stacks_and_nothing_else_of_them(env):
    """The deploy finds the artifact buckets and the execution role in the bootstrap stacks' outputs."""
    reading = [s for s in deploy_statements(env) if s["Resource"] ==
               "arn:aws:cloudformation:*:123456789012:stack/ml-inference-bootstrap/*"]
    assert [s["Action"] for s in reading] == ["cloudformation:DescribeStacks"]


def plan_statements() -> list[dict]:
    return resolved("PlanRole")["Policies"][0]["PolicyDocument"]["Statement"]


def test_plan_role_trusts_only_this_repositorys_pull_requests():
    (statement,) = resolved("PlanRole")["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/ml-inference:pull_request"}}


def test_plan_role_can_plan_but_never_execute_or_delete_a_stack():
    actions = {a for s in plan_statements() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
                       "cloudformation:DeleteChangeSet", "cloudformation:ListChangeSets",
                       "cloudformation:DescribeStacks", "s3:PutObject", "s3:GetObject", "s3:ListBucket",
                       "iam:PassRole"}
    creating = next(s for s in plan_statements() if s["Action"] == "cloudformation:CreateChangeSet")
    assert creating["Condition"]["StringLike"] == {"cloudformation:ChangeSetName": "plan-*"}
    assert creating["Condition"]["ArnEquals"] == {  # cloudformation:RoleArn is an ARN-typed key
        "cloudformation:RoleArn": {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}}
    uploads = next(s for s in plan_statements() if "s3:PutObject" in s["Action"])
    assert uploads["Resource"] == ["arn:aws:s3:::ml-inference-artifacts-123456789012-*/staging/*",
                                   "arn:aws:s3:::ml-inference-artifacts-123456789012-*/production/*"]


def test_bootstrap_template_fits_inline_because_no_bucket_exists_before_it():
    from pathlib import Path

    from inference_platform_ops.deploy import bootstrap, packaging
    from inference_platform_ops.paths import TEMPLATES

    body = packaging.template_bytes(packaging.load_template(Path(TEMPLATES) / "bootstrap.yaml"))
    assert len(body) <= bootstrap.TEMPLATE_BODY_LIMIT
