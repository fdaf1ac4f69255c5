"""Guard checks on the states of Step Functions definitions, which cfn-guard 3.1 cannot express:
they recurse through Parallel and Map states at any depth, follow a startExecution (or
``aws-sdk:sfn:startSyncExecution``) task to the child state machine it runs, and add up time budgets.

An endpoint invocation is a Task whose Resource contains ``sagemakerruntime:invokeEndpoint``, or a
Lambda task (``lambda:invoke``, a function ARN or a ``${...}`` substitution) whose state name starts
with ``Invoke`` or whose Comment contains ``endpoint-invocation``. For each one:

WORKFLOW_ENDPOINT_RETRY        TimeoutSeconds is set, and a Retry names ModelNotReadyException (or
                               SageMakerRuntime.ModelNotReadyException) with MaxAttempts <= 2
                               (MaxAttempts defaults to 3 when omitted).
WORKFLOW_ENDPOINT_FALLBACK     a Catch naming both States.Timeout and States.TaskFailed, whose Next is
                               a state beside the catching state, sits on the task, on an enclosing
                               Parallel/Map, or on every task that starts the task's state machine.
                               States.ALL alone does not count: it also swallows States.Runtime and
                               States.Permissions, turning a broken deployment into silent fallbacks.
                               A startSyncExecution task answers even when its child failed, so its Next
                               must also be a Choice that continues only on Status SUCCEEDED (a Default
                               that is not the success path).
WORKFLOW_ENDPOINT_TIME_BUDGET  the worst case of all attempts together is <= 120 s. A state's bound is
                               TimeoutSeconds x (1 + the MaxAttempts of all its retriers) plus the longest
                               retry waits (asl_bounds.state_worst_case_seconds); the budget is
                               the smallest of the task's bound, its wrappers' bounds, and the largest
                               bound among the tasks that start its state machine (every path counts), and
                               the state machine's own TimeoutSeconds (the whole execution's limit).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from inference_platform_ops.guard import asl_bounds
from inference_platform_ops.guard.findings import Finding
from inference_platform_ops.templates import properties, resources_of_type

RETRY_RULE = "WORKFLOW_ENDPOINT_RETRY"
FALLBACK_RULE = "WORKFLOW_ENDPOINT_FALLBACK"
BUDGET_RULE = "WORKFLOW_ENDPOINT_TIME_BUDGET"
BUDGET_SECONDS = 120
MODEL_NOT_READY = frozenset({"ModelNotReadyException", "SageMakerRuntime.ModelNotReadyException"})
FALLBACK_ERRORS = frozenset({"States.Timeout", "States.TaskFailed"})


@dataclass(frozen=True)
class StateNode:
    machine: str
    path: tuple[str, ...]
    state: dict[str, Any]
    siblings: dict[str, Any]
    wrappers: tuple[tuple[dict[str, Any], dict[str, Any]], ...]  # (Parallel/Map state, its siblings), outermost first

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def where(self) -> str:
        return "/".join(self.path)


def _child_state_maps(state: dict[str, Any]) -> list[dict[str, Any]]:
    if state.get("Type") == "Parallel":
        branches = state.get("Branches") or []
        return [b["States"] for b in branches if isinstance(b, dict) and isinstance(b.get("States"), dict)]
    if state.get("Type") == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict) and isinstance(processor.get("States"), dict):
            return [processor["States"]]
    return []


def walk_states(machine: str, states: dict[str, Any], path: tuple[str, ...] = (),
                wrappers: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = ()) -> Iterator[StateNode]:
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        yield StateNode(machine, (*path, name), state, states, wrappers)
        for child in _child_state_maps(state):
            yield from walk_states(machine, child, (*path, name), (*wrappers, (state, states)))


@dataclass(frozen=True)
class Machine:
    name: str
    states: dict[str, Any]
    substitutions: dict[str, Any]
    timeout_seconds: int | None = None  # the definition's own TimeoutSeconds

    def nodes(self) -> list[StateNode]:
        return list(walk_states(self.name, self.states))


def state_machines(template: dict[str, Any]) -> dict[str, Machine]:
    machines = {}
    for name, resource in resources_of_type(template, "AWS::StepFunctions::StateMachine").items():
        props = properties(resource)
        definition = props.get("Definition")
        if isinstance(definition, dict) and isinstance(definition.get("States"), dict):
            substitutions = props.get("DefinitionSubstitutions")
            substitutions = substitutions if isinstance(substitutions, dict) else {}
            timeout = definition.get("TimeoutSeconds")
            machines[name] = Machine(name, definition["States"], substitutions,
                                     timeout if isinstance(timeout, int) and not isinstance(timeout, bool) else None)
    return machines


def is_endpoint_invocation(node: StateNode) -> bool:
    state = node.state
    resource = state.get("Resource")
    if state.get("Type") != "Task" or not isinstance(resource, str):
        return False
    if "sagemakerruntime:invokeendpoint" in resource.lower():
        return True
    is_lambda = "lambda:invoke" in resource.lower() or ":function:" in resource or resource.startswith("${")
    comment = state.get("Comment")
    marked = node.name.startswith("Invoke") or (isinstance(comment, str) and "endpoint-invocation" in comment)
    return is_lambda and marked


def _referenced_machine(value: Any, substitutions: dict[str, Any]) -> str | None:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        value = substitutions.get(value[2:-1])
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
            return attribute[0]
    return None


def starters(machine: str, machines: dict[str, Machine]) -> list[StateNode]:
    """Tasks of other state machines in the template that run ``machine`` (states:startExecution*)."""
    found = []
    for other in machines.values():
        for node in other.nodes():
            resource = node.state.get("Resource")
            parameters = node.state.get("Parameters")
            if (node.state.get("Type") == "Task" and isinstance(resource, str)
                    and ("states:startExecution" in resource or "sfn:startSyncExecution" in resource)
                    and isinstance(parameters, dict)
                    and _referenced_machine(parameters.get("StateMachineArn"), other.substitutions) == machine):
                found.append(node)
    return found


def _retriers(state: dict[str, Any]) -> list[dict[str, Any]]:
    retry = state.get("Retry")
    return [r for r in retry if isinstance(r, dict)] if isinstance(retry, list) else []


def _catches_fallback(state: dict[str, Any], siblings: dict[str, Any]) -> bool:
    caught: set[str] = set()
    for catcher in state.get("Catch") or []:
        errors = catcher.get("ErrorEquals") if isinstance(catcher, dict) else None
        if isinstance(errors, list) and catcher.get("Next") in siblings:
            caught.update(errors)
    return caught >= FALLBACK_ERRORS


def _checks_sync_status(node: StateNode) -> bool:
    """A startSyncExecution task's answer is checked: its Next is a Choice that goes on only when SUCCEEDED."""
    if "sfn:startSyncExecution" not in str(node.state.get("Resource", "")):
        return True
    next_name = node.state.get("Next")
    choice = node.siblings.get(next_name) if isinstance(next_name, str) else None
    if not isinstance(choice, dict) or choice.get("Type") != "Choice" or not choice.get("Default"):
        return False
    rules = [r for r in choice.get("Choices") or [] if isinstance(r, dict)]
    return bool(rules) and all(r.get("StringEquals") == "SUCCEEDED" for r in rules)


