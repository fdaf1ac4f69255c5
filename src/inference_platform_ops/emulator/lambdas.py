"""moto patches that run the project's Lambda handlers in-process, for the workflow tests and the emulator.

Used ONLY by tests and the local emulator; nothing here ships in the Lambda package.

Without Docker, moto's Lambda ``Invoke`` never runs handler code (it echoes the payload), so a
Step Functions Lambda task under ``execute_state_machine`` would "succeed" without doing anything.
``in_process_lambdas()`` replaces moto's ``LambdaBackend.invoke`` with a dispatcher that:

* looks the function up in moto's Lambda backend (the one the state machine addresses by ARN),
* imports the module named by its ``Handler`` string (``inference_platform.handlers.route.handler``),
* runs it with the function's ``Environment`` variables plus the variables Lambda itself sets
  (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME`` ...), and
* answers as Lambda does: the JSON result, or ``x-amz-function-error: Unhandled`` with
  ``{"errorType": <exception type name>, "errorMessage": ...}`` when the handler raises. Step
  Functions takes ``errorType`` as the task's error name, exactly as in AWS.

Invocations are serialised by one lock: each handler sees only its own function's environment
(os.environ is process-wide) and Powertools' metric buffer is not shared between two calls.

``nested_executions()`` fixes moto's ``arn:aws:states:::states:startExecution(.sync|.sync:2)``
integration, which passes the ASL field names (``StateMachineArn``, ``Input``) to boto3 unchanged
(boto3 wants ``stateMachineArn``, ``input``) and reads ``ExecutionArn`` from a response that boto3
spells ``executionArn``; as shipped it fails every nested execution with ``States.Runtime``.

``distributed_map_failure_tolerance()`` makes a distributed Map fail when its items fail (moto ignores
the tolerated-failure threshold and reports success); ``item_reader_listing()`` makes the Map's
``s3:listObjectsV2`` ItemReader read every page (moto reads one, and fails on an empty prefix);
``stoppable_waits()`` lets ``StopExecution`` abort a task waiting for its token;
``result_path_needs_an_object()`` fails ``ResultPath: $.x`` on a non-object input as Step Functions does;
``express_workflows()`` lets a distributed Map run EXPRESS children (moto's grammar knows only
``"ExecutionType": "STANDARD"``) and checks Express definitions as Step Functions does (no ``.sync``, no
``.waitForTaskToken``); ``sync_express_executions()`` runs ``arn:aws:states:::aws-sdk:sfn:startSyncExecution``
(moto has no StartSyncExecution handler); ``stopped_executions_stop_retrying()`` ends a Retry wait when
its execution is stopped (moto sleeps it out and retries anyway); ``workflow_emulation()`` applies them all.

``scripted_sagemaker_runtime(script)`` replaces moto's sagemaker-runtime ``InvokeEndpoint`` handler
(which always answers ``b"body"``, has no failure injection and loses the endpoint name) with the
outcomes a test scripts per endpoint: success bodies, ``ModelNotReadyException``, server errors or a
delay.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import unquote

from inference_platform_ops.iam import recorder

_DISPATCH_LOCK = threading.RLock()
_SYNTAX_TREES: dict[str, Any] = {}  # definition -> moto's ANTLR syntax tree (see express_workflows)
_SYNTAX_TREES_KEPT = 256


@dataclass(frozen=True)
class EmulatedLambdaContext:
    """The attributes of the Lambda context object that Powertools and the handlers read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "emulated"
    timeout_s: int = 60
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


def resolve_handler(handler: str) -> Callable[[dict, Any], Any]:
    """``"package.module.function"`` -> the function, importing the module as the Lambda runtime does."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        raise ValueError(f"Handler {handler!r} is not of the form module.function")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, function_name)
    except AttributeError as exc:
        raise ValueError(f"Handler {handler!r}: module {module_name} has no attribute {function_name}") from exc


@contextlib.contextmanager
def _function_environment(variables: dict[str, str]) -> Iterator[None]:
    """The function's variables for the handler's duration. Only these names are touched (never the
    whole environment: other threads of the emulator read it meanwhile), and restored one by one."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _atomic_environ_copy(self: Any) -> dict[str, str]:
    # os.environ.copy() is dict(self): it lists the keys, then reads each one, so a name removed by
    # another thread in between raises KeyError. botocore copies the environment for every new client
    # (IMDSFetcher), and moto's Step Functions threads create clients while handlers run.
    data = self._data.copy()  # one C-level copy: atomic under the GIL
    return {self.decodekey(key): self.decodevalue(value) for key, value in data.items()}


