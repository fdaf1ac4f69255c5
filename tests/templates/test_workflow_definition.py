"""The InferencePipeline definitions in templates/workflow.yaml, read as deployed (no execution here)."""

from __future__ import annotations

import math

import pytest

from inference_platform.handlers.invoke import _runtime_options
from inference_platform.workflow.invocation import EndpointThrottledException, ModelNotReadyException
from inference_platform_ops.emulator.lambdas import resolve_handler
from inference_platform_ops.guard.asl_bounds import (
    catches_into,
    choice_target,
    state_worst_case_seconds,
    worst_case_seconds_to_fallback,
)
from inference_platform_ops.iam import sar
from tests.helpers.template_loader import load_template
from tests.helpers.workflow_harness import plain

LAMBDA_SERVICE_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                         "Lambda.TooManyRequestsException"}
FALLBACK = "FallbackToBatchTransform"
LIMIT_S = 130


@pytest.fixture(scope="module")
def template() -> dict:
    return plain(load_template("workflow.yaml"))


@pytest.fixture(scope="module")
def pipeline(template) -> dict:
    return template["Resources"]["InferencePipeline"]["Properties"]["Definition"]


@pytest.fixture(scope="module")
def invoke_files(template) -> dict:
    return template["Resources"]["InvokeFilesStateMachine"]["Properties"]["Definition"]


def all_states(definition: dict):
    for name, state in definition["States"].items():
        yield name, state
        for nested in [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]:
            if nested:
                yield from all_states(nested)


def test_serverless_start_to_fallback_start_is_bounded_by_construction(pipeline):
    """From entering the serverless path to entering the fallback takes at most 130 s, every attempt
    and retry wait included: computed from the definition, not asserted from a constant."""
    entry = choice_target(pipeline, "serverless_inference")
    bound = worst_case_seconds_to_fallback(pipeline, entry, FALLBACK)
    print(f"worst-case serverless start -> fallback start: {bound:.0f} s")  # noqa: T201 - the figure
    assert bound <= LIMIT_S
    assert bound == 120


def test_the_bound_counts_every_attempt_of_a_retried_task():
    """The calculator is not a constant: a per-attempt 120 s task with two retries 3 s apart allows 366 s."""
    naive = {"Type": "Task", "TimeoutSeconds": 120,
             "Retry": [{"ErrorEquals": ["ModelNotReadyException"], "IntervalSeconds": 3, "MaxAttempts": 2,
                        "BackoffRate": 1.0}],
             "Catch": [{"ErrorEquals": ["States.Timeout", "States.TaskFailed"], "Next": FALLBACK}]}
    assert worst_case_seconds_to_fallback({"States": {"S": naive}}, "S", FALLBACK) == 366
    without_timeout = {k: v for k, v in naive.items() if k != "TimeoutSeconds"}
    assert math.isinf(state_worst_case_seconds(without_timeout))
    assert math.isinf(state_worst_case_seconds({"Type": "Parallel", "TimeoutSeconds": 120}))
    only_timeouts = {**naive, "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": FALLBACK}]}
    assert not catches_into(only_timeouts, FALLBACK)


