"""Invoke: one file through the endpoint, the cold-start error Step Functions retries, EMF metrics, failover."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from inference_platform.handlers import invoke
from inference_platform.workflow.invocation import (
    AttemptRecord,
    EndpointAnswer,
    EndpointThrottledException,
    ModelNotReadyException,
    invoke_file,
    is_model_not_ready,
    output_key,
)
from inference_platform_ops.emulator.lambdas import (
    EmulatedLambdaContext,
    Outcome,
    SageMakerScript,
    scripted_sagemaker_runtime,
)
from tests.helpers.workflow_harness import aws

BUCKET = "invoke-input"
ENV = {"INPUT_LOCATION": BUCKET, "INPUT_PREFIX": "in/", "OUTPUT_PREFIX": "out/",
       "PROVISIONED_ENDPOINT_NAME": "prov-ep", "SERVERLESS_ENDPOINT_NAME": "sls-ep", "SECONDARY_REGION": ""}
CONTEXT = EmulatedLambdaContext("invoke", "arn:aws:lambda:us-east-1:123456789012:function:invoke")


@pytest.fixture
def env(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws(), scripted_sagemaker_runtime(SageMakerScript()) as script:
        s3 = aws("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="in/a.json", Body=b'{"x": 1}', ContentType="application/json")
        yield script


def emf_records(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{") and '"_aws"' in line]


def metric_names(records: list[dict]) -> set[str]:
    return {m["Name"] for r in records for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def test_success_writes_the_answer_under_the_output_prefix(env, capsys):
    env.default = Outcome.ok('{"score": 0.9}')

    result = invoke.handler({"key": "in/a.json", "target": "serverless", "attempt": 0}, CONTEXT)

    obj = aws("s3").get_object(Bucket=BUCKET, Key="out/a.json.out")
    assert obj["Body"].read() == b'{"score": 0.9}'
    assert obj["Metadata"]["source-key"] == "in/a.json" and obj["Metadata"]["attempt"] == "0"
    assert result["output_key"] == "out/a.json.out" and result["failover"] is False
    assert env.calls == [("sls-ep", b'{"x": 1}')]
    records = emf_records(capsys.readouterr().out)
    assert "InvocationLatency" in metric_names(records) and "ColdStartSuspected" not in metric_names(records)
    assert records[0]["Target"] == "serverless" and records[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"]


def test_a_non_ascii_key_keeps_the_endpoints_answer(env):
    """S3 metadata is ASCII only: a key like in/données.json used to make the output write fail after the
    endpoint had answered, and the whole request went to batch. The key is carried percent-encoded."""
    key = "in/données.json"
    aws("s3").put_object(Bucket=BUCKET, Key=key, Body=b'{"x": 2}', ContentType="application/json")
    env.default = Outcome.ok('{"score": 0.5}')

    result = invoke.handler({"key": key, "target": "provisioned", "attempt": 0}, CONTEXT)

    obj = aws("s3").get_object(Bucket=BUCKET, Key="out/données.json.out")
    assert obj["Body"].read() == b'{"score": 0.5}'
    assert unquote(obj["Metadata"]["source-key"]) == key and obj["Metadata"]["source-key"].isascii()
    assert result["output_key"] == "out/données.json.out"


def test_model_not_ready_surfaces_as_the_exception_step_functions_retries(env, capsys):
    env.default = Outcome.model_not_ready()

    with pytest.raises(ModelNotReadyException) as raised:
        invoke.handler({"key": "in/a.json", "target": "serverless"}, CONTEXT)

    assert type(raised.value).__name__ == "ModelNotReadyException"  # the Lambda task's error name
    assert "InvocationFailed" in metric_names(emf_records(capsys.readouterr().out))  # the failed attempt counts
    assert "Contents" not in aws("s3").list_objects_v2(Bucket=BUCKET, Prefix="out/")


def test_other_endpoint_errors_are_not_disguised_as_cold_starts(env):
    env.default = Outcome.server_error()
    with pytest.raises(ClientError) as raised:
        invoke.handler({"key": "in/a.json", "target": "provisioned"}, CONTEXT)
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert env.calls_to("prov-ep") == 1  # one attempt: retries belong to Step Functions


def test_disabled_target_and_bad_input_are_clear_errors(env, monkeypatch):
    monkeypatch.setenv("PROVISIONED_ENDPOINT_NAME", "")
    with pytest.raises(ValueError, match="provisioned"):
        invoke.handler({"key": "in/a.json", "target": "provisioned"}, CONTEXT)
    with pytest.raises(ValueError, match="target"):
        invoke.handler({"key": "in/a.json", "target": "gpu"}, CONTEXT)
    with pytest.raises(ValueError, match="key"):
        invoke.handler({"target": "serverless"}, CONTEXT)


def test_cold_start_is_suspected_only_above_five_seconds(capsys):
    invoke.record_attempt(AttemptRecord(latency_ms=5_000.0, succeeded=True), "serverless")
    invoke.metrics.flush_metrics()
    assert "ColdStartSuspected" not in metric_names(emf_records(capsys.readouterr().out))

    invoke.record_attempt(AttemptRecord(latency_ms=5_001.0, succeeded=True), "serverless")
    invoke.metrics.flush_metrics()
    records = emf_records(capsys.readouterr().out)
    assert "ColdStartSuspected" in metric_names(records)
    assert records[0]["InvocationLatency"] in (5001.0, [5001.0]) and records[0]["Target"] == "serverless"


def test_latency_is_the_endpoint_call_only():
    """What is measured is the call itself (the invoker's own timing), not reading or writing S3."""
    ticks = iter([0.0, 7.0])  # seconds: the clock around the call
    records: list[AttemptRecord] = []

    class S3:
        def get_object(self, **_):
            return {"Body": type("B", (), {"read": lambda self: b"{}"})(), "ContentType": "application/json"}

        def put_object(self, **_):
            return {}

    result = invoke_file(S3(), "b", input_prefix="", output_prefix="o/", key="k", content_type="application/json",
                         invoker=lambda body, ct: EndpointAnswer(b"ok", ct, "us-east-1", False, 6_500.0),
                         record=records.append, clock=lambda: next(ticks))
    assert records == [AttemptRecord(6_500.0, True)] and records[0].cold_start_suspected
    assert result["latency_ms"] == 6500.0


def test_output_key_keeps_the_path_below_the_input_prefix():
    assert output_key("in/", "out/", "in/day1/a.json") == "out/day1/a.json.out"
    assert output_key("", "out/", "a.json") == "out/a.json.out"


def test_model_not_ready_detection_looks_through_cross_region_errors():
    from inference_platform.resilience.cross_region import CrossRegionUnavailableError

    def error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": code}}, "InvokeEndpoint")

    assert is_model_not_ready(error("ModelNotReadyException"))
    assert not is_model_not_ready(error("ValidationError"))
    both = CrossRegionUnavailableError("us-east-1", error("ModelNotReadyException"),
                                       "us-west-2", error("ModelNotReadyException"))
    assert is_model_not_ready(both)
    mixed = CrossRegionUnavailableError("us-east-1", error("ModelNotReadyException"), "us-west-2", error("X"))
    assert not is_model_not_ready(mixed)


def test_secondary_region_serves_when_the_primary_fails(env, monkeypatch):
    """With SECONDARY_REGION set the Lambda goes through CrossRegionClient: a primary 5xx fails over."""
    monkeypatch.setenv("SECONDARY_REGION", "us-west-2")
    monkeypatch.setenv("SECONDARY_SERVERLESS_ENDPOINT_NAME", "sls-ep-west")
    env.outcomes["sls-ep"] = [Outcome.server_error()]
    env.outcomes["sls-ep-west"] = [Outcome.ok('{"from": "west"}')]

    result = invoke.handler({"key": "in/a.json", "target": "serverless"}, CONTEXT)

    assert (result["region"], result["failover"]) == ("us-west-2", True)
    obj = aws("s3").get_object(Bucket=BUCKET, Key="out/a.json.out")
    assert obj["Body"].read() == b'{"from": "west"}' and obj["Metadata"]["region"] == "us-west-2"
    assert [name for name, _ in env.calls] == ["sls-ep", "sls-ep-west"]


def test_secondary_stack_invokes_its_own_region(env, monkeypatch):
    """In the secondary region's own stack SECONDARY_REGION is the current region: stay single-region."""
    monkeypatch.setenv("SECONDARY_REGION", "us-east-1")
    monkeypatch.setenv("SECONDARY_SERVERLESS_ENDPOINT_NAME", "sls-ep-west")
    env.outcomes["sls-ep"] = [Outcome.ok('{"from": "home"}')]

    result = invoke.handler({"key": "in/a.json", "target": "serverless"}, CONTEXT)

    assert (result["region"], result["failover"]) == ("us-east-1", False)
    assert [name for name, _ in env.calls] == ["sls-ep"]


def test_primary_endpoint_name_never_goes_to_another_region(env, monkeypatch):
    """Endpoint names are generated per region: without the secondary's own name there is no failover,
    rather than a call to the secondary under the primary's name."""
    monkeypatch.setenv("SECONDARY_REGION", "us-west-2")
    monkeypatch.setenv("SECONDARY_SERVERLESS_ENDPOINT_NAME", "")
    env.outcomes["sls-ep"] = [Outcome.server_error()]

    with pytest.raises(ClientError):
        invoke.handler({"key": "in/a.json", "target": "serverless"}, CONTEXT)

    assert [name for name, _ in env.calls] == ["sls-ep"]


def test_throttling_surfaces_as_its_own_retryable_error(env):
    """Above a serverless endpoint's MaxConcurrency the call is throttled: a distinct error name the
    state machine retries with backoff (not a cold start, not a generic failure)."""
    env.default = Outcome(error_code="ThrottlingException", status=429)
    with pytest.raises(EndpointThrottledException):
        invoke.handler({"key": "in/a.json", "target": "serverless"}, CONTEXT)
    assert env.calls_to("sls-ep") == 1


def runtime_stub(region: str, expected: dict, body: bytes = b'{"ok": 1}'):
    """A sagemaker-runtime client whose one InvokeEndpoint answer is stubbed; Stubber checks the request
    against botocore's model (InferenceComponentName is a real InvokeEndpoint parameter) and ``expected``."""
    import io

    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    runtime = boto3.client("sagemaker-runtime", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(runtime)
    stubber.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body)),
                                             "ContentType": "application/json"}, expected)
    stubber.activate()
    return runtime, stubber