def _lambda_environment(fn: Any) -> dict[str, str]:
    variables = {
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
    }
    variables.update({name: str(value) for name, value in (fn.environment_vars or {}).items()})
    return variables


def run_function(fn: Any, event: Any) -> tuple[bytes, bool]:
    """Run one moto ``LambdaFunction`` in-process; returns (payload bytes, handler raised)."""
    context = EmulatedLambdaContext(
        function_name=fn.function_name,
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size),
        log_group_name=f"/aws/lambda/{fn.function_name}",
        timeout_s=int(fn.timeout),
    )
    principal = recorder.Principal("lambda", fn.function_name, fn.region, getattr(fn, "account_id", ""))
    with _DISPATCH_LOCK, _function_environment(_lambda_environment(fn)), recorder.acting_as(principal):
        try:
            handler = resolve_handler(fn.handler)
            result = handler(event, context)
        except Exception as exc:  # reported to the caller as Lambda does, never swallowed
            error = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-5:],
            }
            return json.dumps(error).encode(), True
    return json.dumps(result).encode(), False


def _dispatching_invoke(  # noqa: PLR0917 - moto calls LambdaBackend.invoke with these positional arguments
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: dict
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    event = json.loads(body) if body else {}
    payload, raised = run_function(fn, event)
    if raised:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["Content-Length"] = str(len(payload))
    return payload


@contextlib.contextmanager
def in_process_lambdas() -> Iterator[None]:
    """Route every moto Lambda ``Invoke`` (including Step Functions Lambda tasks) to the real handlers."""
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    with (
        mock.patch.object(LambdaBackend, "invoke", _dispatching_invoke),
        mock.patch.object(LambdaSimpleBackend, "invoke", _dispatching_invoke),
        mock.patch.object(type(os.environ), "copy", _atomic_environ_copy),
        # botocore reads proxies for every new client (urllib's getproxies_environment iterates
        # os.environ.items(), reading each key after listing them): the same race, the same cure.
        mock.patch.object(type(os.environ), "items", lambda self: _atomic_environ_copy(self).items()),
    ):
        yield


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


@contextlib.contextmanager
def nested_executions() -> Iterator[None]:
    """Make moto's Step Functions ``startExecution`` task integration speak boto3's member names."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    shipped_normalise_parameters = StateTaskServiceSfn._normalise_parameters

    def normalise_parameters(self: Any, parameters: dict, boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        shipped_normalise_parameters(self, parameters, boto_service_name, service_action_name)
        for name in list(parameters):
            parameters[_lower_first(name)] = parameters.pop(name)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        # The integration answers with the API's field names capitalised (ExecutionArn, Output, Status).
        if isinstance(response, dict):
            for name in list(response):
                response[_upper_first(name)] = response.pop(name)

    with (
        mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters),
        mock.patch.object(StateTaskServiceSfn, "_normalise_response", normalise_response),
        # moto polls a .sync child every 0.5 s; 0.05 s keeps the emulator and the tests quick.
        mock.patch.object(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 0.05),
    ):
        yield


@contextlib.contextmanager
def distributed_map_failure_tolerance() -> Iterator[None]:
    """Make a distributed Map fail when items fail, as Step Functions does.

    moto counts failed items but ignores ToleratedFailureCount/Percentage ("TODO" in moto 5.2.5): a
    map whose every item failed reports MapRunSucceeded, so a failed serverless run would look like
    success and never reach the batch fallback. Patched: after the run, more failed or timed-out items
    than tolerated fail the Map with ``States.ExceedToleratedFailureThreshold``. (When both tolerance
    fields are set, AWS fails on exceeding either; this fails on exceeding both. The project sets
    neither, i.e. zero tolerance, where the two agree.)
    """
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
        DistributedIterationComponent,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    shipped_map_run = DistributedIterationComponent._map_run

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        shipped_map_run(self, env, eval_input)
        counter = eval_input.map_run_record.item_counter
        failed, total = counter.failed.get() + counter.timed_out.get(), max(counter.total.get(), 1)
        over_count = failed > eval_input.tolerated_failure_count
        if over_count and failed * 100 / total > eval_input.tolerated_failure_percentage:
            error = StatesErrorNameType.StatesExceedToleratedFailureThreshold.to_name()
            raise FailureEventException(FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold),
                event_type=HistoryEventType.MapRunFailed,
                # moto declares EventDetails total; a history event (in AWS and in moto) carries one of its keys.
                event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(  # type: ignore[typeddict-item]
                    error=error, cause=f"{failed} of {total} items failed; tolerated: "
                                       f"{eval_input.tolerated_failure_count} items, "
                                       f"{eval_input.tolerated_failure_percentage}%")),
            ))

    with mock.patch.object(DistributedIterationComponent, "_map_run", map_run):
        yield


@contextlib.contextmanager
def item_reader_listing() -> Iterator[None]:
    """A distributed Map's ``s3:listObjectsV2`` ItemReader reads every page, as Step Functions does.

    moto reads only the first page (1,000 keys) and fails with KeyError 'Contents' on an empty prefix.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3 import (
        ResourceEvalS3,
    )

    def list_objects_v2(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        s3 = ResourceEvalS3._get_s3_client(resource_runtime_part=resource_runtime_part,
                                           state_credentials=state_credentials)
        parameters = env.stack.pop()
        contents: list[dict] = []
        for page in s3.get_paginator("list_objects_v2").paginate(**parameters):
            contents.extend(page.get("Contents", []))
        env.stack.append(contents)

    with mock.patch.object(ResourceEvalS3, "_handle_list_objects_v2", staticmethod(list_objects_v2)):
        yield


def _express_processors_checked(definition: str) -> str:
    """``definition`` with every EXPRESS distributed-map processor checked against Express's rules, then
    spelled STANDARD for moto's grammar (in moto both run their items in the parent's interpreter alike)."""
    from moto.stepfunctions.parser.asl.static_analyser.express_static_analyser import ExpressStaticAnalyser

    try:
        document = json.loads(definition)
    except (TypeError, ValueError):
        return definition  # not JSON: let moto's parser report it

    def visit(states: Any) -> bool:
        changed = False
        for state in (states or {}).values() if isinstance(states, dict) else ():
            processor = state.get("ItemProcessor") if isinstance(state, dict) else None
            if not isinstance(processor, dict):
                continue
            config = processor.get("ProcessorConfig") or {}
            if config.get("ExecutionType") == "EXPRESS":
                if config.get("Mode") != "DISTRIBUTED":
                    raise ValueError("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ExecutionType is "
                                     "only allowed for a Map in DISTRIBUTED mode'")
                child = {"StartAt": processor.get("StartAt"), "States": processor.get("States")}
                ExpressStaticAnalyser().analyse(json.dumps(child))
                processor["ProcessorConfig"] = {**config, "ExecutionType": "STANDARD"}
                changed = True
            changed |= visit(processor.get("States"))
        return changed

    return json.dumps(document) if visit(document.get("States")) else definition


@contextlib.contextmanager
def express_workflows() -> Iterator[None]:
    """EXPRESS distributed-map children, and Express definitions validated like Step Functions does.

    * moto's ASL grammar accepts only ``"ExecutionType": "STANDARD"`` in a ProcessorConfig, so a definition
      whose distributed Map runs EXPRESS children cannot even be created. Patched: the processor is checked
      with moto's own Express analyser (an Express child cannot use ``.sync`` or ``.waitForTaskToken``) and
      then run the way moto runs every distributed-map item, in the parent's interpreter.
    * moto's parser backend creates an EXPRESS state machine without its Express checks; patched to run them,
      so the emulator refuses what CreateStateMachine refuses.
    """
    from moto.stepfunctions.parser.api import InvalidDefinition
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.asl.static_analyser.express_static_analyser import ExpressStaticAnalyser
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    shipped_parse = AmazonStateLanguageParser.parse
    shipped_create = StepFunctionsParserBackend.create_state_machine

    def parse(definition: str) -> Any:
        # moto parses the definition (pure-Python ANTLR, ~0.1 s) on every create, execution and analysis.
        # The syntax tree is read-only, so it is parsed once per definition for the life of the process; the
        # evaluation components that executions mutate are built fresh from it each time, as moto does.
        checked = _express_processors_checked(definition)
        tree = _SYNTAX_TREES.get(checked)
        if tree is None:
            tree = shipped_parse(checked)[1]  # a syntax error raises, and is not kept
            if len(_SYNTAX_TREES) >= _SYNTAX_TREES_KEPT:
                _SYNTAX_TREES.clear()
            _SYNTAX_TREES[checked] = tree
        return Preprocessor().visit(tree), tree

    def create_state_machine(self: Any, name: str, definition: str, roleArn: str,  # noqa: N803 - moto's name
                             *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("sm_type") == "EXPRESS":
            try:
                ExpressStaticAnalyser().analyse(definition)
            except Exception as exc:  # the same wrapping moto applies to every definition error
                raise InvalidDefinition(message=str(exc)) from exc
        return shipped_create(self, name, definition, roleArn, *args, **kwargs)

    with (
        mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(parse)),
        mock.patch.object(StepFunctionsParserBackend, "create_state_machine", create_state_machine),
    ):
        yield


def _run_sync_express(account: str, region: str, parameters: dict) -> dict:
    """StartSyncExecution against moto's backend: start the Express execution, wait for it, answer in the
    aws-sdk integration's PascalCase (Status SUCCEEDED | FAILED | TIMED_OUT, Output as a JSON string)."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account][region]
    arn = parameters.get("StateMachineArn", "")
    if backend.describe_state_machine(arn).type != "EXPRESS":
        raise ValueError(f"StateMachineTypeNotSupported: StartSyncExecution needs an EXPRESS state machine: {arn}")
    child_input = parameters.get("Input", {})
    execution = backend.start_execution(arn, parameters.get("Name") or str(uuid.uuid4()),
                                        child_input if isinstance(child_input, str) else json.dumps(child_input))
    while execution.exec_status in (None, ExecutionStatus.RUNNING):
        time.sleep(0.02)
    status = {ExecutionStatus.SUCCEEDED: "SUCCEEDED", ExecutionStatus.TIMED_OUT: "TIMED_OUT"}.get(
        execution.exec_status, "FAILED")
    answer = {"ExecutionArn": execution.exec_arn, "StateMachineArn": arn, "Name": execution.name,
              "StartDate": execution.start_date.isoformat(), "Status": status,
              "StopDate": (execution.stop_date or execution.start_date).isoformat()}
    if status == "SUCCEEDED":
        answer["Output"] = json.dumps(execution.output)
    if execution.error is not None:
        answer["Error"] = execution.error
    if execution.cause is not None:
        answer["Cause"] = execution.cause
    return answer


@contextlib.contextmanager
def sync_express_executions() -> Iterator[None]:
    """``arn:aws:states:::aws-sdk:sfn:startSyncExecution`` runs the Express child and returns its result.

    moto has no StartSyncExecution handler ("Not yet implemented"), so the integration fails. Patched: the
    child runs in the same backend; like Step Functions, the task answers (Status FAILED, Error, Cause) when
    the child fails, and the caller's TimeoutSeconds still applies (the child then runs on to its own end).
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    shipped = StateTaskServiceAwsSdk._eval_service_task

    def eval_service_task(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                          state_credentials: Any) -> None:
        if (self.resource.api_name, self.resource.api_action) != ("sfn", "startSyncExecution"):
            shipped(self, env, resource_runtime_part, normalised_parameters, state_credentials)
            return
        env.stack.append(_run_sync_express(resource_runtime_part.account, resource_runtime_part.region,
                                           normalised_parameters))

    with mock.patch.object(StateTaskServiceAwsSdk, "_eval_service_task", eval_service_task):
        yield


@contextlib.contextmanager
def stopped_executions_stop_retrying() -> Iterator[None]:
    """A Retry wait ends when its execution is stopped, and the retry is not made.

    moto sleeps through a retrier's whole interval and then retries, even after StopExecution: a stopped
    run would still call the endpoint (and write) seconds later, unlike Step Functions. Patched: the wait
    checks the execution every 50 ms and gives up (no further attempt) once it is no longer running.
    """
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import MaxAttemptsOutcome
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import RetrierOutcome

    def eval_body(self: Any, env: Any) -> None:
        # moto 5.2.5's RetrierDecl._eval_body, with the interval slept in slices that end on a stop.
        self.error_equals.eval(env)
        if not env.stack.pop():
            env.stack.append(RetrierOutcome.Skipped)
            return
        self.max_attempts.eval(env=env)
        if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
            env.stack.append(RetrierOutcome.Failed)
            return
        self.interval_seconds.eval(env=env)
        self.backoff_rate.eval(env=env)
        self.max_delay_seconds.eval(env=env)
        self.jitter_strategy.eval(env=env)
        deadline = time.monotonic() + env.stack.pop()
        while env.is_running() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.05, left))
        env.stack.append(RetrierOutcome.Executed if env.is_running() else RetrierOutcome.Failed)

    with mock.patch.object(RetrierDecl, "_eval_body", eval_body):
        yield