def test_serverless_envelope_catches_timeout_and_failure_into_the_fallback(pipeline):
    """A timeout or a failed child goes to FallbackToBatchTransform with the reason at $.fallback_reason,
    and the fallback leads to the batch transform."""
    envelope = pipeline["States"][choice_target(pipeline, "serverless_inference")]
    assert envelope["TimeoutSeconds"] == 120
    assert envelope["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    catcher = next(c for c in envelope["Catch"] if c["Next"] == FALLBACK)
    assert {"States.Timeout", "States.TaskFailed"} <= set(catcher["ErrorEquals"])
    assert catcher["ResultPath"] == "$.fallback_reason"
    assert pipeline["States"][FALLBACK]["Next"] == choice_target(pipeline, "batch_transform")


def test_model_not_ready_retry_matches_the_exception_the_lambda_raises(invoke_files):
    """The Retry names the exception type the Invoke Lambda raises (a Lambda task's error is the
    exception's type name): 3 s apart, 2 more attempts, no backoff growth."""
    invoke = dict(all_states(invoke_files))["Invoke"]
    retrier = next(r for r in invoke["Retry"] if ModelNotReadyException.__name__ in r["ErrorEquals"])
    assert (retrier["IntervalSeconds"], retrier["MaxAttempts"], retrier["BackoffRate"]) == (3, 2, 1.0)
    assert ModelNotReadyException.__name__ == "ModelNotReadyException"
    throttled = next(r for r in invoke["Retry"] if EndpointThrottledException.__name__ in r["ErrorEquals"])
    assert throttled["MaxAttempts"] >= 1


def test_every_lambda_task_retries_lambda_service_errors(pipeline, invoke_files):
    """Each Lambda task retries the standard Lambda service errors (and only Step Functions retries:
    the endpoint client inside the Invoke Lambda makes exactly one attempt)."""
    lambda_tasks = [(name, state) for definition in (pipeline, invoke_files) for name, state in all_states(definition)
                    if str(state.get("Resource", "")).startswith("arn:aws:states:::lambda:invoke")]
    assert {name for name, _ in lambda_tasks} == {"Route", "BatchTransform", "Invoke"}
    for name, state in lambda_tasks:
        covered = set().union(*(set(r["ErrorEquals"]) for r in state.get("Retry", [])))
        assert covered >= LAMBDA_SERVICE_ERRORS, name
        assert "TimeoutSeconds" in state, name
    assert _runtime_options(2, 35).config().retries == {"mode": "standard", "total_max_attempts": 1}


def test_file_keys_never_travel_through_the_state(pipeline, invoke_files):
    """No unbounded list in a state payload: the map lists the input prefix itself and writes its
    results to S3; Route passes only counts, the strategy and (for a refused input) one error and cause."""
    map_state = invoke_files["States"]["InvokeEachFile"]
    assert map_state["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert map_state["ItemReader"]["Parameters"] == {"Bucket": "${InputLocation}", "Prefix": "${InputPrefix}"}
    assert map_state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert map_state["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
    assert set(pipeline["States"]["Route"]["ResultSelector"]) == {
        "strategy.$", "file_count.$", "file_count_is_lower_bound.$", "business_hours.$", "error.$", "cause.$"}


def test_state_machines_are_standard_logged_and_traced(template):
    resources = template["Resources"]
    for logical in ("InferencePipeline", "InvokeFilesStateMachine"):
        props = resources[logical]["Properties"]
        assert props["StateMachineType"] == "STANDARD"
        assert isinstance(props["Definition"], dict) and "DefinitionString" not in props
        assert props["TracingConfiguration"] == {"Enabled": True}
        assert props["LoggingConfiguration"]["Level"] in {"ALL", "ERROR"}
        group = props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
        assert resources[group["Fn::GetAtt"][0]]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_every_lambda_has_its_log_group_tracing_and_an_importable_handler(template):
    resources = template["Resources"]
    functions = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    assert len(functions) == 5  # route, invoke, start batch, batch callback, capacity planner (cost policy)
    for logical, props in functions.items():
        group = resources[props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        assert group["LogGroupName"]["Fn::Sub"] == "/aws/lambda/" + props["FunctionName"]["Fn::Sub"], logical
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Runtime"] == "python3.12"
        assert {"Key": "Environment", "Value": {"Ref": "Environment"}} in props["Tags"]
        assert callable(resolve_handler(props["Handler"]))


def _statements(policy: dict) -> list[dict]:
    """Statements, the ones inside an Fn::If included (both branches)."""
    found = []
    for statement in policy["PolicyDocument"]["Statement"]:
        branches = statement["Fn::If"][1:] if "Fn::If" in statement else [statement]
        found += [b for b in branches if isinstance(b, dict) and "Action" in b]
    return found


def test_no_role_grants_every_action(template):
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"]["Policies"]:
            for statement in _statements(policy):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all(a != "*" and not a.endswith(":*") for a in actions), logical
                if statement.get("Resource") == "*":
                    # Only actions that name no resource type in the Service Authorization Reference (X-Ray,
                    # log delivery, cloudwatch:GetMetricData, application-autoscaling:Describe*) may use "*".
                    scoped = [a for a in actions if (act := sar.action(a)) is None or act.resource_types]
                    assert scoped == [], (logical, scoped)


def test_choice_lookup_and_missing_catch():
    definition = {"States": {"Start": {"Type": "Pass", "Next": "Pick"},
                             "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.s", "StringEquals": "a",
                                                                     "Next": "A"}]},
                             "A": {"Type": "Task", "TimeoutSeconds": 5}}}
    assert choice_target(definition, "a") == "A"
    with pytest.raises(KeyError, match="'b'"):
        choice_target(definition, "b")
    assert math.isinf(worst_case_seconds_to_fallback(definition, "A", FALLBACK))  # no Catch: never falls back


def test_map_concurrency_is_the_parameter_passed_as_a_number(template, pipeline, invoke_files):
    """MapMaxConcurrency reaches the distributed map as a number: substitutions are strings, so each
    real-time task parses it (States.StringToJson) into the child's input and the map reads it by path."""
    params = template["Parameters"]["MapMaxConcurrency"]
    assert (params["Default"], params["MinValue"]) == (10, 1)
    assert template["Resources"]["InferencePipeline"]["Properties"]["DefinitionSubstitutions"]["MapMaxConcurrency"] \
        == {"Ref": "MapMaxConcurrency"}
    for state in ("ServerlessInference", "ProvisionedInference"):
        child_input = pipeline["States"][state]["Parameters"]["Input"]
        assert child_input["max_concurrency.$"] == "States.StringToJson('${MapMaxConcurrency}')"
    each_file = invoke_files["States"]["InvokeEachFile"]
    assert each_file["MaxConcurrencyPath"] == "$.max_concurrency"
    assert "MaxConcurrency" not in each_file
    main = load_template("main.yaml")
    assert main["Resources"]["WorkflowStack"]["Properties"]["Parameters"]["MapMaxConcurrency"] == \
        {"Ref": "MapMaxConcurrency"}


# --- Express: the front door, its file set, and the pipeline's Express map children -------------------------

@pytest.fixture(scope="module")
def front_door(template) -> dict:
    return template["Resources"]["RequestStateMachine"]["Properties"]["Definition"]


@pytest.fixture(scope="module")
def file_set(template) -> dict:
    return template["Resources"]["InvokeFileSetStateMachine"]["Properties"]["Definition"]


def test_real_time_start_to_fallback_start_is_bounded_in_the_front_door_too(front_door, file_set):
    """RunRealTime waits for the Express file set at most 120 s, retries included (the task's own timeout),
    and the file set cannot outlive that wait: its definition's TimeoutSeconds is the same 120 s."""
    bound = worst_case_seconds_to_fallback(front_door, "RunRealTime", "FallBackToBatch")
    print(f"worst-case front door real time -> fallback start: {bound:.0f} s")  # noqa: T201 - the figure
    assert bound == 120 <= LIMIT_S
    assert file_set["TimeoutSeconds"] <= bound
    run = front_door["States"]["RunRealTime"]
    assert run["Resource"] == "arn:aws:states:::aws-sdk:sfn:startSyncExecution"
    # startSyncExecution answers even when the file set failed: the Choice on its Status falls back too.
    check = front_door["States"][run["Next"]]
    assert check["Choices"] == [{"Variable": "$.inference.status", "StringEquals": "SUCCEEDED", "Next": "Done"}]
    assert front_door["States"][check["Default"]]["Next"] == "FallBackToBatch"


def test_the_fallback_hands_the_request_to_the_standard_pipeline_by_name(front_door):
    fallback = front_door["States"]["FallBackToBatch"]
    assert (fallback["Parameters"], fallback["ResultPath"]) == (
        {"mode": "batch", "replaces.$": "$$.Execution.Name", "fallback_reason.$": "$.fallback_reason"}, "$.request")
    hand_over = front_door["States"][fallback["Next"]]
    assert hand_over["Resource"] == "arn:aws:states:::states:startExecution"  # not .sync: Express cannot wait
    assert hand_over["Parameters"]["Name.$"] == "$$.Execution.Name"  # a repeated hand-over starts nothing new


def test_every_file_is_invoked_by_the_same_task_on_both_paths(invoke_files, file_set):
    """The Express file set and the pipeline's map children run the same Invoke task (retries, timeout, input)."""
    standard = invoke_files["States"]["InvokeEachFile"]["ItemProcessor"]
    express = file_set["States"]["InvokeEachFile"]["ItemProcessor"]
    assert standard["States"]["Invoke"] == express["States"]["Invoke"]
    assert standard["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert express["ProcessorConfig"] == {"Mode": "INLINE"}


def test_express_machines_log_errors_only_to_an_encrypted_group_with_the_retention_parameter(template):
    resources = template["Resources"]
    for logical in ("RequestStateMachine", "InvokeFileSetStateMachine"):
        props = resources[logical]["Properties"]
        assert props["StateMachineType"] == "EXPRESS"
        assert props["LoggingConfiguration"]["Level"] == "ERROR"
        assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
        group = props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
        group_props = resources[group["Fn::GetAtt"][0]]["Properties"]
        assert group_props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert group_props["KmsKeyId"] == {"Ref": "LogsKmsKeyArn"}
