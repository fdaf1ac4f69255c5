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

from inference_platform_ops.deploy import deploy, destroy, stack_ops
from inference_platform_ops.deploy.locks import environment_lock
from inference_platform_ops.emulator import local_aws
from tests.helpers import DEPLOY_BROKEN, DEPLOY_TEMPLATES, free_port, without_aws_credentials

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
        ("version-in-params", "TemplateVersion is set by the deploy"),
        ("not-bootstrapped", "no bootstrap stack fixture-bootstrap in eu-west-1, eu-central-1: run `make bootstrap "
                             "ENV=staging`"),
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
    else:  # no bucket named: the bootstrap stacks' outputs are needed, and there are none in these regions
        config = json.loads(params.read_text())
        config["Parameters"].pop("ArtifactBucket")
        config.pop("RegionParameters", None)
        params.write_text(json.dumps(config))

    code, out = run_deploy(capsys, endpoint, "staging", templates)

    assert code == deploy.EXIT_BAD_INPUT
    assert len(out.strip().splitlines()) == 1 and out.startswith("deploy: error: ")
    assert expected in out
    assert _no_bucket(endpoint, "never-created-bucket")


def test_missing_aws_credentials_for_a_real_environment_fail_before_any_upload(capsys, monkeypatch, tmp_path):
    without_aws_credentials(monkeypatch, tmp_path)

    code = deploy.main(["--env", "staging", "--templates-dir", str(TEMPLATES)])
    out = capsys.readouterr().out

    assert code == deploy.EXIT_BAD_INPUT
    assert out.strip().startswith("deploy: error: no AWS credentials for ENV=staging")
    assert "nothing was done" in out and len(out.strip().splitlines()) == 1


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


# --- one operation per environment, Ctrl-C, bootstrap, plan, destroy ----------------------------------------

def fresh_fixture(tmp_path: Path, name: str, env: str = "staging", project: str = "fixture",
                  drop_buckets: bool = False) -> Path:
    """A copy of the fixture whose stacks are called ``name`` (tests sharing the emulator never collide)."""
    templates = copy_fixture(TEMPLATES, tmp_path)
    shutil.copy(deploy.TEMPLATES / "bootstrap.yaml", templates / "bootstrap.yaml")
    path = templates / "params" / f"{env}.json"
    config = json.loads(path.read_text())
    config["StackName"] = name
    config["Parameters"]["ProjectName"] = project
    if drop_buckets:
        config["Parameters"].pop("ArtifactBucket", None)
        config.pop("RegionParameters", None)
    path.write_text(json.dumps(config))
    return templates


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERENCE_LOCK_DIR", str(tmp_path / "locks"))
    return tmp_path / "locks"


def test_a_second_deploy_of_the_same_env_waits_then_refuses_in_one_line(endpoint, capsys, tmp_path, lock_dir):
    templates = fresh_fixture(tmp_path, "locked-staging")
    with environment_lock("staging", "make deploy ENV=staging"):
        code, out = run_deploy(capsys, endpoint, "staging", templates, "--lock-wait", "0.3")

    assert code == deploy.EXIT_BUSY
    assert out.splitlines()[-1].startswith("deploy: error: ENV=staging is busy: make deploy ENV=staging (pid ")
    assert "nothing was done" in out
    assert stack(endpoint, "locked-staging") is None  # nothing was planned while the other one ran


def test_an_unexecuted_change_set_of_another_deploy_run_is_not_raced(endpoint, capsys, tmp_path, lock_dir):
    """Another machine between planning and executing: its change set is pending on the stack."""
    templates = fresh_fixture(tmp_path, "raced-local", env="local")
    assert run_deploy(capsys, endpoint, "local", templates)[0] == 0
    cfn = aws("cloudformation", endpoint)
    body = cfn.get_template(StackName="raced-local")["TemplateBody"]
    other = cfn.create_change_set(StackName="raced-local", ChangeSetName="deploy-20990101T000000Z-abcd",
                                  TemplateBody=json.dumps(body) if isinstance(body, dict) else body,
                                  Parameters=[{"ParameterKey": p["ParameterKey"], "ParameterValue": p["ParameterValue"]}
                                              for p in stack(endpoint, "raced-local")["Parameters"]])
    try:
        code, out = run_deploy(capsys, endpoint, "local", templates)
    finally:
        cfn.delete_change_set(ChangeSetName=other["Id"])

    assert code == deploy.EXIT_BUSY
    assert "another deploy of local is under way: raced-local (eu-west-1) has the unexecuted change set " \
           "deploy-20990101T000000Z-abcd" in out