@contextlib.contextmanager
def stoppable_waits() -> Iterator[None]:
    """``StopExecution`` aborts an execution that waits in a ``.waitForTaskToken`` task, as in AWS.

    moto sets the execution's stop flag but the task keeps waiting for its token (up to its
    TimeoutSeconds, 24 h for BatchTransform), and whatever error then ends the wait overwrites the stop:
    the execution stayed RUNNING and later ended FAILED. Patched: a stop wakes every waiting callback
    of that execution and wins over any error raised afterwards, so the execution ends ABORTED. (The
    history shows the woken task as TaskTimedOut before ExecutionAborted.)
    """
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    shipped_stop, shipped_error = Environment.set_stop, Environment.set_error

    def set_stop(self: Any, stop_date: Any, cause: str | None, error: str | None) -> None:
        shipped_stop(self, stop_date, cause, error)
        for endpoint in list(self.callback_pool_manager._pool.values()):
            endpoint.interrupt_all()

    def set_error(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return  # stopped first: the execution is ABORTED, not FAILED
        shipped_error(self, error)

    with mock.patch.object(Environment, "set_stop", set_stop), mock.patch.object(Environment, "set_error", set_error):
        yield


@contextlib.contextmanager
def result_path_needs_an_object() -> Iterator[None]:
    """``ResultPath: $.x`` on an input that is not a JSON object fails with ``States.ResultPathMatchFailure``.

    Step Functions cannot add a field to null, a list, a string or a number and fails the state with that
    (catchable) error; moto's JSONPath update returned the input unchanged and the execution went on
    without the result (an input of ``null`` ended as UnknownStrategy).
    """
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.common.path.result_path import ResultPath
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    shipped = ResultPath._eval_body

    def eval_body(self: Any, env: Any) -> None:
        state_input = env.states.get_input()
        if self.result_path_src not in (None, ResultPath.DEFAULT_PATH) and not isinstance(state_input, dict):
            kind = StatesErrorNameType.StatesResultPathMatchFailure
            raise FailureEventException(FailureEvent(
                env=env, error_name=StatesErrorName(typ=kind), event_type=HistoryEventType.TaskFailed,
                # moto declares EventDetails total; a history event (in AWS and in moto) carries one of its keys.
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(  # type: ignore[typeddict-item]
                    error=kind.to_name(),
                    cause=f"Unable to apply ResultPath {self.result_path_src} to input {json.dumps(state_input)}")),
            ))
        shipped(self, env)

    with mock.patch.object(ResultPath, "_eval_body", eval_body):
        yield


