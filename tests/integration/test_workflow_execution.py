"""InferencePipeline executed end to end in moto's Step Functions interpreter.

The definitions, handler strings and Lambda environments are the template's (tests/workflow_harness.py);
Lambda tasks run the real handlers in-process (inference_platform_ops.emulator.lambdas); SageMaker runtime answers are
scripted per test. Assertions are on execution status, history and what landed in S3/SageMaker.
Retry intervals sleep for real: only the two retry cases pay the 3 s waits.
"""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from inference_platform_ops.emulator.lambdas import (
    Outcome,
    SageMakerScript,
    scripted_sagemaker_runtime,
    workflow_emulation,
)
from tests.helpers import workflow_harness as harness
from tests.helpers.workflow_harness import BUCKET, entered_states, state_input, transform_event

SERVERLESS = harness.PARAMETERS["ServerlessEndpointName"]
PROVISIONED = harness.PARAMETERS["ProvisionedEndpointName"]


@pytest.fixture
def script():
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        workflow_emulation(),
        scripted_sagemaker_runtime(SageMakerScript()) as scripted,
    ):
        yield scripted


def s3_objects(prefix: str) -> dict[str, dict]:
    s3 = harness.aws("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    return {key: s3.head_object(Bucket=BUCKET, Key=key)["Metadata"] for key in keys}


def transform_jobs() -> list[dict]:
    sagemaker = harness.aws("sagemaker")
    names = [j["TransformJobName"] for j in sagemaker.list_transform_jobs()["TransformJobSummaries"]]
    return [sagemaker.describe_transform_job(TransformJobName=n) for n in names]


def test_provisioned_route_invokes_every_file_and_writes_results(script):
    """Auto mode in business hours (every hour of every day here) with few files -> provisioned endpoint."""
    workflow = harness.deploy({"BusinessDays": "MON-SUN", "BusinessStartHour": "0", "BusinessEndHour": "24"})
    keys = harness.put_inputs(3)
    execution = workflow.start("auto-business-hours", {"mode": "auto"})

    described = workflow.wait(execution)

    assert described["status"] == "SUCCEEDED", described
    history = workflow.history(execution)
    assert "ProvisionedInference" in entered_states(history)
    assert "FallbackToBatchTransform" not in entered_states(history)
    assert json.loads(described["output"])["route"]["strategy"] == "provisioned_endpoint"
    outputs = s3_objects("output/file-")
    assert sorted(outputs) == sorted(k.replace("input/", "output/") + ".out" for k in keys)
    assert script.calls_to(PROVISIONED) == 3 and script.calls_to(SERVERLESS) == 0


def test_serverless_route_when_provisioned_is_off(script):
    """Auto mode with no provisioned endpoint deployed -> serverless, whatever the hour."""
    workflow = harness.deploy({"ProvisionedEndpointName": ""})
    harness.put_inputs(2)
    execution = workflow.start("auto-no-provisioned")

    described = workflow.wait(execution)

    assert described["status"] == "SUCCEEDED", described
    assert "ServerlessInference" in entered_states(workflow.history(execution))
    assert len(s3_objects("output/file-")) == 2
    assert script.calls_to(SERVERLESS) == 2


def test_forced_real_time_mode_covers_every_file_beyond_the_threshold(script):
    """Route stops counting at the threshold, but a forced serverless request still processes every
    file: the map lists the prefix itself (outputs and folder markers are not inputs)."""
    workflow = harness.deploy({"BatchThreshold": "2"})
    keys = harness.put_inputs(5)
    harness.aws("s3").put_object(Bucket=BUCKET, Key="input/", Body=b"")  # a folder marker
    execution = workflow.start("forced-many", {"mode": "serverless"})

    described = workflow.wait(execution)

    assert described["status"] == "SUCCEEDED", described
    route = json.loads(described["output"])["route"]
    assert (route["file_count"], route["file_count_is_lower_bound"]) == (2, True)
    assert sorted(s3_objects("output/file-")) == sorted(k.replace("input/", "output/") + ".out" for k in keys)
    assert script.calls_to(SERVERLESS) == 5


def test_batch_route_waits_for_the_transform_job_and_callback_completes_it(script):
    """At the threshold auto mode goes to batch: the transform job covers the input prefix, the
    execution waits, and the job's Completed event (through BatchCallback) finishes it."""
    workflow = harness.deploy({"BatchThreshold": "3"})
    harness.put_inputs(5)
    execution = workflow.start("at-threshold")
    workflow.wait_for_state(execution, "BatchTransform")
    job = wait_for_transform_job()

    assert workflow.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/input/"
    assert job["TransformJobName"].startswith("ml-inference-local-")
    handled = workflow.invoke_callback(transform_event(job["TransformJobName"]))

    described = workflow.wait(execution)
    assert handled["action"] == "delivered"
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["batch"]["transform_job_name"] == job["TransformJobName"]
    assert script.calls == []  # batch never touches the real-time endpoints
    assert json.loads(described["output"])["route"]["file_count"] == 3  # listing stopped at the threshold


def test_failed_transform_job_fails_the_execution_with_its_reason(script):
    workflow = harness.deploy()
    harness.put_inputs(1)
    execution = workflow.start("batch-fails", {"mode": "batch"})
    workflow.wait_for_state(execution, "BatchTransform")
    job = wait_for_transform_job()

    workflow.invoke_callback(transform_event(job["TransformJobName"], "Failed", "ClientError: bad input"))

    described = workflow.wait(execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "TransformJobFailed"  # (moto drops SendTaskFailure's cause)


def test_unknown_job_is_ignored_and_the_waiting_execution_keeps_waiting(script):
    """A state change of a job this workflow did not start completes nothing."""
    workflow = harness.deploy()
    harness.put_inputs(1)
    execution = workflow.start("waits", {"mode": "batch"})
    workflow.wait_for_state(execution, "BatchTransform")
    job = wait_for_transform_job()

    handled = workflow.invoke_callback(transform_event("ml-inference-local-someone-elses-job"))

    assert handled["action"] == "ignored"
    assert workflow.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    workflow.invoke_callback(transform_event(job["TransformJobName"]))
    assert workflow.wait(execution)["status"] == "SUCCEEDED"


def test_duplicate_completion_event_is_delivered_once(script):
    workflow = harness.deploy()
    harness.put_inputs(1)
    execution = workflow.start("dup", {"mode": "batch"})
    workflow.wait_for_state(execution, "BatchTransform")
    job = wait_for_transform_job()

    first = workflow.invoke_callback(transform_event(job["TransformJobName"]))
    second = workflow.invoke_callback(transform_event(job["TransformJobName"]))

    assert (first["action"], second["action"]) == ("delivered", "duplicate")
    assert workflow.wait(execution)["status"] == "SUCCEEDED"


def test_serverless_model_not_ready_once_then_succeeds_after_one_retry(script):
    """Cold start: the first call says ModelNotReadyException, Step Functions retries 3 s later, the
    second call answers. Two endpoint calls, no fallback, the output records attempt 1."""
    script.outcomes[SERVERLESS] = [Outcome.model_not_ready()]
    workflow = harness.deploy()
    harness.put_inputs(1)
    execution = workflow.start("cold-start", {"mode": "serverless"})

    described = workflow.wait(execution)

    assert described["status"] == "SUCCEEDED", described
    assert "FallbackToBatchTransform" not in entered_states(workflow.history(execution))
    assert script.calls_to(SERVERLESS) == 2
    assert s3_objects("output/file-0000.json.out")["output/file-0000.json.out"]["attempt"] == "1"
    assert transform_jobs() == []


def test_a_failing_primary_region_is_served_by_the_secondary(script):
    """Two regions (DR tiers 1 and 2): the endpoint has the same derived name in both, the primary answers 5xx,
    the Invoke Lambda fails over to the secondary and the request succeeds without falling back to batch."""
    script.outcomes[f"us-east-1/{SERVERLESS}"] = [Outcome.server_error()] * 3
    workflow = harness.deploy({"SecondaryRegion": "us-west-2", "ProvisionedEndpointName": ""},
                              world={"SecondaryRegion": "us-west-2"})
    harness.put_inputs(1)
    execution = workflow.start("failover", {"mode": "serverless"})

    assert workflow.wait(execution)["status"] == "SUCCEEDED"
    assert "FallbackToBatchTransform" not in entered_states(workflow.history(execution))
    assert [meta.get("region") for meta in s3_objects("output/").values() if "region" in meta] == ["us-west-2"]


def test_serverless_fails_three_times_then_falls_back_to_batch(script):
    """ModelNotReadyException on the first try and both retries (3 endpoint calls) -> the child run
    fails -> FallbackToBatchTransform, with the reason at $.fallback_reason, and the transform job is
    created over the input prefix."""
    script.outcomes[SERVERLESS] = [Outcome.model_not_ready()] * 3
    workflow = harness.deploy()
    harness.put_inputs(1)
    execution = workflow.start("never-ready", {"mode": "serverless"})

    workflow.wait_for_state(execution, "BatchTransform")
    job = wait_for_transform_job()

    history = workflow.history(execution)
    assert entered_states(history)[-2:] == ["FallbackToBatchTransform", "BatchTransform"]
    reason = state_input(history, "FallbackToBatchTransform")["fallback_reason"]
    assert reason["Error"] == "States.TaskFailed"
    assert "States.ExceedToleratedFailureThreshold" in reason["Cause"]  # the child's map gave up on the file
    assert script.calls_to(SERVERLESS) == 3
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/input/"
    workflow.invoke_callback(transform_event(job["TransformJobName"]))
    assert workflow.wait(execution)["status"] == "SUCCEEDED"


def test_serverless_timeout_falls_back_to_batch(script):
    """A hung endpoint: the serverless task's timeout fires and the request goes to batch.

    To run in about a second, this case ONLY deploys a copy of the definition whose serverless task
    TimeoutSeconds is 1 instead of 120 (the 120 s bound itself is checked in test_workflow_definition).
    """
    def short_timeout(logical: str, definition: dict) -> None:
        if logical == "InferencePipeline":
            assert definition["States"]["ServerlessInference"]["TimeoutSeconds"] == 120
            definition["States"]["ServerlessInference"]["TimeoutSeconds"] = 1

    script.outcomes[SERVERLESS] = [Outcome.ok(delay_s=120)]  # hung far beyond the 1 s timeout; released below
    workflow = harness.deploy(patch_definition=short_timeout)
    harness.put_inputs(1)
    execution = workflow.start("hung", {"mode": "serverless"})

    workflow.wait_for_state(execution, "FallbackToBatchTransform")
    script.released.set()  # let the hung call return so the next Lambda task can run
    workflow.wait_for_state(execution, "BatchTransform")

    reason = state_input(workflow.history(execution), "FallbackToBatchTransform")["fallback_reason"]
    assert reason["Error"] == "States.Timeout"
    assert wait_for_transform_job()["TransformJobStatus"]


def test_provisioned_endpoint_errors_fall_back_to_batch_too(script):
    """A 5xx from the provisioned endpoint is not retried as a cold start: the file fails, the child run
    fails, and the request goes to batch instead of being lost."""
    script.outcomes[PROVISIONED] = [Outcome.server_error()]
    workflow = harness.deploy()
    harness.put_inputs(1)
    execution = workflow.start("provisioned-down", {"mode": "provisioned"})

    workflow.wait_for_state(execution, "BatchTransform")

    reason = state_input(workflow.history(execution), "FallbackToBatchTransform")["fallback_reason"]
    assert reason["Error"] == "States.TaskFailed"
    assert script.calls_to(PROVISIONED) == 1
    assert wait_for_transform_job()["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/input/"


def test_empty_input_prefix_succeeds_without_inference(script):
    workflow = harness.deploy()
    execution = workflow.start("empty")

    described = workflow.wait(execution)

    assert described["status"] == "SUCCEEDED"
    assert "NothingToDo" in entered_states(workflow.history(execution))
    assert script.calls == [] and transform_jobs() == []


def wait_for_transform_job() -> dict:
    jobs = harness.wait_until(transform_jobs, "a transform job")
    assert len(jobs) == 1, jobs
    return jobs[0]


# --- the Express front door and its per-file path -------------------------------------------------------


def pipeline_executions(workflow) -> list[dict]:
    return workflow.sfn.list_executions(stateMachineArn=workflow.pipeline_arn)["executions"]


def invoke_as_the_child(workflow, key: str, request: str) -> dict:
    """What a file set (or a map child) still in flight does: invoke one file for ``request``."""
    response = harness.aws("lambda").invoke(
        FunctionName=workflow.physical["InvokeFunction"],
        Payload=json.dumps({"key": key, "target": "serverless", "request": request, "attempt": 0}).encode())
    return json.loads(response["Payload"].read())


def test_front_door_runs_a_small_real_time_request_in_express_only(script):
    """A serverless request of 3 files: the Express front door routes it and runs the Express file set;
    no Standard execution (no state transition billed) is started."""
    workflow = harness.deploy()
    keys = harness.put_inputs(3)
    execution = workflow.request("front-serverless", {"mode": "serverless"})

    described = workflow.wait(execution)

    assert described["status"] == "SUCCEEDED", described
    states = entered_states(workflow.history(execution))
    assert states[-3:] == ["RunRealTime", "RealTimeSucceeded", "Done"]
    output = json.loads(described["output"])
    assert output["inference"]["status"] == "SUCCEEDED" and "-invoke-file-set:" in output["inference"]["execution_arn"]
    assert sorted(output["route"]["keys"]) == sorted(keys)
    assert sorted(s3_objects("output/file-")) == sorted(k.replace("input/", "output/") + ".out" for k in keys)
    assert script.calls_to(SERVERLESS) == 3
    assert pipeline_executions(workflow) == []


def test_front_door_hands_batch_work_to_the_standard_pipeline_by_name(script):
    """Batch needs a task token, which Express cannot wait for: the front door starts InferencePipeline with
    the request itself, named after the front door's execution (a repeated delivery starts nothing new)."""
    workflow = harness.deploy()
    harness.put_inputs(2)
    execution = workflow.request("front-batch", {"mode": "batch"})

    described = workflow.wait(execution)

    assert described["status"] == "SUCCEEDED", described
    assert entered_states(workflow.history(execution))[-2:] == ["HandOverToPipeline", "HandedOver"]
    [handed] = pipeline_executions(workflow)
    assert handed["name"] == "front-batch"
    assert json.loads(described["output"])["handed_over"]["execution_arn"] == handed["executionArn"]
    workflow.wait_for_state(handed["executionArn"], "BatchTransform")
    assert json.loads(workflow.sfn.describe_execution(executionArn=handed["executionArn"])["input"]) == {
        "mode": "batch"}
    assert script.calls == []


def test_front_door_fallback_makes_the_replaced_run_inert(script):
    """The file set fails (the endpoint answers 500, which is not retried): the front door hands the request
    to the pipeline as batch, naming the run it replaces. StartBatch marks that run cancelled before creating
    the job, so a file the run still had in flight (Express runs cannot be stopped) invokes but writes nothing."""
    script.outcomes[SERVERLESS] = [Outcome.server_error()]
    workflow = harness.deploy()
    harness.put_inputs(1)
    execution = workflow.request("front-fallback", {"mode": "serverless"})

    assert workflow.wait(execution)["status"] == "SUCCEEDED"
    assert "FileSetFailed" in entered_states(workflow.history(execution))
    [handed] = pipeline_executions(workflow)
    handed_input = json.loads(workflow.sfn.describe_execution(executionArn=handed["executionArn"])["input"])
    assert (handed_input["mode"], handed_input["replaces"]) == ("batch", "front-fallback")
    assert handed_input["fallback_reason"]["Error"] == "FileSetFailed"
    workflow.wait_for_state(handed["executionArn"], "BatchTransform")
    wait_for_transform_job()

    late = invoke_as_the_child(workflow, "input/file-0000.json", request="front-fallback")

    assert late["cancelled"] is True and late["output_key"] is None
    assert s3_objects("output/file-") == {}
    fresh = invoke_as_the_child(workflow, "input/file-0000.json", request="another-request")
    assert fresh["output_key"] == "output/file-0000.json.out"  # only the replaced request is cancelled


def test_an_item_delivered_twice_leaves_one_output(script):
    """Express is at-least-once: running the same item twice calls the endpoint twice but leaves exactly one
    output object, with the same content, and nothing else (no second object, no table item)."""
    workflow = harness.deploy()
    harness.put_inputs(1)
    run = {"keys": ["input/file-0000.json"], "target": "serverless", "request": "twice"}
    file_set = workflow.physical["InvokeFileSetStateMachine"]
    bodies = []
    for attempt in ("first", "again"):
        execution = workflow.sfn.start_execution(stateMachineArn=file_set, name=f"twice-{attempt}",
                                                 input=json.dumps(run))["executionArn"]
        assert workflow.wait(execution)["status"] == "SUCCEEDED"
        bodies.append(harness.aws("s3").get_object(Bucket=BUCKET, Key="output/file-0000.json.out")["Body"].read())

    assert script.calls_to(SERVERLESS) == 2
    assert list(s3_objects("output/")) == ["output/file-0000.json.out"]
    assert bodies[0] == bodies[1]
    marker = harness.aws("dynamodb").get_item(TableName=harness.PARAMETERS["StateTableName"],
                                              Key={"pk": {"S": "request#twice"}, "sk": {"S": "cancelled"}})
    assert "Item" not in marker  # a repeated item cancels nothing and records nothing


def test_standard_fallback_stops_its_run_and_marks_it_cancelled(script):
    """The pipeline's own fallback (task timeout shortened to 1 s) while its run waits to retry a cold start:
    StartBatch stops that run (named after the request) and marks the request cancelled, so the run starts
    no more files and a file still in flight writes nothing."""
    def short_timeout_long_retry(logical: str, definition: dict) -> None:
        if logical == "InferencePipeline":
            definition["States"]["ServerlessInference"]["TimeoutSeconds"] = 1
        if logical == "InvokeFilesStateMachine":  # a 30 s wait: the run is surely still waiting when it is stopped
            invoke = definition["States"]["InvokeEachFile"]["ItemProcessor"]["States"]["Invoke"]
            invoke["Retry"][0]["IntervalSeconds"] = 30

    script.outcomes[SERVERLESS] = [Outcome.model_not_ready()]  # then the retry wait: the run is still going
    workflow = harness.deploy(patch_definition=short_timeout_long_retry)
    harness.put_inputs(1)
    execution = workflow.start("cold-standard", {"mode": "serverless"})
    workflow.wait_for_state(execution, "BatchTransform")
    wait_for_transform_job()

    run_arn = workflow.invoke_files_arn.replace(":stateMachine:", ":execution:") + ":cold-standard"
    assert workflow.wait(run_arn)["status"] == "ABORTED"  # stopped by StartBatch, not left to retry
    calls_before = script.calls_to(SERVERLESS)
    assert calls_before <= 1  # at most the cold start (0 if stopped first): the stopped run made no retry
    marker = harness.aws("dynamodb").get_item(TableName=harness.PARAMETERS["StateTableName"],
                                              Key={"pk": {"S": "request#cold-standard"}, "sk": {"S": "cancelled"}})
    assert "States.Timeout" in marker["Item"]["reason"]["S"]
    # A run stopped before its first call left the scripted cold start unused: the late file gets an answer.
    script.outcomes[SERVERLESS] = []
    assert invoke_as_the_child(workflow, "input/file-0000.json", request="cold-standard")["cancelled"] is True
    assert s3_objects("output/file-") == {}
    assert script.calls_to(SERVERLESS) == calls_before + 1  # the late file above, which wrote nothing


def test_front_door_refuses_a_bad_input_in_its_own_terms(script):
    """The front door fails with Route's error and cause, like the pipeline (no hand-over, no stack trace)."""
    workflow = harness.deploy()
    execution = workflow.request("front-typo", {"mdoe": "batch"})

    described = workflow.wait(execution)

    assert (described["status"], described["error"]) == ("FAILED", "InvalidExecutionInput")
    assert "'mdoe' (did you mean 'mode'?)" in described["cause"] and "Traceback" not in described["cause"]
    assert pipeline_executions(workflow) == []


# --- scale to zero: the inference component ------------------------------------------------------------------


def test_a_scale_to_zero_endpoint_serves_through_its_component_only_while_it_has_a_copy(script, monkeypatch):
    """EnableScaleToZero: a request for the provisioned path runs on the inference component while it has a
    copy; at 0 copies the router never sends work there (it would fail with NoCapacityInvocationFailures): a
    forced provisioned request then goes to batch, as for any path that is not there. Run as the local
    deployment with scale to zero on, so the permission contract checks DescribeInferenceComponent and the
    InvokeEndpoint that names the component."""
    from inference_platform.handlers import route as route_handler
    from inference_platform.workflow.capacity_state import CapacityState
    from inference_platform_ops.emulator import cfn_resources, compat

    component = "ml-inference-local-component"
    monkeypatch.setattr(route_handler, "CAPACITY", CapacityState(copies_ttl_s=0))  # no copy count kept between runs
    with compat.patched():  # the emulator's DescribeInferenceComponent
        workflow = harness.deploy({"ProvisionedInferenceComponentName": component},
                                  world={"EnableScaleToZero": "true"})
        monkeypatch.setitem(cfn_resources._COMPONENTS, (harness.REGION, component), cfn_resources.InferenceComponent(
            component, f"arn:aws:sagemaker:{harness.REGION}:{harness.ACCOUNT}:inference-component/{component}",
            PROVISIONED, "AllTraffic", harness.PARAMETERS["ModelName"], copies=1))
        keys = harness.put_inputs(2)

        awake = workflow.wait(workflow.start("component-awake", {"mode": "provisioned"}))
        assert awake["status"] == "SUCCEEDED", awake
        assert script.calls_to(PROVISIONED) == 2
        assert sorted(s3_objects("output/file-")) == sorted(k.replace("input/", "output/") + ".out" for k in keys)

        cfn_resources._COMPONENTS[(harness.REGION, component)].copies = 0
        asleep = workflow.start("component-asleep", {"mode": "provisioned"})
        workflow.wait_for_state(asleep, "BatchTransform")
    assert script.calls_to(PROVISIONED) == 2  # nothing sent to the component at zero copies


def test_an_execution_still_running_when_the_emulation_ends_is_stopped_and_its_thread_ends():
    """moto runs each execution in a thread of its own. One still waiting when its test ended went on in the
    next test's moto state: that test found a transform job it had not asked for."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        threads_before = set(TMP_THREADS)
        with workflow_emulation(), scripted_sagemaker_runtime(SageMakerScript()):
            workflow = harness.deploy()
            harness.put_inputs(1)
            execution = workflow.start("left-running", {"mode": "batch"})
            workflow.wait_for_state(execution, "BatchTransform")  # waits for a task token: up to 24 h

        assert workflow.sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
        assert [thread for thread in TMP_THREADS if thread not in threads_before and thread.is_alive()] == []
