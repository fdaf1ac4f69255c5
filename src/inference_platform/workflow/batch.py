"""Batch transform: start a job for a waiting execution, and complete the execution when the job ends.

``start_transform`` stores the task token first and then creates the job, so a job that finishes at
once still finds its token. ``complete_from_event`` delivers each token exactly once and never drops
a token it could not deliver: the item stays, with its status, for an operator or a retried event.

Exactly once across regions: the state table is a global table, and a conditional write is only
conditional within one replica (replicas reconcile last-writer-wins), so two regions that each claim
their own copy could both win. The token is therefore claimed, marked and released only in its home
region's replica (the region of its execution, the only one where Step Functions accepts it): the
local replica is read just to learn that region.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from inference_platform.workflow.config import StartBatchConfig
from inference_platform.workflow.state_store import WAITING, TokenStore

TERMINAL_STATUSES = {"Completed": "success", "Failed": "failure", "Stopped": "failure"}
# The token is gone for good: the execution ended, timed out, or the token is malformed.
PERMANENT_TOKEN_ERRORS = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}
_JOB_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")


def transform_job_name(prefix: str, execution_arn: str) -> str:
    """Deterministic per execution (a retried StartBatch finds its own job) and valid for SageMaker (<= 63)."""
    digest = hashlib.sha256(execution_arn.encode()).hexdigest()[:16]
    clean = _JOB_NAME_UNSAFE.sub("-", prefix).strip("-")[: 63 - len(digest) - 1] or "batch"
    return f"{clean}-{digest}"


def s3_uri(location: str, prefix: str) -> str:
    return f"s3://{location}/{prefix}"


def start_transform(sagemaker: Any, store: TokenStore, config: StartBatchConfig, *, task_token: str,
                    execution_arn: str, home_region: str) -> dict:
    if not task_token:
        raise ValueError("task_token is required (pass $$.Task.Token)")
    if not execution_arn:
        raise ValueError("execution_arn is required (pass $$.Execution.Id)")
    job_name = transform_job_name(config.job_name_prefix, execution_arn)
    store.put_waiting(job_name, task_token, home_region, execution_arn, config.token_ttl_days)
    output_path = s3_uri(config.input_location, f"{config.output_prefix}batch/{job_name}/")
    try:
        sagemaker.create_transform_job(
            TransformJobName=job_name,
            ModelName=config.model_name,
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                "S3Uri": s3_uri(config.input_location, config.input_prefix)}},
                "ContentType": config.content_type,
                "SplitType": "None",
            },
            TransformOutput={"S3OutputPath": output_path, "AssembleWith": "None"},
            TransformResources={"InstanceType": config.instance_type, "InstanceCount": config.instance_count},
            Tags=[{"Key": "Environment", "Value": config.environment},
                  {"Key": "ExecutionName", "Value": execution_arn.rsplit(":", 1)[-1][:256]}],
        )
    except ClientError as exc:
        # A retried StartBatch of the same execution: the job exists already, keep waiting for it.
        message = exc.response.get("Error", {}).get("Message", "")
        if "already exist" not in message.lower() and "in use" not in message.lower():
            raise
    return {"transform_job_name": job_name, "output_path": output_path}


@dataclass(frozen=True)
class TransformEvent:
    job_name: str
    status: str
    failure_reason: str
    output_path: str


def parse_event(event: Any) -> TransformEvent:
    """The EventBridge "SageMaker Transform Job State Change" event."""
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise ValueError("event has no 'detail' object: not a SageMaker Transform Job State Change event")
    detail = event["detail"]
    name, status = detail.get("TransformJobName"), detail.get("TransformJobStatus")
    if not name or not status:
        raise ValueError("event detail needs TransformJobName and TransformJobStatus")
    output = (detail.get("TransformOutput") or {}).get("S3OutputPath", "")
    return TransformEvent(str(name), str(status), str(detail.get("FailureReason") or ""), str(output))


@dataclass(frozen=True)
class CallbackOutcome:
    job_name: str
    action: str  # ignored | delivered | duplicate | undeliverable
    detail: str = ""


def complete_from_event(event: TransformEvent, store: TokenStore, sfn_for_region: Callable[[str], Any],
                        count: Callable[[str], None], *,
                        store_in_region: Callable[[str], TokenStore] | None = None) -> CallbackOutcome:
    """Deliver the token of ``event``'s job. ``store`` is this region's replica; ``store_in_region(region)``
    gives the replica of another region (None: a single-region table, ``store`` is the home replica)."""
    kind = TERMINAL_STATUSES.get(event.status)
    if kind is None:
        count("TransformEventIgnored")
        return CallbackOutcome(event.job_name, "ignored", f"status {event.status} is not terminal")
    record = store.get(event.job_name)
    if record is None:
        count("TransformEventIgnored")
        return CallbackOutcome(event.job_name, "ignored", "no task token stored for this job (not ours)")
    if store_in_region is not None:
        # Claim where the token lives; a strongly consistent read there also sees a claim the local
        # replica has not received yet.
        store = store_in_region(record.home_region)
        record = store.get(event.job_name) or record
    if record.status != WAITING or not store.claim(event.job_name):
        count("TokenAlreadyHandled")
        return CallbackOutcome(event.job_name, "duplicate", f"token already {record.status.lower()}")
    sfn = sfn_for_region(record.home_region)
    try:
        if kind == "success":
            sfn.send_task_success(taskToken=record.task_token, output=json.dumps(
                {"transform_job_name": event.job_name, "status": event.status, "output_path": event.output_path}))
        else:
            sfn.send_task_failure(taskToken=record.task_token, error=f"TransformJob{event.status}",
                                  cause=(event.failure_reason or f"transform job {event.status}")[:32_000])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in PERMANENT_TOKEN_ERRORS:
            store.mark_undeliverable(event.job_name, f"{code}: {exc}")
            count("TokenUndeliverable")
            return CallbackOutcome(event.job_name, "undeliverable", code)
        store.release(event.job_name)  # transient: leave it WAITING for the retried event
        count("TokenDeliveryRetried")
        raise
    except BotoCoreError:
        # Home region unreachable (connection error, timeout): never keep the claim, or the retried
        # event would see a "duplicate" and the token would be stuck CLAIMED for good.
        store.release(event.job_name)
        count("TokenDeliveryRetried")
        raise
    store.mark_delivered(event.job_name)
    count("TokenDelivered")
    return CallbackOutcome(event.job_name, "delivered", kind)