@contextlib.contextmanager
def workflow_emulation() -> Iterator[None]:
    """Everything the workflow needs from moto beyond ``execute_state_machine``.

    When it ends, executions still running are stopped and their threads given a few seconds to finish: moto
    runs each execution in a thread of its own, and one left behind (a run waiting for a token or a retry)
    would go on calling handlers and creating jobs in whatever state moto holds next, e.g. the next test's.
    """
    with (in_process_lambdas(), nested_executions(), distributed_map_failure_tolerance(), item_reader_listing(),
          stoppable_waits(), result_path_needs_an_object(), express_workflows(), sync_express_executions(),
          stopped_executions_stop_retrying()):
        try:
            yield
        finally:
            _end_running_executions()


def _end_running_executions(timeout_s: float = 10.0) -> None:
    from datetime import UTC, datetime

    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.stepfunctions.parser.utils import TMP_THREADS

    for account_backends in list(stepfunctions_parser_backends.values()):
        for backend in list(account_backends.values()):
            for execution in backend._get_executions(ExecutionStatus.RUNNING):  # noqa: SLF001 - moto's own lookup
                execution.stop(datetime.now(UTC), error="States.Aborted", cause="the emulator stopped")
    deadline = time.monotonic() + timeout_s
    for thread in list(TMP_THREADS):
        thread.join(max(0.0, deadline - time.monotonic()))