def test_a_scale_to_zero_endpoint_is_invoked_through_its_inference_component():
    from inference_platform.workflow.invocation import single_region_invoker

    expected = {"EndpointName": "demo-prod-provisioned", "Body": b"{}", "ContentType": "application/json",
                "InferenceComponentName": "demo-prod-component"}
    runtime, stubber = runtime_stub("us-east-1", expected)
    answer = single_region_invoker(runtime, "demo-prod-provisioned", "us-east-1",
                                   inference_component="demo-prod-component")(b"{}", "application/json")
    assert answer.body == b'{"ok": 1}'
    stubber.assert_no_pending_responses()

    classic = {k: v for k, v in expected.items() if k != "InferenceComponentName"}
    runtime, stubber = runtime_stub("us-east-1", classic)
    single_region_invoker(runtime, "demo-prod-provisioned", "us-east-1")(b"{}", "application/json")
    stubber.assert_no_pending_responses()


def test_failover_names_the_component_in_the_primary_only():
    """The tier 2 standby in the other region is serverless: its call carries no InferenceComponentName."""
    from inference_platform.resilience.cross_region import CrossRegionClient

    primary, primary_stub = boto3_failing_runtime("us-east-1", {
        "EndpointName": "prov-east", "Body": b"{}", "ContentType": "application/json",
        "InferenceComponentName": "demo-prod-component"})
    secondary, secondary_stub = runtime_stub("us-west-2", {"EndpointName": "sls-west", "Body": b"{}",
                                                           "ContentType": "application/json"})
    clients = {"us-east-1": primary, "us-west-2": secondary}
    result = CrossRegionClient("us-east-1", "us-west-2", {"us-east-1": "prov-east", "us-west-2": "sls-west"},
                               client_factory=clients.__getitem__,
                               inference_components={"us-east-1": "demo-prod-component"},
                               ).invoke_endpoint(Body=b"{}", ContentType="application/json")
    assert (result.region, result.failover) == ("us-west-2", True)
    primary_stub.assert_no_pending_responses()
    secondary_stub.assert_no_pending_responses()
    with pytest.raises(ValueError, match="regions this client does not know"):
        CrossRegionClient("us-east-1", "us-west-2", {"us-east-1": "a", "us-west-2": "b"},
                          client_factory=clients.__getitem__, inference_components={"eu-west-1": "c"})


def boto3_failing_runtime(region: str, expected: dict):
    """A primary whose InvokeEndpoint answers 503 (a region failure; in-region retries are botocore's own,
    which a stubbed client does not make)."""
    import boto3
    from botocore.stub import Stubber

    runtime = boto3.client("sagemaker-runtime", region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(runtime)
    stubber.add_client_error("invoke_endpoint", "ServiceUnavailable", http_status_code=503,
                             expected_params=expected)
    stubber.activate()
    return runtime, stubber
