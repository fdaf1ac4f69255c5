"""inference_platform_ops.deploy.smoke end to end: the REAL templates deployed to the emulator, then smoke-tested.

The state machine's sample request runs in moto's Step Functions interpreter with the project's
handlers in-process (inference_platform_ops.emulator.lambdas), exactly as `make smoke` does locally.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import boto3
import pytest

from inference_platform_ops.deploy import deploy
from inference_platform_ops.deploy import smoke as smoke_test
from inference_platform_ops.emulator import local_aws
from tests.helpers import DEPLOY_BROKEN as BROKEN
from tests.helpers import DEPLOY_TEMPLATES as TEMPLATES
from tests.helpers import free_port

# moto warns for every resource type it skips; the deploy reports those itself (asserted below).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")


@pytest.fixture(scope="module")
def endpoint():
    port = free_port()
    with local_aws.in_process_emulator(port):
        url = local_aws.endpoint_url(port)
        out = io.StringIO()
        with redirect_stdout(out):
            code = deploy.main(["--env", "local", "--endpoint-url", url, "--no-deps", "--poll", "0.01"])
        assert code == 0, out.getvalue()
        yield url


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
    assert "0 failed" in out
    s3 = boto3.Session(**local_aws.EMULATOR_KEYS).client("s3", region_name="us-east-1", endpoint_url=endpoint)
    left = s3.list_objects_v2(Bucket="ml-inference-local-input", Prefix="input/smoke-").get("KeyCount", 0)
    assert left == 0  # the sample files are removed, so a later real run does not process them


def test_the_real_root_stack_reports_the_version_the_deploy_computed(endpoint):
    cfn = boto3.Session(**local_aws.EMULATOR_KEYS).client("cloudformation", region_name="us-east-1",
                                                         endpoint_url=endpoint)
    root = cfn.describe_stacks(StackName="ml-inference-local")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in root["Outputs"]}
    assert outputs["TemplateVersion"] == deploy.template_version(deploy.TEMPLATES) != "unversioned"


def test_alarms_the_emulator_could_not_create_are_skipped_not_passed(endpoint, capsys):
    deploy.main(["--env", "local", "--templates-dir", str(TEMPLATES), "--endpoint-url", endpoint, "--no-deps",
                 "--poll", "0.01"])
    capsys.readouterr()

    code, out = smoke(capsys, "--env", "local", "--endpoint-url", endpoint, "--templates-dir", str(TEMPLATES))

    table = rows(out)
    assert code == 0, out
    assert table["alarm TopicAlarm (eu-west-1)"] == "SKIP"
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
    monkeypatch.setattr(local_aws, "PID_FILE", tmp_path / "emulator.pid")

    code, out = smoke(capsys, "--env", "local")

    assert code == 1
    assert "run `make deploy` first" in out
