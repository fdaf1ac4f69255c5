"""The deploy (inference_platform_ops.deploy) against the emulator (moto + emulator.compat) on 127.0.0.1.

Templates and params are small fixtures under tests/fixtures/deploy (a root stack with a nested child,
shaped like templates/main.yaml) plus the real templates/billing-alarms.yaml; the DR plans and the
parameter checks are the real ones (inference_platform_ops.deploy.dr_tiers, inference_platform_ops.templates).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from inference_platform_ops.deploy import deploy
from inference_platform_ops.emulator import local_aws
from tests.helpers import DEPLOY_BROKEN, DEPLOY_TEMPLATES, free_port

# moto warns for every resource type it skips; the deploy reports those itself (asserted below).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

TEMPLATES = DEPLOY_TEMPLATES
BROKEN = DEPLOY_BROKEN
REGION = "eu-west-1"  # the fixtures' primary region: billing must still land in us-east-1



@pytest.fixture(scope="module")
def endpoint():
    port = free_port()
    with local_aws.in_process_emulator(port):
        yield local_aws.endpoint_url(port)


@functools.cache
def aws(service: str, endpoint: str, region: str = REGION):
    return boto3.Session(**local_aws.EMULATOR_KEYS).client(service, region_name=region, endpoint_url=endpoint)


def run_deploy(capsys, endpoint: str, env: str = "local", templates: Path = TEMPLATES, *extra: str) -> tuple[int, str]:
    code = deploy.main(["--env", env, "--templates-dir", str(templates), "--endpoint-url", endpoint,
                        "--no-deps", "--poll", "0.01", *extra])
    return code, capsys.readouterr().out


def stack(endpoint: str, name: str, region: str = REGION) -> dict | None:
    try:
        return aws("cloudformation", endpoint, region).describe_stacks(StackName=name)["Stacks"][0]
    except ClientError:
        return None


def copy_fixture(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / source.name
    shutil.copytree(source, target, symlinks=False)
    return target


def edit_params(templates: Path, env: str, **parameters: str) -> None:
    path = templates / "params" / f"{env}.json"
    config = json.loads(path.read_text())
    config["Parameters"].update(parameters)
    path.write_text(json.dumps(config))


@pytest.fixture(scope="module")
def first_deploy(endpoint, tmp_path_factory):
    """The first deploy of the local fixture; later tests build on the stacks it made."""
    summary = tmp_path_factory.mktemp("summary") / "summary.md"
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, redirect_stdout(out):
        mp.setenv("GITHUB_STEP_SUMMARY", str(summary))
        code = deploy.main(["--env", "local", "--templates-dir", str(TEMPLATES), "--endpoint-url", endpoint,
                            "--no-deps", "--poll", "0.01"])
    return code, out.getvalue(), summary.read_text()


def test_first_deploy_creates_the_stack_and_prints_changes_and_outputs(endpoint, first_deploy):
    code, out, _ = first_deploy
    assert code == 0, out
    assert stack(endpoint, "fixture-local")["StackStatus"] == "CREATE_COMPLETE"
    assert "Add     ChildStack" in out and "AWS::CloudFormation::Stack" in out
    assert "OptionalTopic" not in out  # Condition false: neither listed nor created
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack(endpoint, "fixture-local")["Outputs"]}
    assert outputs["TopicArn"].startswith(f"arn:aws:sns:{REGION}:")  # read through the nested stack's outputs
    assert f"TopicArn                           {outputs['TopicArn']}" in out


def outputs(endpoint: str, name: str, region: str = REGION) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack(endpoint, name, region).get("Outputs", [])}


def test_first_deploy_records_the_version_it_computed_in_every_stack(endpoint, first_deploy):
    """The fixture lives in this git checkout, so the version is its `git describe --always --dirty`."""
    code, out, _ = first_deploy
    version = deploy.template_version(TEMPLATES)
    assert code == 0 and f"deploy: template version {version} " in out, out
    assert outputs(endpoint, "fixture-local")["TemplateVersion"] == version
    assert outputs(endpoint, "fixture-local-billing", "us-east-1")["TemplateVersion"] == version  # the real template


def test_a_new_version_alone_is_deployed_and_changes_only_the_output(endpoint, capsys, tmp_path, monkeypatch):
    """A new commit (or uncommitted edits) with no template change still updates TemplateVersion, and
    modifies no resource; the same version again is "no changes"."""
    templates = copy_fixture(TEMPLATES, tmp_path)
    config = json.loads((templates / "params" / "local.json").read_text())
    config.update(StackName="fixture-version", BillingAlarms={"Enabled": False})
    (templates / "params" / "local.json").write_text(json.dumps(config))
    monkeypatch.setattr(deploy, "template_version", lambda where: "v1.0.0")
    assert run_deploy(capsys, endpoint, "local", templates)[0] == 0

    monkeypatch.setattr(deploy, "template_version", lambda where: "v1.0.0-1-gabc1234-dirty")
    code, out = run_deploy(capsys, endpoint, "local", templates)

    assert code == 0 and "executing UPDATE of fixture-version" in out, out
    assert "Modify" not in out and "Add" not in out.split("UPDATE", 1)[1]
    assert outputs(endpoint, "fixture-version")["TemplateVersion"] == "v1.0.0-1-gabc1234-dirty"
    code, out = run_deploy(capsys, endpoint, "local", templates)
    assert code == 0 and "fixture-version (eu-west-1) - UPDATE: no changes" in out, out


def test_first_deploy_lists_what_the_emulator_could_not_create(first_deploy):
    _, out, _ = first_deploy
    section = out.split("could NOT create", 1)[1]
    assert "AWS::Budgets::Budget" in section and "Budget" in section
    assert "TopicAlarm" not in section  # alarms are created locally now


def test_nested_templates_are_packaged_with_content_addressed_urls(endpoint, first_deploy):
    cfn, s3 = aws("cloudformation", endpoint), aws("s3", endpoint)
    root = cfn.get_template(StackName="fixture-local")["TemplateBody"]  # botocore decodes the JSON body
    root = json.loads(root) if isinstance(root, str) else root
    url = root["Resources"]["ChildStack"]["Properties"]["TemplateURL"]
    prefix = f"{endpoint.replace('127.0.0.1', 'localhost')}/fixture-artifacts-local/local/templates/"
    assert url.startswith(prefix) and url.endswith(".json")
    key = url.removeprefix(f"{endpoint.replace('127.0.0.1', 'localhost')}/fixture-artifacts-local/")
    body = s3.get_object(Bucket="fixture-artifacts-local", Key=key)["Body"].read()
    assert key == f"local/templates/{hashlib.sha256(body).hexdigest()}.json"  # under the environment's prefix
    assert json.loads(body)["Resources"]["Topic"]["Type"] == "AWS::SNS::Topic"


def test_lambda_zip_is_uploaded_once_under_its_sha256(endpoint, first_deploy):
    s3 = aws("s3", endpoint)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="fixture-artifacts-local", Prefix="local/lambda/")["Contents"]]
    assert len(keys) == 1
    body = s3.get_object(Bucket="fixture-artifacts-local", Key=keys[0])["Body"].read()
    assert keys[0] == f"local/lambda/{hashlib.sha256(body).hexdigest()}.zip"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack(endpoint, "fixture-local")["Parameters"]}
    assert parameters["LambdaCodeKey"] == keys[0]


def test_billing_stack_is_in_us_east_1_whatever_the_primary_region(endpoint, first_deploy):
    assert stack(endpoint, "fixture-local-billing", "us-east-1")["StackStatus"] == "CREATE_COMPLETE"
    assert stack(endpoint, "fixture-local-billing", REGION) is None


def test_change_set_summary_goes_to_the_github_step_summary(first_deploy):
    _, _, summary = first_deploy
    assert "| Add | `ChildStack` | AWS::CloudFormation::Stack |" in summary
    assert "### fixture-local-billing (us-east-1) - CREATE" in summary


def test_second_deploy_without_changes_says_so_and_leaves_no_change_set(endpoint, first_deploy, capsys):
    code, out = run_deploy(capsys, endpoint)
    assert code == 0, out
    assert "fixture-local (eu-west-1) - UPDATE: no changes" in out
    assert "deploy: no changes for local; nothing to do" in out
    assert stack(endpoint, "fixture-local")["StackStatus"] == "CREATE_COMPLETE"


def test_update_shows_the_modified_resources_and_applies_them(endpoint, first_deploy, capsys, tmp_path):
    templates = copy_fixture(TEMPLATES, tmp_path)
    edit_params(templates, "local", TopicName="second")

    code, out = run_deploy(capsys, endpoint, "local", templates)

    assert code == 0, out
    assert "fixture-local (eu-west-1) - UPDATE" in out
    assert "Modify  ChildStack" in out
    assert stack(endpoint, "fixture-local")["StackStatus"] == "UPDATE_COMPLETE"
    topic = {o["OutputKey"]: o["OutputValue"] for o in stack(endpoint, "fixture-local")["Outputs"]}["TopicArn"]
    assert aws("sns", endpoint).get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "second"

    code, out = run_deploy(capsys, endpoint, "local", templates)  # the same again: nothing left to change
    assert code == 0 and "fixture-local (eu-west-1) - UPDATE: no changes" in out, out


def test_failed_deploy_prints_the_failing_resource_and_its_reason(endpoint, capsys):
    code, out = run_deploy(capsys, endpoint, "local", BROKEN)

    assert code == 1
    assert ("first failure: ClashingBucket (AWS::S3::Bucket): BucketAlreadyExists" in out), out
    assert stack(endpoint, "fixture-broken")["StackStatus"] == "ROLLBACK_COMPLETE"

    code, out = run_deploy(capsys, endpoint, "local", BROKEN)
    assert code == 1
    assert "is in ROLLBACK_COMPLETE" in out and "--replace-failed" in out


def test_replace_failed_deletes_the_rolled_back_stack_and_deploys_afresh(endpoint, capsys, tmp_path):
    if stack(endpoint, "fixture-broken") is None:
        run_deploy(capsys, endpoint, "local", BROKEN)
    fixed = copy_fixture(BROKEN, tmp_path)
    template = (fixed / "main.yaml").read_text()
    (fixed / "main.yaml").write_text(template.split("  ClashingBucket:")[0])

    code, out = run_deploy(capsys, endpoint, "local", fixed, "--replace-failed")

    assert code == 0, out
    assert "deleting fixture-broken (ROLLBACK_COMPLETE)" in out
    assert stack(endpoint, "fixture-broken")["StackStatus"] == "CREATE_COMPLETE"


def test_production_without_confirmation_is_refused_and_nothing_runs(endpoint, capsys, monkeypatch):
    monkeypatch.delenv("CONFIRM", raising=False)
    monkeypatch.delenv("GITHUB_ENVIRONMENT", raising=False)

    code, out = run_deploy(capsys, endpoint, "production")

    assert code == deploy.EXIT_REFUSED
    assert "REFUSED production deploy" in out and "CONFIRM=yes" in out
    assert stack(endpoint, "fixture-production") is None  # the empty REVIEW_IN_PROGRESS stack is gone too
    assert stack(endpoint, "fixture-production-billing", "us-east-1") is None


def test_github_environment_variable_outside_actions_is_not_an_approval(endpoint, capsys, monkeypatch):
    monkeypatch.delenv("CONFIRM", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_ENVIRONMENT", "production")

    code, out = run_deploy(capsys, endpoint, "production")

    assert code == deploy.EXIT_REFUSED and "REFUSED production deploy" in out
    assert stack(endpoint, "fixture-production") is None


def test_production_approved_by_its_github_environment_gets_termination_protection(endpoint, capsys, monkeypatch):
    monkeypatch.delenv("CONFIRM", raising=False)

    code, out = run_deploy(capsys, endpoint, "production", TEMPLATES, "--github-environment", "production")

    assert code == 0, out
    assert stack(endpoint, "fixture-production")["EnableTerminationProtection"] is True
    assert stack(endpoint, "fixture-production-billing", "us-east-1")["EnableTerminationProtection"] is True


def _no_bucket(endpoint: str, name: str) -> bool:
    return name not in [b["Name"] for b in aws("s3", endpoint).list_buckets()["Buckets"]]


def test_unknown_env_is_one_line_naming_the_valid_ones(endpoint, capsys):
    code, out = run_deploy(capsys, endpoint, "prod")
    assert code == deploy.EXIT_BAD_INPUT
    assert out.strip() == "deploy: error: unknown ENV 'prod': valid environments are local, dev, staging, production"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("missing", "does not exist"),
        ("not-json", "is not valid JSON"),
        ("unknown-parameter", "TopicNmae: not a parameter of this template (did you mean 'TopicName'?)"),
        ("bad-value", "ProjectName"),
        ("placeholder-bucket", "deploy templates/bootstrap.yaml in that region"),
        ("version-in-params", "TemplateVersion is set by the deploy"),
    ],
)
def test_bad_params_fail_in_one_line_before_anything_is_uploaded(endpoint, capsys, tmp_path, breakage, expected):
    templates = copy_fixture(TEMPLATES, tmp_path)
    params = templates / "params" / "staging.json"
    edit_params(templates, "staging", ArtifactBucket="never-created-bucket")
    if breakage == "missing":
        params.unlink()
    elif breakage == "not-json":
        params.write_text(params.read_text().replace('"StackName":', '"StackName" '))
    elif breakage == "unknown-parameter":
        edit_params(templates, "staging", TopicNmae="x")
    elif breakage == "bad-value":
        edit_params(templates, "staging", ProjectName="Not_Valid")
    elif breakage == "version-in-params":
        edit_params(templates, "staging", TemplateVersion="v9")
    else:
        edit_params(templates, "staging", ArtifactBucket="replace-with-bootstrap-artifact-bucket")

    code, out = run_deploy(capsys, endpoint, "staging", templates)

    assert code == deploy.EXIT_BAD_INPUT
    assert len(out.strip().splitlines()) == 1 and out.startswith("deploy: error: ")
    assert expected in out
    assert _no_bucket(endpoint, "never-created-bucket")


def test_missing_aws_credentials_for_a_real_environment_fail_before_any_upload(capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    code = deploy.main(["--env", "staging", "--templates-dir", str(TEMPLATES)])
    out = capsys.readouterr().out

    assert code == deploy.EXIT_BAD_INPUT
    assert out.strip().startswith("deploy: error: no AWS credentials for ENV=staging")
    assert "nothing was uploaded" in out


def test_every_region_of_the_plan_is_deployed_primary_first(endpoint, capsys):
    """staging (DR tier 1): the regional stack in eu-west-1 then eu-central-1, each with its own bucket."""
    code, out = run_deploy(capsys, endpoint, "staging")

    assert code == 0, out
    assert out.index("executing CREATE of fixture-staging in eu-west-1") < out.index(
        "executing CREATE of fixture-staging in eu-central-1")
    for region, bucket in (("eu-west-1", "fixture-artifacts-staging"),
                           ("eu-central-1", "fixture-artifacts-staging-eu-central-1")):
        regional = stack(endpoint, "fixture-staging", region)
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in regional["Parameters"]}
        assert parameters["SecondaryRegion"] == "eu-central-1" and parameters["ArtifactBucket"] == bucket
        code_key = parameters["LambdaCodeKey"]
        assert aws("s3", endpoint, region).head_object(Bucket=bucket, Key=code_key)["ContentLength"] > 0
    assert stack(endpoint, "fixture-staging-billing", "us-east-1")["StackStatus"] == "CREATE_COMPLETE"
