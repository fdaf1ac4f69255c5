"""Endpoint-invocation checks over Step Functions definitions (inference_platform_ops.guard.workflow_checks)."""

from __future__ import annotations

import copy
from typing import Any

from inference_platform_ops.guard.workflow_checks import BUDGET_RULE, FALLBACK_RULE, RETRY_RULE, check_workflows


def invoke_task(**overrides: Any) -> dict[str, Any]:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${InvokeFunctionArn}"},
        "TimeoutSeconds": 37,  # 37 s x 3 attempts + 3 s and 6 s of retry waits = 120 s
        "Retry": [{"ErrorEquals": ["ModelNotReadyException"], "IntervalSeconds": 3, "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["States.Timeout", "States.TaskFailed"], "Next": "Fallback"}],
        "End": True,
    }
    task.update(overrides)
    return {k: v for k, v in task.items() if v is not None}


def template(states: dict[str, Any], extra_machines: dict[str, Any] | None = None) -> dict[str, Any]:
    machines = {"Pipeline": {"StartAt": next(iter(states)), "States": states}}
    machines.update(extra_machines or {})
    resources = {}
    for name, definition in machines.items():
        resources[name] = {"Type": "AWS::StepFunctions::StateMachine",
                           "Properties": {"Definition": definition,
                                          "DefinitionSubstitutions": {"ChildArn": {"Ref": "Child"}}}}
    return {"Resources": resources}


FALLBACK = {"Fallback": {"Type": "Pass", "End": True}}


def rules_failed(tpl: dict[str, Any]) -> list[str]:
    return [finding.rule for finding in check_workflows("workflow.yaml", tpl)]


def test_well_formed_invocation_passes_every_check() -> None:
    assert rules_failed(template({"InvokeServerless": invoke_task(), **FALLBACK})) == []


def test_tasks_that_do_not_invoke_an_endpoint_are_ignored() -> None:
    route = invoke_task(TimeoutSeconds=None, Retry=None, Catch=None)
    assert rules_failed(template({"Route": route})) == []


def test_sdk_integration_is_recognised_by_resource_even_without_the_name_convention() -> None:
    sdk = invoke_task(Resource="arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpoint", Retry=None)
    findings = check_workflows("workflow.yaml", template({"CallModel": sdk, **FALLBACK}))
    assert [(f.resource, f.rule) for f in findings] == [("Pipeline", RETRY_RULE)]
    assert "CallModel has no Retry on ModelNotReadyException" in findings[0].message


def test_comment_marker_makes_a_lambda_task_an_endpoint_invocation() -> None:
    marked = invoke_task(Comment="endpoint-invocation: serverless", TimeoutSeconds=None)
    assert RETRY_RULE in rules_failed(template({"Score": marked, **FALLBACK}))


def test_retry_without_max_attempts_counts_as_three_and_fails() -> None:
    task = invoke_task(Retry=[{"ErrorEquals": ["SageMakerRuntime.ModelNotReadyException"], "IntervalSeconds": 3}])
    findings = check_workflows("workflow.yaml", template({"InvokeEndpoint": task, **FALLBACK}))
    retry = [f for f in findings if f.rule == RETRY_RULE]
    assert len(retry) == 1 and "retries ModelNotReadyException 3 times (the default" in retry[0].message


def test_missing_timeout_fails_retry_and_budget() -> None:
    failed = rules_failed(template({"InvokeEndpoint": invoke_task(TimeoutSeconds=None), **FALLBACK}))
    assert failed.count(RETRY_RULE) == 1 and BUDGET_RULE in failed


def test_catch_all_alone_is_not_a_fallback() -> None:
    task = invoke_task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Fallback"}])
    assert rules_failed(template({"InvokeEndpoint": task, **FALLBACK})) == [FALLBACK_RULE]


def test_catch_to_a_missing_state_is_not_a_fallback() -> None:
    task = invoke_task(Catch=[{"ErrorEquals": ["States.Timeout", "States.TaskFailed"], "Next": "Nowhere"}])
    assert rules_failed(template({"InvokeEndpoint": task, **FALLBACK})) == [FALLBACK_RULE]


def test_a_wrapping_parallel_catches_but_cannot_bound() -> None:
    """A Catch on an enclosing Parallel is a fallback; a TimeoutSeconds on it is not a bound (the States
    Language has no such field on Parallel, so Step Functions would never enforce it)."""
    inner = invoke_task(Catch=None)
    parallel = {"Type": "Parallel", "End": True,
                "Branches": [{"StartAt": "InvokeEndpoint", "States": {"InvokeEndpoint": inner}}],
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Fallback"},
                          {"ErrorEquals": ["States.Timeout"], "Next": "Fallback"}]}
    assert rules_failed(template({"Wrapped": parallel, **FALLBACK})) == []
    slow = copy.deepcopy(parallel)
    slow["Branches"][0]["States"]["InvokeEndpoint"]["TimeoutSeconds"] = 60  # 60 s x 3 + 9 s of waits
    slow["TimeoutSeconds"] = 120
    findings = check_workflows("workflow.yaml", template({"Wrapped": slow, **FALLBACK}))
    assert [f.rule for f in findings] == [BUDGET_RULE]
    assert "Wrapped/InvokeEndpoint can take 189 s" in findings[0].message