def test_ctrl_c_while_planning_removes_every_change_set_and_empty_stack_it_made(endpoint, capsys, tmp_path,
                                                                               monkeypatch, lock_dir):
    templates = fresh_fixture(tmp_path, "interrupted-staging")
    created = []
    shipped = stack_ops.create_change_set

    def create_then_interrupt(*args, **kwargs):
        created.append(shipped(*args, **kwargs))  # the change set (and its empty stack) exist now
        if len(created) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second region's change set was being read
        return created[-1]

    monkeypatch.setattr(stack_ops, "create_change_set", create_then_interrupt)
    monkeypatch.setattr(deploy.signal, "signal", lambda *args: None)  # keep pytest's own SIGINT handler

    code, out = run_deploy(capsys, endpoint, "staging", templates)

    assert code == deploy.EXIT_INTERRUPTED
    assert "Traceback" not in out
    last = out.splitlines()[-1]
    assert last.startswith("deploy: interrupted; removed 4 thing(s) this run created: change set deploy-")
    assert "empty stack interrupted-staging (REVIEW_IN_PROGRESS)" in last
    for region in ("eu-west-1", "eu-central-1"):
        assert stack(endpoint, "interrupted-staging", region) is None


def test_bootstrap_then_deploy_finds_buckets_and_role_in_the_bootstrap_outputs(endpoint, capsys, tmp_path,
                                                                              monkeypatch, lock_dir):
    """Nothing pasted: bootstrap.yaml in both regions of staging, then the deploy reads its outputs."""
    monkeypatch.setenv("GITHUB_REPOSITORY", "example-org/example-repo")
    templates = fresh_fixture(tmp_path, "boot-staging", project="boot", drop_buckets=True)

    code = deploy.bootstrap_main(["--env", "staging", "--templates-dir", str(templates), "--endpoint-url",
                                  endpoint, "--poll", "0.01"])
    out = capsys.readouterr().out

    assert code == 0, out
    assert out.index("bootstrap: executing CREATE of boot-bootstrap in eu-west-1") < out.index(
        "bootstrap: executing CREATE of boot-bootstrap in eu-central-1")
    assert "Add     StagingDeployRole" in out and "Add     PlanRole" in out
    params = {r: {p["ParameterKey"]: p["ParameterValue"] for p in stack(endpoint, "boot-bootstrap", r)["Parameters"]}
              for r in ("eu-west-1", "eu-central-1")}
    assert params["eu-west-1"]["CreateAccountResources"] == "true"  # IAM is account-wide: one region has it
    assert params["eu-central-1"]["CreateAccountResources"] == "false"
    assert params["eu-west-1"]["GitHubOrg"] == "example-org" and params["eu-west-1"]["GitHubRepo"] == "example-repo"

    code, out = run_deploy(capsys, endpoint, "staging", templates)

    assert code == 0, out
    role = {o["OutputKey"]: o["OutputValue"] for o in stack(endpoint, "boot-bootstrap")["Outputs"]}[
        "CloudFormationExecutionRoleArn"]
    for region in ("eu-west-1", "eu-central-1"):
        deployed = stack(endpoint, "boot-staging", region)
        values = {p["ParameterKey"]: p["ParameterValue"] for p in deployed["Parameters"]}
        assert values["ArtifactBucket"] == f"boot-artifacts-123456789012-{region}"
        assert deployed.get("RoleARN") == role

    code, out = deploy.bootstrap_main(["--env", "staging", "--templates-dir", str(templates), "--endpoint-url",
                                       endpoint, "--poll", "0.01"]), capsys.readouterr().out
    assert code == 0 and "bootstrap: no changes for staging" in out, out  # same code path: idempotent