def has_fallback(node: StateNode, machines: dict[str, Machine], seen: frozenset[str] = frozenset()) -> bool:
    if _catches_fallback(node.state, node.siblings) and _checks_sync_status(node):
        return True
    if any(_catches_fallback(wrapper, siblings) for wrapper, siblings in node.wrappers):
        return True
    if node.machine in seen:
        return False
    parents = starters(node.machine, machines)
    return bool(parents) and all(has_fallback(parent, machines, seen | {node.machine}) for parent in parents)


def state_bound(state: dict[str, Any]) -> tuple[float, str]:
    """Worst-case seconds of a state with its retries and their waits, and how it was computed."""
    return asl_bounds.state_worst_case_seconds(state), asl_bounds.describe_bound(state)


def time_budget(node: StateNode, machines: dict[str, Machine],
                seen: frozenset[str] = frozenset()) -> tuple[float, str]:
    candidates = [(*state_bound(node.state), node.where)]
    candidates += [(*state_bound(wrapper), "enclosing state") for wrapper, _ in node.wrappers]
    own = machines.get(node.machine)
    if own is not None and own.timeout_seconds is not None:
        candidates.append((own.timeout_seconds, f"TimeoutSeconds {own.timeout_seconds}", f"{node.machine} itself"))
    parents = starters(node.machine, machines) if node.machine not in seen else []
    if parents:
        worst = max((time_budget(p, machines, seen | {node.machine}) + (p,) for p in parents), key=lambda t: t[0])
        candidates.append((worst[0], worst[1], f"started by {worst[2].machine}/{worst[2].where}"))
    seconds, how, source = min(candidates, key=lambda c: c[0])
    return seconds, f"{source}: {how}"