def test_child_machine_is_covered_only_when_every_starting_task_bounds_and_catches_it() -> None:
    child_task = invoke_task(Catch=None, TimeoutSeconds=90)  # alone: 90 s x 3 + 9 s of waits = 279 s
    child = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True,
        "ItemProcessor": {"StartAt": "Invoke", "States": {"Invoke": child_task}}}}}

    def starter(timeout: int) -> dict[str, Any]:
        return {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": "${ChildArn}"}, "TimeoutSeconds": timeout,
                "Catch": [{"ErrorEquals": ["States.Timeout", "States.TaskFailed"], "Next": "Fallback"}],
                "End": True}

    serverless_only = template({"Serverless": starter(120), **FALLBACK}, {"Child": child})
    assert rules_failed(serverless_only) == []

    with_slow_path = template({"Serverless": starter(120), "Provisioned": starter(3600), **FALLBACK},
                              {"Child": child})
    findings = check_workflows("workflow.yaml", with_slow_path)
    assert [(f.resource, f.rule) for f in findings] == [("Child", BUDGET_RULE)]
    assert "Each/Invoke can take 279 s" in findings[0].message

    uncaught = starter(120)
    del uncaught["Catch"]
    assert FALLBACK_RULE in rules_failed(template({"Serverless": uncaught, **FALLBACK}, {"Child": child}))


def test_budget_counts_every_retrier_and_its_waits() -> None:
    task = invoke_task(TimeoutSeconds=29, Retry=[
        {"ErrorEquals": ["ModelNotReadyException"], "MaxAttempts": 2},  # default waits 1 s, then 2 s
        {"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 1},  # 1 s
    ])
    assert rules_failed(template({"InvokeEndpoint": task, **FALLBACK})) == []  # 29 s x 4 + 4 s = 120 s
    task["TimeoutSeconds"] = 30  # 124 s: the waits alone push it over
    findings = check_workflows("workflow.yaml", template({"InvokeEndpoint": task, **FALLBACK}))
    assert [f.rule for f in findings] == [BUDGET_RULE]
    assert "TimeoutSeconds 30 x 4 attempts + 4 s of retry waits = 124 s" in findings[0].message


def sync_starter(**overrides: Any) -> dict[str, Any]:
    task = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startSyncExecution",
            "Parameters": {"StateMachineArn": "${ChildArn}"}, "TimeoutSeconds": 120,
            "Catch": [{"ErrorEquals": ["States.Timeout", "States.TaskFailed"], "Next": "Fallback"}],
            "Next": "Succeeded"}
    task.update(overrides)
    return task


CHECK_STATUS = {"Succeeded": {"Type": "Choice", "Default": "Fallback",
                              "Choices": [{"Variable": "$.Status", "StringEquals": "SUCCEEDED", "Next": "Done"}]},
                "Done": {"Type": "Succeed"}}


def express_child(timeout: int | None = None) -> dict[str, Any]:
    child = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.keys", "End": True,
        "ItemProcessor": {"StartAt": "Invoke", "States": {"Invoke": invoke_task(TimeoutSeconds=90, Catch=None)}}}}}
    if timeout is not None:
        child["TimeoutSeconds"] = timeout
    return {"Child": child}


def test_a_sync_express_child_is_covered_by_its_starter_and_its_own_timeout() -> None:
    """The file set's Invoke (90 s x 3 attempts) is bounded by the starter's 120 s, and the starter's Catch plus
    the Choice on its Status lead to the fallback."""
    assert rules_failed(template({"Run": sync_starter(), **CHECK_STATUS, **FALLBACK}, express_child())) == []


def test_a_sync_starter_whose_answer_is_not_checked_is_no_fallback() -> None:
    """startSyncExecution succeeds even when the child failed: without a Choice on Status the failure is lost."""
    unchecked = {"Run": sync_starter(Next="Done"), "Done": {"Type": "Succeed"}, **FALLBACK}
    assert rules_failed(template(unchecked, express_child())) == [FALLBACK_RULE]


def test_the_child_definition_timeout_bounds_its_tasks() -> None:
    """A starter without TimeoutSeconds leaves the budget to the child's own TimeoutSeconds."""
    unbounded = {"Run": sync_starter(TimeoutSeconds=None), **CHECK_STATUS, **FALLBACK}
    unbounded["Run"] = {k: v for k, v in unbounded["Run"].items() if v is not None}
    assert rules_failed(template(unbounded, express_child())) == [BUDGET_RULE]
    assert rules_failed(template(unbounded, express_child(timeout=120))) == []
