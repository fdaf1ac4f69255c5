"""The REAL templates deployed to the local emulator once, then every path run against them.

What `make deploy` + `make smoke` + `make dr-validate` do locally: nothing is left "not created", the DR
checks pass, and every execution path finishes in seconds -- provisioned/serverless, batch (the local
transform job transforms, its state-change event reaches BatchCallback through EventBridge), the
fallback from a failing endpoint to batch, a failing transform job, StopExecution, and a non-ASCII key.
Executions run in moto's Step Functions interpreter with the project's handlers in-process
(inference_platform_ops.emulator.lambdas). One deploy for the module (per xdist worker that runs its tests).
"""

from __future__ import annotations

import io
import json
import threading
import time
from contextlib import redirect_stdout

import boto3
import pytest

from inference_platform_ops.deploy import deploy, dr_validate
from inference_platform_ops.deploy import smoke as smoke_test
from inference_platform_ops.emulator import local_aws, local_jobs
from inference_platform_ops.emulator.lambdas import Outcome, SageMakerScript, scripted_sagemaker_runtime
from tests.helpers import DEPLOY_BROKEN as BROKEN
from tests.helpers import DEPLOY_TEMPLATES as TEMPLATES
from tests.helpers import free_port

# moto warns for every resource type it skips; the deploy reports those itself (asserted below).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
REGION = "us-east-1"
INPUT_BUCKET = "ml-inference-local-input"


@pytest.fixture(scope="module")
def deployed():
    """(endpoint URL, what `make deploy` printed) for the real templates and templates/params/local.json."""
    port = free_port()
    with local_aws.in_process_emulator(port):
        url = local_aws.endpoint_url(port)
        out = io.StringIO()
        with redirect_stdout(out):
            code = deploy.main(["--env", "local", "--endpoint-url", url, "--no-deps", "--poll", "0.01"])
        assert code == 0, out.getvalue()
        yield url, out.getvalue()


@pytest.fixture(scope="module")
def endpoint(deployed):
    return deployed[0]


def client(endpoint: str, service: str):
    return boto3.Session(**local_aws.EMULATOR_KEYS).client(service, region_name=REGION, endpoint_url=endpoint)


def outputs(endpoint: str) -> dict[str, str]:
    stack = client(endpoint, "cloudformation").describe_stacks(StackName="ml-inference-local")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


@pytest.fixture
def inputs(endpoint):
    """Put files under input/ of an empty input bucket (removed again after the test)."""
    s3 = client(endpoint, "s3")
    if INPUT_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=INPUT_BUCKET)

    def clear() -> None:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=INPUT_BUCKET):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=INPUT_BUCKET, Delete={"Objects": keys, "Quiet": True})

    def put(files: dict[str, bytes]) -> list[str]:
        for key, body in files.items():
            s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body, ContentType="application/json")
        return list(files)

    clear()
    yield put
    local_jobs.wait_for_jobs()
    clear()


