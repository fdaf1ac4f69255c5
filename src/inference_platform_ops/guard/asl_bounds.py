"""Worst-case time bounds read from an Amazon States Language definition.

Used to prove, from the deployed definition itself, how long a request can spend on a path before
its fallback starts. Every attempt is counted at its full ``TimeoutSeconds`` and every retry wait at
its longest (no jitter savings), so the figure is an upper bound, never an estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_INTERVAL_S = 1.0
DEFAULT_BACKOFF = 2.0
TIMEOUT_ERRORS = {"States.Timeout", "States.ALL"}
FAILURE_ERRORS = {"States.TaskFailed", "States.ALL"}


def retry_waits(retrier: Mapping[str, Any]) -> float:
    """Sum of the waits one retrier can insert: interval * backoff^i, capped by MaxDelaySeconds."""
    attempts = int(retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS))
    interval = float(retrier.get("IntervalSeconds", DEFAULT_INTERVAL_S))
    backoff = float(retrier.get("BackoffRate", DEFAULT_BACKOFF))
    cap = float(retrier.get("MaxDelaySeconds", math.inf))
    return sum(min(interval * backoff**i, cap) for i in range(attempts))


def attempts(state: Mapping[str, Any]) -> int:
    """Most attempts a state can make: the first plus every retrier's MaxAttempts (each counts on its own)."""
    return 1 + sum(int(r.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS)) for r in state.get("Retry", []))


def state_worst_case_seconds(state: Mapping[str, Any]) -> float:
    """Longest time a state can run before its Catch fires: all attempts at full timeout plus all retry waits
    (waits are time too: a retried cold start spends them before the fallback can start).

    A Task without ``TimeoutSeconds`` has no bound (infinity); other state types have no such field in the
    States Language (Parallel and Map cannot bound their children), so they have none either.
    """
    timeout = state.get("TimeoutSeconds")
    if state.get("Type") != "Task" or not isinstance(timeout, int) or isinstance(timeout, bool):
        return math.inf
    return attempts(state) * float(state["TimeoutSeconds"]) + sum(retry_waits(r) for r in state.get("Retry", []))


def describe_bound(state: Mapping[str, Any]) -> str:
    """How :func:`state_worst_case_seconds` got its figure, for messages."""
    seconds = state_worst_case_seconds(state)
    if not math.isfinite(seconds):
        return "no TimeoutSeconds"
    waits = sum(retry_waits(r) for r in state.get("Retry", []))
    return (f"TimeoutSeconds {state['TimeoutSeconds']} x {attempts(state)} attempts + {waits:g} s of retry waits "
            f"= {seconds:g} s")


def catches_into(state: Mapping[str, Any], target: str) -> bool:
    """True when both a timeout and a task failure of ``state`` lead to ``target``."""
    covered: set[str] = set()
    for catcher in state.get("Catch", []):
        if catcher.get("Next") == target:
            covered.update(catcher.get("ErrorEquals", []))
    return bool(covered & TIMEOUT_ERRORS) and bool(covered & FAILURE_ERRORS)


def choice_target(definition: Mapping[str, Any], value: str) -> str:
    """The state a Choice sends ``value`` to (first rule with StringEquals == value, any Choice state)."""
    for state in definition["States"].values():
        if state.get("Type") != "Choice":
            continue
        for rule in state.get("Choices", []):
            if rule.get("StringEquals") == value:
                return rule["Next"]
    raise KeyError(f"no Choice rule routes {value!r}")


def worst_case_seconds_to_fallback(definition: Mapping[str, Any], entry_state: str, fallback: str) -> float:
    """Upper bound from entering ``entry_state`` to entering ``fallback`` on any failure or timeout."""
    state = definition["States"][entry_state]
    if not catches_into(state, fallback):
        return math.inf
    return state_worst_case_seconds(state)


# --- the Invoke Lambda's time budget ------------------------------------------------------------------------
# connect + read timeouts x SDK attempts x regions  <  Lambda Timeout  <  the Map's Invoke TimeoutSeconds
#   <  the real-time task's TimeoutSeconds (the fallback bound). Otherwise a hung primary region eats the
# whole Lambda (Sandbox.Timedout, which no Retry matches) before the secondary is ever asked.

INVOKE_FUNCTION = "InvokeFunction"
INVOKE_STATE = "Invoke"
REGIONS_WITH_FAILOVER = 2  # CrossRegionClient: the primary, then the secondary


def _states_with_children(states: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for child in ([state.get("ItemProcessor") or state.get("Iterator") or {}] + state.get("Branches", [])):
            yield from _states_with_children(child.get("States", {}))


@dataclass(frozen=True)
class InvokeBudget:
    connect_s: float
    read_s: float
    attempts_per_region: int
    regions: int
    lambda_timeout_s: float
    task_timeout_s: float
    fallback_bound_s: float

    @property
    def endpoint_worst_s(self) -> float:
        return (self.connect_s + self.read_s) * self.attempts_per_region * self.regions

    def problems(self) -> list[str]:
        chain = [("endpoint calls (connect + read) x attempts x regions", self.endpoint_worst_s),
                 ("the Invoke Lambda's Timeout", self.lambda_timeout_s),
                 ("the Map's Invoke TimeoutSeconds", self.task_timeout_s),
                 ("the real-time task's TimeoutSeconds (fallback bound)", self.fallback_bound_s)]
        return [f"{low} ({low_s:g} s) must be below {high} ({high_s:g} s)"
                for (low, low_s), (high, high_s) in zip(chain, chain[1:], strict=False) if not low_s < high_s]


def invoke_time_budget(template: Mapping[str, Any]) -> InvokeBudget:
    """The budget of templates/workflow.yaml as written (the values every params file deploys)."""
    from inference_platform.handlers.invoke import SDK_ATTEMPTS_PER_REGION  # noqa: PLC0415

    resources = template["Resources"]
    function = resources[INVOKE_FUNCTION]["Properties"]
    variables = function["Environment"]["Variables"]
    definitions = {name: body["Properties"]["Definition"] for name, body in resources.items()
                   if body["Type"] == "AWS::StepFunctions::StateMachine"}
    # Every map's Invoke task (Standard and Express children): the slowest one counts.
    invokes = [state for definition in definitions.values()
               for name, state in _states_with_children(definition["States"]) if name == INVOKE_STATE]
    # The real-time tasks that run those maps and wait for them (the fallback bound); a fire-and-forget
    # startExecution (no .sync) waits for nothing.
    real_time = [state["TimeoutSeconds"] for definition in definitions.values()
                 for _, state in _states_with_children(definition["States"])
                 if "TimeoutSeconds" in state and any(kind in str(state.get("Resource", ""))
                                                      for kind in ("startExecution.sync", "startSyncExecution"))]
    return InvokeBudget(
        connect_s=float(variables["ENDPOINT_CONNECT_TIMEOUT_SECONDS"]),
        read_s=float(variables["ENDPOINT_READ_TIMEOUT_SECONDS"]),
        attempts_per_region=SDK_ATTEMPTS_PER_REGION, regions=REGIONS_WITH_FAILOVER,
        lambda_timeout_s=float(function["Timeout"]),
        task_timeout_s=float(max(state["TimeoutSeconds"] for state in invokes)),
        fallback_bound_s=float(min(real_time)))