# --- SageMaker runtime behaviour -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One scripted answer of ``InvokeEndpoint``: a body, or an error code with its HTTP status."""

    body: str = '{"prediction": 1}'
    content_type: str = "application/json"
    error_code: str = ""
    status: int = 200
    delay_s: float = 0.0

    @classmethod
    def ok(cls, body: str = '{"prediction": 1}', delay_s: float = 0.0) -> Outcome:
        return cls(body=body, delay_s=delay_s)

    @classmethod
    def model_not_ready(cls) -> Outcome:
        return cls(error_code="ModelNotReadyException", status=429)

    @classmethod
    def server_error(cls) -> Outcome:
        return cls(error_code="InternalFailure", status=500)


@dataclass
class SageMakerScript:
    """Outcomes per endpoint name, consumed in order; ``default`` once a queue is empty.

    ``calls`` records (endpoint name, request body) for every invocation, so a test can check what
    the endpoint really received.
    """

    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    default: Outcome = field(default_factory=Outcome.ok)
    calls: list[tuple[str, bytes]] = field(default_factory=list)
    _queues: dict[str, deque] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    released: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def next_outcome(self, endpoint_name: str, body: bytes, region: str = "") -> Outcome:
        """Outcomes keyed ``"<region>/<name>"`` (same endpoint name in two regions) win over ``"<name>"``."""
        with self._lock:
            self.calls.append((endpoint_name, body))
            key = f"{region}/{endpoint_name}" if f"{region}/{endpoint_name}" in self.outcomes else endpoint_name
            queue = self._queues.setdefault(key, deque(self.outcomes.get(key, [])))
            return queue.popleft() if queue else self.default

    def calls_to(self, endpoint_name: str) -> int:
        return sum(1 for name, _ in self.calls if name == endpoint_name)


