"""The batch path, run locally: transform jobs that transform, and EventBridge rules that invoke Lambda.

moto 5.2.5 marks a transform job ``Completed`` the moment it is created, writes nothing and emits no
event; and its EventBridge delivers to SQS, logs and buses but never to a Lambda function. So locally a
batch execution waited for a "SageMaker Transform Job State Change" that never came. With
``local_batch()``:

* ``CreateTransformJob`` starts the job ``InProgress`` and runs it on a thread: every object under the
  input ``S3Uri`` goes through :func:`fake_model`, its answer lands under ``S3OutputPath`` as
  ``<relative key>.out`` (SageMaker's naming), then the job is ``Completed`` -- or ``Failed`` with a
  ``FailureReason`` when the model is unknown or an input is not valid JSON -- and the state-change
  event is put on the default event bus of the job's region, as SageMaker does.
* EventBridge rules deliver to Lambda targets, asynchronously, and only if the function's resource
  policy lets ``events.amazonaws.com`` invoke it from that rule (the ``AWS::Lambda::Permission`` the
  template declares); a failed invocation is retried up to the target's ``RetryPolicy`` (at most 2 here,
  0.2 s apart). The function runs in-process through ``emulator.lambdas.run_function``.
* ``InvokeEndpoint`` answers with :func:`fake_model` for an endpoint that exists and is ``InService``
  in that region, and ``ValidationError`` otherwise (moto answers ``b"body"`` whatever the name).

Used by the emulator (``local_aws.install_patches``) and by tests; never by real deploys.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import unquote

LOG = logging.getLogger("inference_platform_ops.emulator")
TRANSFORM_EVENT = "SageMaker Transform Job State Change"
_JOB_THREADS: list[threading.Thread] = []


class ModelInputError(ValueError):
    """The fake model refuses an input (as a model container answers 4xx for a malformed request)."""


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def fake_model(model: str, body: bytes, content_type: str) -> bytes:
    """The local stand-in for a model container: the sum of every number in a JSON request.

    Deterministic, so a test can check that each output belongs to its input. Anything whose content type
    says JSON but does not parse is refused (the job fails, the endpoint answers an error).
    """
    if "json" in (content_type or "application/json"):
        try:
            request = json.loads(body or b"null")
        except (UnicodeDecodeError, ValueError) as exc:
            raise ModelInputError(f"request is not valid JSON ({exc})") from exc
        return json.dumps({"model": model, "prediction": sum(_numbers(request))}).encode()
    return json.dumps({"model": model, "received_bytes": len(body)}).encode()


# --- transform jobs -----------------------------------------------------------------------------------

def _s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _run_transform_job(backend: Any, job: Any) -> None:
    from inference_platform_ops.emulator.cfn_resources import client

    region, s3 = backend.region_name, client("s3", backend.region_name)
    status, reason = "Completed", ""
    try:
        if job.model_name not in backend._models:
            raise ModelInputError(f"Could not find model \"{job.model_name}\"")
        source = job.transform_input["DataSource"]["S3DataSource"]
        bucket, prefix = _s3_location(source["S3Uri"])
        out_bucket, out_prefix = _s3_location(job.transform_output["S3OutputPath"])
        out_prefix = out_prefix if not out_prefix or out_prefix.endswith("/") else out_prefix + "/"
        content_type = job.transform_input.get("ContentType") or "application/json"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue  # a folder marker is not an input
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                try:
                    answer = fake_model(job.model_name, body, content_type)
                except ModelInputError as exc:
                    raise ModelInputError(f"ClientError: s3://{bucket}/{key}: {exc}") from exc
                relative = key[len(prefix):] if prefix.endswith("/") else key.rsplit("/", 1)[-1]
                s3.put_object(Bucket=out_bucket, Key=f"{out_prefix}{relative}.out", Body=answer,
                              ContentType="application/json")
    except Exception as exc:  # any failure is the job's, reported as SageMaker does: Failed + FailureReason
        status, reason = "Failed", str(exc)[:1024]
    job.transform_job_status, job.failure_reason = status, reason
    job.transform_end_time = job.last_modified_time = _now()
    _emit_state_change(backend.account_id, region, job)


def _now() -> Any:
    from moto.core.utils import utcnow

    return utcnow()


def _emit_state_change(account_id: str, region: str, job: Any) -> None:
    from moto.events.models import events_backends

    detail = {"TransformJobName": job.transform_job_name, "TransformJobArn": job.arn,
              "TransformJobStatus": job.transform_job_status, "ModelName": job.model_name,
              "TransformInput": job.transform_input, "TransformOutput": job.transform_output,
              "TransformResources": job.transform_resources}
    if job.failure_reason:
        detail["FailureReason"] = job.failure_reason
    events_backends[account_id][region].put_events([{
        "Source": "aws.sagemaker", "DetailType": TRANSFORM_EVENT, "Detail": json.dumps(detail, default=str),
        "Resources": [job.arn]}])


def _transform_jobs() -> Any:
    from moto.sagemaker.models import SageMakerModelBackend

    shipped = SageMakerModelBackend.create_transform_job

    def create_transform_job(self: Any, transform_job_name: str, *args: Any, **kwargs: Any) -> Any:
        job = shipped(self, transform_job_name, *args, **kwargs)
        job.transform_job_status = "InProgress"
        thread = threading.Thread(target=_run_transform_job, args=(self, job), daemon=True,
                                  name=f"transform-{transform_job_name}")
        _JOB_THREADS.append(thread)
        thread.start()
        return job

    return mock.patch.object(SageMakerModelBackend, "create_transform_job", create_transform_job)


def wait_for_jobs(timeout_s: float = 10.0) -> None:
    """Let running local jobs (and the deliveries they trigger) finish, e.g. before a test's mock ends."""
    deadline = time.monotonic() + timeout_s
    while _JOB_THREADS:
        thread = _JOB_THREADS.pop()
        thread.join(max(0.0, deadline - time.monotonic()))