def run(endpoint: str, name: str, request, timeout_s: float = 30.0) -> tuple[dict, list[str]]:
    """Start an InferencePipeline execution, wait until it ends; (description, states entered)."""
    sfn = client(endpoint, "stepfunctions")
    arn = sfn.start_execution(stateMachineArn=outputs(endpoint)["StateMachineArn"], name=name,
                              input=json.dumps(request))["executionArn"]
    deadline = time.monotonic() + timeout_s
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{name} still RUNNING after {timeout_s} s"
        time.sleep(0.1)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return described, [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def objects(endpoint: str, prefix: str) -> dict[str, bytes]:
    s3 = client(endpoint, "s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=INPUT_BUCKET, Prefix=prefix).get("Contents", [])]
    return {key: s3.get_object(Bucket=INPUT_BUCKET, Key=key)["Body"].read() for key in keys}


def instances(*values: int) -> bytes:
    return json.dumps({"instances": [list(values)]}).encode()


def smoke(capsys, *args: str) -> tuple[int, str]:
    code = smoke_test.main(["--timeout", "30", *args])
    return code, capsys.readouterr().out


def rows(out: str) -> dict[str, str]:
    """check name -> PASS/FAIL/SKIP, from the printed table."""
    table = {}
    for line in out.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("PASS", "FAIL", "SKIP"):
            table[rest.strip().split("  ")[0].strip()] = status
    return table


def test_local_deployment_passes_end_to_end_including_a_sample_request(endpoint, capsys):
    code, out = smoke(capsys, "--env", "local", "--endpoint-url", endpoint)

    assert code == 0, out
    table = rows(out)
    assert table["stack ml-inference-local (us-east-1)"] == "PASS"
    assert table["nested WorkflowStack (us-east-1)"] == "PASS"
    assert table["endpoint ServerlessEndpointName (us-east-1)"] == "PASS"
    assert table["state machine sample request (us-east-1)"] == "PASS"
    assert "SUCCEEDED" in out and "over 3 file(s)" in out
    # The batch path runs locally too: the transform job transforms, its event completes the execution.
    assert table["state machine batch request (us-east-1)"] == "PASS"
    assert "batch_transform over 3 file(s), transform job" in out and "wrote 3 output(s)" in out
    assert "0 failed" in out
    s3 = boto3.Session(**local_aws.EMULATOR_KEYS).client("s3", region_name="us-east-1", endpoint_url=endpoint)
    left = s3.list_objects_v2(Bucket="ml-inference-local-input").get("Contents", [])
    assert [o["Key"] for o in left if "smoke-" in o["Key"] or "/batch/" in o["Key"]] == []  # samples and outputs gone


def test_the_real_root_stack_reports_the_version_the_deploy_computed(endpoint):
    root = client(endpoint, "cloudformation").describe_stacks(StackName="ml-inference-local")["Stacks"][0]
    values = {o["OutputKey"]: o["OutputValue"] for o in root["Outputs"]}
    assert values["TemplateVersion"] == deploy.template_version(deploy.TEMPLATES) != "unversioned"


def test_declared_alarms_are_checked_and_a_missing_workflow_is_skipped(endpoint, capsys):
    deploy.main(["--env", "local", "--templates-dir", str(TEMPLATES), "--endpoint-url", endpoint, "--no-deps",
                 "--poll", "0.01"])
    capsys.readouterr()

    code, out = smoke(capsys, "--env", "local", "--endpoint-url", endpoint, "--templates-dir", str(TEMPLATES))

    table = rows(out)
    assert code == 0, out
    assert table["alarm TopicAlarm (eu-west-1)"] == "PASS"  # created locally, found by DescribeAlarms
    assert table["state machine (eu-west-1)"] == "SKIP"  # the fixture has no workflow
    assert table["stack fixture-local-billing (us-east-1)"] == "PASS"


def test_a_rolled_back_stack_fails_the_smoke_test(endpoint, capsys):
    deploy.main(["--env", "local", "--templates-dir", str(BROKEN), "--endpoint-url", endpoint, "--no-deps",
                 "--poll", "0.01"])
    capsys.readouterr()

    code, out = smoke(capsys, "--env", "local", "--endpoint-url", endpoint, "--templates-dir", str(BROKEN))

    assert code == 1
    assert rows(out)["stack fixture-broken (eu-west-1)"] == "FAIL"
    assert "ROLLBACK_COMPLETE" in out


def test_local_smoke_without_a_running_emulator_says_what_to_do(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("INFERENCE_EMULATOR_DIR", str(tmp_path))

    code, out = smoke(capsys, "--env", "local")

    assert code == 2
    assert out.strip() == ("smoke: error: ENV=local but the local emulator is not running: run `make deploy` first "
                           "(or pass --endpoint-url)")


# --- every resource of the project's templates exists locally -----------------------------------------

def test_the_local_deploy_creates_every_resource_of_the_projects_templates(deployed):
    endpoint, out = deployed
    assert "could NOT create" not in out, out
    cfn = client(endpoint, "cloudformation")
    stacks, missing = ["ml-inference-local"], []
    while stacks:
        for row in cfn.describe_stack_resources(StackName=stacks.pop())["StackResources"]:
            if not row.get("PhysicalResourceId"):
                missing.append((row["LogicalResourceId"], row["ResourceType"]))
            elif row["ResourceType"] == "AWS::CloudFormation::Stack":
                stacks.append(row["PhysicalResourceId"])
    assert missing == []


def test_scaling_backup_and_invoke_permissions_are_real_objects_behind_their_apis(endpoint):
    resource_id = outputs(endpoint)["ScalableTargetResourceId"]
    scaling = client(endpoint, "application-autoscaling")
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource_id])[
        "ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)  # local.json: off-hours min .. business max
    actions = scaling.describe_scheduled_actions(ServiceNamespace="sagemaker", ResourceId=resource_id)
    assert {(a["ScheduledActionName"], a["Timezone"], a["ScalableTargetAction"]["MinCapacity"])
            for a in actions["ScheduledActions"]} == {("business-hours-start", "America/New_York", 2),
                                                     ("business-hours-end", "America/New_York", 1)}
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource_id)[
        "ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70.0
    backup = client(endpoint, "backup")
    vaults = backup.list_backup_vaults()["BackupVaultList"]
    assert [v["BackupVaultName"].rsplit("-", 1)[0] for v in vaults] == ["ml-inference-local-state"]  # + stack id
    statement = json.loads(client(endpoint, "lambda").get_policy(
        FunctionName=outputs(endpoint)["BatchCallbackFunctionName"])["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert ":rule/" in statement["Condition"]["ArnLike"]["AWS:SourceArn"]


def test_dr_validate_is_green_on_a_fresh_local_deploy(endpoint, capsys):
    code = dr_validate.main(["--env", "local", "--endpoint-url", endpoint])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "point-in-time recovery" in out and "ENABLED" in out
    assert "ml-inference-local-state-daily: 1 rule(s)" in out and "0 failed" in out


# --- every execution path finishes locally ------------------------------------------------------------

def test_batch_mode_runs_the_transform_job_and_the_execution_succeeds(endpoint, inputs):
    inputs({"input/a.json": instances(1, 2), "input/b.json": instances(10, 20)})

    described, states = run(endpoint, "batch-mode", {"mode": "batch"})

    assert described["status"] == "SUCCEEDED", described
    assert "BatchTransform" in states and "FallbackToBatchTransform" not in states
    batch = json.loads(described["output"])["batch"]
    assert batch["status"] == "Completed"
    written = objects(endpoint, f"output/batch/{batch['transform_job_name']}/")
    assert {key.rsplit("/", 1)[-1]: json.loads(body)["prediction"] for key, body in written.items()} == {
        "a.json.out": 3.0, "b.json.out": 30.0}  # the fake model's sum, per input


def test_auto_mode_at_the_batch_threshold_goes_to_batch_and_finishes(endpoint, inputs):
    threshold = int(json.loads((deploy.TEMPLATES / "params" / "local.json").read_text())["Parameters"][
        "BatchThreshold"])
    inputs({f"input/f{index:04d}.json": instances(index) for index in range(threshold)})

    described, states = run(endpoint, "auto-at-threshold", {"mode": "auto"}, timeout_s=60)

    assert described["status"] == "SUCCEEDED", described
    route = json.loads(described["output"])["route"]
    assert (route["strategy"], route["file_count"]) == ("batch_transform", threshold)
    assert "BatchTransform" in states


def test_a_failing_transform_job_fails_the_execution(endpoint, inputs):
    inputs({"input/broken.json": b"{not json"})

    described, _ = run(endpoint, "batch-fails", {"mode": "batch"})

    assert described["status"] == "FAILED"
    assert described["error"] == "TransformJobFailed"


def test_a_failing_serverless_endpoint_falls_back_to_batch_and_finishes(endpoint, inputs):
    inputs({"input/a.json": instances(4)})
    serverless = outputs(endpoint)["ServerlessEndpointName"]
    script = SageMakerScript(outcomes={serverless: [Outcome.server_error()] * 5})

    with scripted_sagemaker_runtime(script):
        described, states = run(endpoint, "fallback", {"mode": "serverless"})

    assert described["status"] == "SUCCEEDED", described
    assert states.index("ServerlessInference") < states.index("FallbackToBatchTransform") < states.index(
        "BatchTransform")
    assert json.loads(described["output"])["batch"]["status"] == "Completed"
    assert script.calls_to(serverless) >= 1


def test_stop_execution_aborts_an_execution_waiting_for_its_transform_job(endpoint, inputs, monkeypatch):
    inputs({"input/a.json": instances(1)})
    release = threading.Event()
    monkeypatch.setattr(local_jobs, "_run_transform_job", lambda backend, job: release.wait(30))
    sfn = client(endpoint, "stepfunctions")
    arn = sfn.start_execution(stateMachineArn=outputs(endpoint)["StateMachineArn"], name="stop-me",
                              input=json.dumps({"mode": "batch"}))["executionArn"]
    try:
        deadline = time.monotonic() + 20
        while not client(endpoint, "sagemaker").list_transform_jobs()["TransformJobSummaries"]:
            assert time.monotonic() < deadline, "no transform job started"
            time.sleep(0.1)
        time.sleep(0.3)  # the task now waits for its token

        sfn.stop_execution(executionArn=arn, error="Operator", cause="not needed any more")

        deadline = time.monotonic() + 5
        while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
            assert time.monotonic() < deadline, "StopExecution did not stop the waiting execution"
            time.sleep(0.1)
        assert status == "ABORTED"
    finally:
        release.set()


def test_a_non_ascii_key_goes_through_the_real_time_path_without_falling_back(endpoint, inputs):
    inputs({"input/données.json": instances(2, 5)})

    described, states = run(endpoint, "non-ascii", {"mode": "serverless"})

    assert described["status"] == "SUCCEEDED", described
    assert "FallbackToBatchTransform" not in states
    written = objects(endpoint, "output/données")
    assert [json.loads(body)["prediction"] for body in written.values()] == [7.0]


# --- execution input is checked in its own terms ---------------------------------------------------------

@pytest.mark.parametrize(("request_body", "cause"), [
    ({"mdoe": "batch"}, "the execution input has the unknown field 'mdoe' (did you mean 'mode'?); accepted "
                        "fields: mode"),
    ({"mode": "fastest"}, "mode must be one of auto, batch, provisioned, serverless, got 'fastest'"),
    (None, 'the execution input must be a JSON object such as {} or {"mode": "batch"} (mode: auto, batch, '
           "provisioned or serverless)"),
])
def test_a_bad_execution_input_fails_in_its_own_terms_without_a_stack_trace(endpoint, inputs, request_body, cause):
    inputs({"input/a.json": instances(1)})  # files there: a misspelt field must not run (mdoe would be ignored)

    described, states = run(endpoint, f"bad-input-{len(cause)}", request_body)

    assert described["status"] == "FAILED", described
    assert (described["error"], described["cause"]) == ("InvalidExecutionInput", cause)
    assert "Traceback" not in described["cause"] and "UnknownStrategy" not in states
    assert not any(state in states for state in ("ServerlessInference", "ProvisionedInference", "BatchTransform"))
