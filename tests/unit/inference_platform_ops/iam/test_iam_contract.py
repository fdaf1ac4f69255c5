"""The permission contract (inference_platform_ops.iam.contract): recorded calls are rebased onto every params
file's deployment and authorized against the templates' policies with the policy evaluator."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from inference_platform_ops.iam import contract, recorder
from inference_platform_ops.iam.principals import deployment
from tests.helpers.template_loader import TEMPLATES

ACCOUNT = "123456789012"
WORLD = json.dumps({"env": "local", "overrides": {}, "templates": str(TEMPLATES.resolve())}, sort_keys=True)


def record(kind, name, service, operation, params, *, region="us-east-1", signing_name=None, world=WORLD):
    return {"principal": {"kind": kind, "name": name, "region": region if kind != "deploy" else "",
                          "account": ACCOUNT}, "service": service, "signing_name": signing_name or service,
            "operation": operation, "region": region, "params": params, "world": world}


CALLBACK = record("lambda", "ml-inference-local-batch-callback", "stepfunctions", "SendTaskSuccess",
                  {"taskToken": "token", "output": "{}"}, signing_name="states")
INVOKE_SECONDARY = record("lambda", "ml-inference-local-invoke", "sagemaker-runtime", "InvokeEndpoint",
                          {"EndpointName": "ml-inference-local-serverless"}, region="us-west-2",
                          signing_name="sagemaker")
INVOKE_SECONDARY["principal"]["region"] = "us-east-1"
SECONDARY_WORLD = json.dumps({"env": "local", "overrides": {"SecondaryRegion": "us-west-2"},
                              "templates": str(TEMPLATES.resolve())}, sort_keys=True)
INVOKE_SECONDARY["world"] = SECONDARY_WORLD


def test_names_are_mapped_by_the_resource_they_belong_to():
    rebase = contract.Rebase(deployment("local", TEMPLATES, {"SecondaryRegion": "us-west-2"}),
                             deployment("production", TEMPLATES))
    assert rebase.text("ml-inference-local-invoke") == "ml-inference-production-invoke"
    assert rebase.text("ml-inference-local-input") == "ml-inference-production-input"
    assert rebase.text("us-west-2") == "us-west-2"
    assert rebase.text("arn:aws:states:us-east-1:123456789012:stateMachine:ml-inference-local-inference") == \
        "arn:aws:states:us-east-1:123456789012:stateMachine:ml-inference-production-inference"
    dev = contract.Rebase(deployment("local", TEMPLATES), deployment("dev", TEMPLATES))
    assert dev.text("ml-inference-local-provisioned") is None  # dev deploys no provisioned endpoint


def test_the_callback_may_complete_tokens_and_the_invoke_may_call_the_secondary():
    results, _ = contract.check([CALLBACK, INVOKE_SECONDARY], TEMPLATES)
    assert results and all(r.allowed for r in results), [r for r in results if not r.allowed]
    envs = {(r.env, r.action) for r in results}
    assert ("production", "sagemaker:InvokeEndpoint") in envs and ("staging", "sagemaker:InvokeEndpoint") in envs
    assert ("dev", "sagemaker:InvokeEndpoint") not in envs  # tier 3: no secondary region to call


def test_a_callback_scoped_to_a_state_machine_is_denied(tmp_path):
    """Defect 1 as the contract sees it: the old grant names the state machine, IAM authorizes against "*"."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy)
    workflow = copy / "workflow.yaml"
    text = workflow.read_text()
    granted = ("            Resource: \"*\"\n            Condition:\n              StringEquals:\n"
               "                aws:Req")
    assert granted in text
    workflow.write_text(text.replace(
        granted,
        "            Resource: !Sub arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:x\n"
        "            Condition:\n              StringEquals:\n                aws:Req"))
    world = json.dumps({"env": "local", "overrides": {}, "templates": str(copy.resolve())}, sort_keys=True)
    results, _ = contract.check([{**CALLBACK, "world": world}], copy)
    denied = [r for r in results if not r.allowed]
    assert {r.env for r in denied} == {"local", "dev", "staging", "production"}
    assert '"Resource": "*"' in contract.missing_statement(denied[0])


def test_the_command_fails_naming_call_role_and_statement(tmp_path, capsys):
    directory = tmp_path / "records"
    directory.mkdir()
    denied = record("lambda", "ml-inference-local-route", "s3", "PutObject", {"Bucket": "ml-inference-local-input",
                                                                              "Key": "input/x"})
    (directory / "calls-gw0.jsonl").write_text(json.dumps(CALLBACK) + "\n")
    (directory / "calls-gw1.jsonl").write_text(json.dumps(denied) + "\n")
    assert contract.main(["--records", str(directory), "--unused"]) == 1
    out = capsys.readouterr().out
    assert "DENIED [production] s3.PutObject in us-east-1: s3:PutObject on " \
           "arn:aws:s3:::ml-inference-production-input/input/x by workflow.yaml RouteFunction" in out
    assert "granted but unused by workflow.yaml BatchCallbackFunction" in out
    assert contract.main(["--records", str(tmp_path / "none")]) == 1


def test_calls_against_other_templates_are_noted_not_evaluated():
    other = {**CALLBACK, "world": json.dumps({"env": "local", "templates": "/elsewhere"})}
    results, notes = contract.check([other], TEMPLATES)
    assert results == [] and notes == ["not evaluated: calls made against other templates (/elsewhere)"]


def test_the_recorder_names_the_principal_and_skips_unrecorded_calls(tmp_path):
    import boto3
    from moto import mock_aws

    path = tmp_path / "calls.jsonl"
    with mock_aws(), recorder.record_to(path):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bucket")  # no principal: setup, not recorded
        with recorder.acting_as(recorder.Principal("lambda", "fn", "us-east-1", ACCOUNT)):
            s3.put_object(Bucket="bucket", Key="k", Body=b"x")
            with recorder.unrecorded():
                s3.get_object(Bucket="bucket", Key="k")
    (line,) = path.read_text().splitlines()
    written = json.loads(line)
    assert (written["principal"]["name"], written["operation"], written["params"]) == (
        "fn", "PutObject", {"Body": None, "Bucket": "bucket", "Key": "k"})


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_every_params_file_resolves_without_problems(env):
    assert deployment(env, TEMPLATES).problems == []


def test_resource_tags_are_those_of_the_resource_asked_for_from_the_first_lookup():
    """The aws:ResourceTag/* context of a request: the tags of the ARN it names, on the lookup that builds the
    index as on every later one (the index once answered its first lookup with the last tagged resource's tags)."""
    fresh = replace(deployment("production", TEMPLATES), _tags=None)
    endpoint = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/ml-inference-production-provisioned"
    first = fresh.resource_tags(endpoint)
    assert first["EndpointKind"] == "provisioned"
    assert fresh.resource_tags(endpoint) == first
