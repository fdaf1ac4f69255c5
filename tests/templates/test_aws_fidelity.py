"""Template facts that only a real AWS account enforces (docs/aws-fidelity.md): each test failed on the
templates before the fix it guards, and checks the rule against the authority named in its docstring."""

from __future__ import annotations

import re

import pytest
import yaml

from inference_platform_ops.deploy.config import load_config
from inference_platform_ops.deploy.naming import REVISION_LENGTH, sagemaker_revision
from inference_platform_ops.paths import ROOT
from inference_platform_ops.stacks import ResolvedStack
from inference_platform_ops.templates import load_template, validate_parameters
from tests.helpers.template_loader import TEMPLATES

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # botocore: EndpointName/ModelName pattern
NAME_PROPERTIES = {"AWS::SageMaker::Model": "ModelName", "AWS::SageMaker::EndpointConfig": "EndpointConfigName",
                   "AWS::SageMaker::Endpoint": "EndpointName"}
LONGEST = {"ProjectName": "p" + "x" * 30 + "z", "Environment": "production", "SageMakerRevision": "f" * REVISION_LENGTH,
           "ModelImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1", "EnableProvisionedEndpoint": "true",
           "EnableServerlessInference": "true", "EnableScaleToZero": "true"}


def main_stack(env: str, **overrides: str) -> ResolvedStack:
    config = load_config(env, TEMPLATES / "params")
    region = config["Regions"]["Primary"]
    params = {**config["Parameters"], "LambdaCodeKey": f"{env}/lambda/x.zip", "ArtifactBucket": "artifacts"}
    params["SageMakerRevision"] = sagemaker_revision(params)
    return ResolvedStack(TEMPLATES / "main.yaml", {**params, **overrides}, region=region,
                         stack_name=config["StackName"])


def child(root: ResolvedStack, logical: str) -> ResolvedStack:
    return root.child(logical)


def test_every_sagemaker_name_is_explicit_lower_case_and_fits_for_the_longest_project_name():
    """IAM matches SageMaker ARNs in lower case (SageMaker lower-cases them); a generated name keeps the logical
    id's capitals, so the policies built from it never match. botocore's CreateEndpoint: 63 characters."""
    template = load_template(TEMPLATES / "endpoints.yaml")
    sagemaker = {name: body for name, body in template["Resources"].items() if body["Type"] in NAME_PROPERTIES}
    named = set()
    for scale_to_zero in ("true", "false"):  # every SageMaker resource exists in one of the two
        stack = ResolvedStack(TEMPLATES / "endpoints.yaml", {**LONGEST, "EnableScaleToZero": scale_to_zero},
                              template=template)
        for logical in set(sagemaker) & set(stack.resources):
            assert NAME_PROPERTIES[sagemaker[logical]["Type"]] in sagemaker[logical]["Properties"], logical
            name = stack.physical_name(logical)
            assert name == name.lower() and SAGEMAKER_NAME.fullmatch(name) and len(name) <= 63, (logical, name)
            named.add(logical)
    assert named == set(sagemaker)


@pytest.mark.parametrize("env", ["local", "dev", "staging", "production"])
def test_invoke_role_names_the_arns_of_the_endpoints_it_calls(env):
    """The ARNs in InvokeFunctionRole are built from the same derivation as the endpoints themselves, in every
    region the function may call (one derivation, propagated through stack outputs)."""
    root = main_stack(env)
    endpoints, workflow = child(root, "EndpointsStack"), child(root, "WorkflowStack")
    policy = workflow.properties("InvokeFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"]
    granted = set(next(s for s in policy if s["Sid"] == "InvokeEndpoints")["Resource"])
    variables = workflow.properties("InvokeFunction")["Environment"]["Variables"]
    regions = {root.region: ("PROVISIONED_ENDPOINT_NAME", "SERVERLESS_ENDPOINT_NAME")}
    if variables["SECONDARY_REGION"]:
        regions[variables["SECONDARY_REGION"]] = ("SECONDARY_PROVISIONED_ENDPOINT_NAME",
                                                  "SECONDARY_SERVERLESS_ENDPOINT_NAME")
    called = {f"arn:aws:sagemaker:{region}:123456789012:endpoint/{variables[name].lower()}"
              for region, names in regions.items() for name in names if variables[name]}
    assert called and called <= granted
    deployed = {endpoints.arn(logical) for logical in ("ProvisionedEndpoint", "ServerlessEndpoint")
                if logical in endpoints.resources}
    assert deployed <= granted