def _retry_findings(node: StateNode) -> list[str]:
    problems = []
    if not isinstance(node.state.get("TimeoutSeconds"), int):
        problems.append("has no TimeoutSeconds (the default is 99999999 s, a hung endpoint call blocks the "
                        "execution for a year). Fix: set TimeoutSeconds (e.g. 30).")
    model_not_ready = [r for r in _retriers(node.state)
                       if isinstance(r.get("ErrorEquals"), list) and MODEL_NOT_READY & set(r["ErrorEquals"])]
    if not model_not_ready:
        problems.append("has no Retry on ModelNotReadyException, so a cold-starting endpoint fails the request at "
                        "once. Fix: Retry: [{ErrorEquals: [ModelNotReadyException], IntervalSeconds: 3, "
                        "MaxAttempts: 2, BackoffRate: 1.0}].")
    for retrier in model_not_ready:
        attempts = retrier.get("MaxAttempts", asl_bounds.DEFAULT_MAX_ATTEMPTS)
        if not isinstance(attempts, int) or attempts > 2:
            problems.append(f"retries ModelNotReadyException {attempts} times"
                            f"{' (the default when MaxAttempts is omitted)' if 'MaxAttempts' not in retrier else ''};"
                            " a model that is not ready after 2 retries is better served by the fallback. "
                            "Fix: MaxAttempts: 2 or less.")
    return problems


def check_workflows(template_name: str, template: dict[str, Any]) -> list[Finding]:
    machines = state_machines(template)
    findings = []
    for machine in machines.values():
        for node in machine.nodes():
            if not is_endpoint_invocation(node):
                continue
            for problem in _retry_findings(node):
                findings.append(Finding(template_name, machine.name, RETRY_RULE,
                                        f"endpoint invocation {node.where} {problem}"))
            if not has_fallback(node, machines):
                findings.append(Finding(
                    template_name, machine.name, FALLBACK_RULE,
                    f"endpoint invocation {node.where} has no Catch on both States.Timeout and States.TaskFailed "
                    "leading to a fallback state (not on the task, an enclosing Parallel/Map, nor every task that "
                    "starts this state machine). Fix: Catch: [{ErrorEquals: [States.Timeout, States.TaskFailed], "
                    "Next: <fallback state>}] on the task or its wrapper."))
            seconds, how = time_budget(node, machines)
            if seconds > BUDGET_SECONDS:
                shown = f"{seconds:g}" if math.isfinite(seconds) else "unbounded"
                findings.append(Finding(
                    template_name, machine.name, BUDGET_RULE,
                    f"endpoint invocation {node.where} can take {shown} "
                    f"s over all attempts (tightest bound: {how}), more than {BUDGET_SECONDS} s. Fix: make "
                    f"TimeoutSeconds x (1 + all retry MaxAttempts) + retry waits <= {BUDGET_SECONDS} on the task, "
                    "or on every task that starts its state machine."))
    return findings