def test_plan_shows_the_change_sets_writes_the_summary_and_executes_nothing(endpoint, capsys, tmp_path,
                                                                          monkeypatch, lock_dir):
    templates = fresh_fixture(tmp_path, "planned-local", env="local")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    code = deploy.plan_main(["--env", "local", "--templates-dir", str(templates), "--endpoint-url", endpoint,
                             "--no-deps", "--poll", "0.01"])
    out = capsys.readouterr().out

    assert code == 0, out
    assert "planned-local (eu-west-1) - CREATE" in out and "Add     ChildStack" in out
    assert "nothing was executed" in out
    assert stack(endpoint, "planned-local") is None  # the first-time change set's empty stack is gone too
    assert "## Plan local: " in summary.read_text() and "| Add | `ChildStack` |" in summary.read_text()

    assert run_deploy(capsys, endpoint, "local", templates)[0] == 0
    edit_params(templates, "local", TopicName="changed")
    code = deploy.plan_main(["--env", "local", "--templates-dir", str(templates), "--endpoint-url", endpoint,
                             "--no-deps", "--poll", "0.01"])
    out = capsys.readouterr().out

    assert code == 0 and "Modify  ChildStack" in out, out
    cfn = aws("cloudformation", endpoint)
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack(endpoint, "planned-local")["Parameters"]}
    assert values["TopicName"] == "first"  # not executed
    pending = [s for s in cfn.list_change_sets(StackName="planned-local")["Summaries"]
               if s["StackName"] == "planned-local" and s["ExecutionStatus"] == "AVAILABLE"]
    assert pending == []


def test_destroy_refuses_production_and_wants_the_stack_name(endpoint, capsys, tmp_path, monkeypatch, lock_dir):
    monkeypatch.delenv("CONFIRM", raising=False)
    assert destroy.main(["--env", "production", "--templates-dir", str(TEMPLATES), "--endpoint-url", endpoint]) == \
        deploy.EXIT_REFUSED
    assert "REFUSED: production is never destroyed" in capsys.readouterr().out

    templates = fresh_fixture(tmp_path, "doomed-staging")
    assert run_deploy(capsys, endpoint, "staging", templates)[0] == 0
    args = ["--env", "staging", "--templates-dir", str(templates), "--endpoint-url", endpoint, "--poll", "0.01"]

    assert destroy.main([*args, "--confirm", "yes"]) == deploy.EXIT_REFUSED
    out = capsys.readouterr().out
    assert "set CONFIRM=doomed-staging" in out and "nothing was deleted" in out
    assert stack(endpoint, "doomed-staging")["StackStatus"] == "CREATE_COMPLETE"

    assert destroy.main([*args, "--confirm", "doomed-staging"]) == 0
    out = capsys.readouterr().out
    # Reverse order of the plan: billing, then the secondary, then the primary.
    assert out.index("deleting doomed-staging-billing in us-east-1") < out.index(
        "deleting doomed-staging in eu-central-1") < out.index("deleting doomed-staging in eu-west-1")
    assert stack(endpoint, "doomed-staging") is None and stack(endpoint, "doomed-staging", "eu-central-1") is None
    retained = [line for line in out.splitlines() if line.startswith("destroy: retained KeptQueue")]
    assert len(retained) == 2  # one per region
    assert "DeletionPolicy Retain: Messages outlive the stack" in retained[0]
    queues = aws("sqs", endpoint).list_queues().get("QueueUrls", [])
    assert any("KeptQueue" in url for url in queues)  # really still there


def test_a_refused_change_executes_nothing_and_deletes_its_change_sets(endpoint, capsys, tmp_path, monkeypatch):
    """When change_review refuses (moto computes no Replacement, so the refusal is injected here; the rules are
    tested on stubbed plans in test_change_review), no change set runs and none is left behind."""
    from inference_platform_ops.deploy import change_review

    def refuse(plans, **_kwargs):
        plans = [p for p in plans if not p.no_changes]
        return [change_review.Refusal(p.stack_name, p.region, "Marker", "stateful-replacement", "would be REPLACED")
                for p in plans]

    templates = copy_fixture(TEMPLATES, tmp_path)
    if stack(endpoint, "fixture-local") is None:
        assert run_deploy(capsys, endpoint, "local", templates)[0] == 0
    edit_params(templates, "local", TopicName="refused")
    status = stack(endpoint, "fixture-local")["StackStatus"]
    monkeypatch.setattr(change_review, "review", refuse)

    code, out = run_deploy(capsys, endpoint, "local", templates)

    assert code == deploy.EXIT_REFUSED, out
    assert "deploy: REFUSED fixture-local (eu-west-1) Marker: would be REPLACED" in out
    assert "nothing was executed; the change sets were deleted" in out
    assert stack(endpoint, "fixture-local")["StackStatus"] == status
    summaries = aws("cloudformation", endpoint).list_change_sets(StackName="fixture-local")["Summaries"]
    assert [s for s in summaries if s["ExecutionStatus"] == "AVAILABLE"] == []