# --- EventBridge -> Lambda --------------------------------------------------------------------------

def _may_invoke(function: Any, rule_arn: str) -> bool:
    """True when the function's resource policy lets EventBridge invoke it from this rule."""
    for statement in function.policy.statements:
        principal = statement.get("Principal") or {}
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") != "Allow" or service != "events.amazonaws.com":
            continue
        if not {"lambda:InvokeFunction", "lambda:*"} & set(actions):
            continue
        source = (statement.get("Condition") or {}).get("ArnLike", {}).get("AWS:SourceArn")
        if source in (None, rule_arn):
            return True
    return False


def _deliver(rule: Any, target: dict, event: dict) -> None:
    from moto.awslambda.models import lambda_backends

    from inference_platform_ops.emulator.lambdas import run_function

    arn = target["Arn"]
    parts = arn.split(":")
    backend = lambda_backends[parts[4]][parts[3]]
    try:
        function = backend.get_function(arn)
    except Exception:
        LOG.warning("EMULATOR: rule %s: target %s does not exist; event dropped", rule.name, arn)
        return
    if not _may_invoke(function, rule.arn):
        LOG.warning("EMULATOR: rule %s may not invoke %s (no lambda:InvokeFunction permission for "
                    "events.amazonaws.com from this rule); event dropped", rule.name, function.function_name)
        return
    payload = json.loads(target["Input"]) if target.get("Input") else event
    retries = min(int((target.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 2)), 2)
    for attempt in range(retries + 1):
        answer, raised = run_function(function, payload)
        if not raised:
            return
        LOG.warning("EMULATOR: %s failed on event %s (attempt %d): %s", function.function_name,
                    event.get("id"), attempt + 1, answer[:500])
        time.sleep(0.2)


def _lambda_targets() -> Any:
    from moto.events.models import Rule
    from moto.events.utils import EventMessageType

    shipped = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: EventMessageType, transform_input: bool = True) -> None:
        functions = [t for t in self.targets if t["Arn"].startswith("arn:aws:lambda:")]
        if len(functions) < len(self.targets):  # moto's own targets (SQS, logs, buses); it raises on Lambda
            others = copy.copy(self)
            others.targets = [t for t in self.targets if t not in functions]
            shipped(others, original_event, transform_input)
        if getattr(self, "state", "ENABLED") != "ENABLED" or not self.event_pattern.get_pattern():
            return  # disabled, or a schedule rule (no pattern): it never runs on events
        if not self.event_pattern.matches_event(original_event):
            return
        for target in functions:
            thread = threading.Thread(target=_deliver, args=(self, target, dict(original_event)), daemon=True,
                                      name=f"events-{self.name}")
            _JOB_THREADS.append(thread)
            thread.start()  # EventBridge invokes Lambda asynchronously

    return mock.patch.object(Rule, "send_to_targets", send_to_targets)


# --- InvokeEndpoint ---------------------------------------------------------------------------------

def _fake_endpoints() -> Any:
    from moto.core.exceptions import JsonRESTError
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    def invoke_endpoint(self: Any) -> tuple[int, dict[str, str], bytes]:
        name = unquote(self.path.split("/")[2])
        endpoint = sagemaker_backends[self.current_account][self.region].endpoints.get(name)
        if endpoint is None or endpoint.endpoint_status != "InService":
            raise JsonRESTError("ValidationError", f"Endpoint {name} of account {self.current_account} not found.")
        body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
        try:
            answer = fake_model(name, body, self.headers.get("Content-Type", ""))
        except ModelInputError as exc:
            error = JsonRESTError("ModelError", f"Received client error (400) from primary with message \"{exc}\"")
            error.code = 424
            raise error from exc
        return 200, {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "AllTraffic"}, answer

    return mock.patch.object(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)


@contextlib.contextmanager
def local_batch() -> Iterator[None]:
    """Transform jobs that run, EventBridge -> Lambda delivery, and a fake model behind InvokeEndpoint."""
    with _transform_jobs(), _lambda_targets(), _fake_endpoints():
        try:
            yield
        finally:
            wait_for_jobs()