def test_model_and_config_names_change_exactly_when_they_must_be_replaced():
    """Every property of a model and an endpoint config is create-only (registry schema), and CloudFormation
    cannot replace a custom-named resource under the same name: the revision follows those inputs only."""
    config = load_config("staging", TEMPLATES / "params")
    params = config["Parameters"]
    assert sagemaker_revision(params) == sagemaker_revision({**params, "BatchThreshold": "7"})
    assert sagemaker_revision(params) != sagemaker_revision({**params, "InstanceType": "ml.m5.2xlarge"})
    assert re.fullmatch(load_template(TEMPLATES / "main.yaml")["Parameters"]["SageMakerRevision"]["AllowedPattern"],
                        sagemaker_revision(params))


def test_retained_backup_vault_gets_a_new_name_when_the_stack_is_created_again():
    """botocore CreateBackupVault raises AlreadyExistsException: a Retain'ed vault with a fixed name blocks
    the next create of the stack (after a delete or --replace-failed)."""
    params = {"Environment": "dev", "ProjectName": "ml-inference", "PrimaryRegion": "us-east-1"}
    names = {ResolvedStack(TEMPLATES / "state-store.yaml", params, stack_id=f"arn:aws:cloudformation:us-east-1:"
                           f"123456789012:stack/s/{uuid}").physical_name("BackupVault")
             for uuid in ("0f1e2d3c-aaaa-bbbb-cccc-000000000001", "9a8b7c6d-aaaa-bbbb-cccc-000000000002")}
    assert len(names) == 2
    assert all(name.startswith("ml-inference-dev-state-") and len(name) <= 50 for name in names)


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.yaml")))
def test_no_key_policy_names_a_principal_created_in_the_same_stack(name):
    """KMS refuses a key policy whose principal does not exist yet (botocore CreateKey:
    MalformedPolicyDocumentException), and a role created moments before may not be visible: grant through
    the root statement and the role's IAM policy instead."""
    template = load_template(TEMPLATES / name)
    for logical, body in (template.get("Resources") or {}).items():
        if body["Type"] != "AWS::KMS::Key":
            continue
        for statement in body["Properties"]["KeyPolicy"]["Statement"]:
            principal = statement.get("Principal", {})
            assert "Fn::GetAtt" not in str(principal) and "'Ref'" not in str(principal), (logical, statement)


def test_an_access_point_arn_is_refused_before_deploy():
    """SageMaker's TransformS3DataSource documents s3://bucket/prefix and the Distributed Map's ItemReader takes
    a bucket: an access point ARN would make s3://arn:aws:s3:... URIs. The alias works wherever a bucket does."""
    template = load_template(TEMPLATES / "main.yaml")
    problems = validate_parameters(template, {"Environment": "dev",
                                              "InputLocation": "arn:aws:s3:us-east-1:123456789012:accesspoint/fsx"})
    assert any(p.startswith("InputLocation:") and "alias" in p for p in problems)
    assert not validate_parameters(template, {"Environment": "dev",
                                              "InputLocation": "fsx-vol-abcdefghijklmnopqrstuvwxyz12-ext-s3alias"})


def test_deploy_sessions_last_as_long_as_the_deploy_job():
    """configure-aws-credentials asks for 3600 s unless role-duration-seconds says otherwise, and STS refuses
    more than the role's MaxSessionDuration: a 120-minute job needs both at 7200 s or it ends in ExpiredToken."""
    bootstrap = load_template(TEMPLATES / "bootstrap.yaml")
    limits = {name: body["Properties"]["MaxSessionDuration"] for name, body in bootstrap["Resources"].items()
              if body["Type"] == "AWS::IAM::Role" and "MaxSessionDuration" in body["Properties"]}
    roles_of = {"AWS_DEPLOY_ROLE_ARN": [n for n in limits if n.endswith("DeployRole")],
                "AWS_PLAN_ROLE_ARN": [n for n in limits if n == "PlanRole"]}
    checked = 0
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            for step in job.get("steps", []):
                if not str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
                    continue
                job_seconds = int(job["timeout-minutes"]) * 60
                session = int(step["with"].get("role-duration-seconds", 3600))
                variable = next(v for v in roles_of if v in step["with"]["role-to-assume"])
                assert session >= job_seconds, (path.name, job_name)
                assert all(limits[role] >= session for role in roles_of[variable]), (path.name, job_name)
                checked += 1
    assert checked >= 2


def test_time_zone_data_ships_with_the_lambda_zip():
    """zoneinfo falls back to the tzdata package when the OS has no database: pin it in the zip's
    requirements so business hours never depend on the runtime image."""
    runtime = (ROOT / "requirements" / "runtime.txt").read_text()
    uses_zoneinfo = any("zoneinfo" in path.read_text() for path in (ROOT / "src" / "inference_platform").rglob("*.py"))
    assert uses_zoneinfo
    assert re.search(r"^tzdata==\S+$", runtime, re.MULTILINE)