def _scripted_invoke_endpoint(script: SageMakerScript) -> Callable:
    from moto.core.exceptions import JsonRESTError

    class ScriptedRuntimeError(JsonRESTError):
        def __init__(self, outcome: Outcome, endpoint_name: str):
            super().__init__(outcome.error_code, f"scripted {outcome.error_code} for endpoint {endpoint_name}")
            self.code = outcome.status

    def invoke_endpoint(self: Any) -> tuple[int, dict[str, str], str]:
        # moto's own handler drops the endpoint name (it is in the path, /endpoints/<name>/invocations).
        endpoint_name = unquote(self.path.split("/")[2])
        body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
        outcome = script.next_outcome(endpoint_name, body, getattr(self, "region", ""))
        if outcome.delay_s:
            # An Event, not sleep: the context manager releases a "hung" endpoint when the test ends.
            script.released.wait(outcome.delay_s)
        if outcome.error_code:
            raise ScriptedRuntimeError(outcome, endpoint_name)
        return 200, {"Content-Type": outcome.content_type, "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, \
            outcome.body

    return invoke_endpoint


@contextlib.contextmanager
def scripted_sagemaker_runtime(script: SageMakerScript) -> Iterator[SageMakerScript]:
    """Make moto's sagemaker-runtime ``InvokeEndpoint`` follow ``script`` (moto in this process only)."""
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    with mock.patch.object(SageMakerRuntimeResponse, "invoke_endpoint", _scripted_invoke_endpoint(script)):
        try:
            yield script
        finally:
            script.released.set()
