"""StartBatch Lambda (``lambda:invoke.waitForTaskToken``): create the transform job, park the token.

Event: ``{"task_token": $$.Task.Token, "execution_arn": $$.Execution.Id, "request": $}``. The token's home
region is the region of the execution (from its ARN), which is where it must be completed. When the batch
job replaces a real-time run (``request.fallback_reason``), that run is made inert first
(:mod:`inference_platform.workflow.cancellation`).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from inference_platform.shared.clients import client, table
from inference_platform.workflow.batch import start_transform
from inference_platform.workflow.cancellation import cancel_run, replaced_run
from inference_platform.workflow.config import StartBatchConfig
from inference_platform.workflow.state_store import TokenStore

logger = Logger()


def home_region_of(execution_arn: str) -> str:
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[2] != "states" or not parts[3]:
        raise ValueError(f"execution_arn is not a Step Functions execution ARN: {execution_arn!r}")
    return parts[3]


@logger.inject_lambda_context
def handler(event: dict, context: Any) -> dict:
    config = StartBatchConfig.from_env()
    execution_arn = str(event.get("execution_arn", ""))
    state_table = table(config.state_table)
    store = TokenStore(state_table)
    request = event.get("request")
    replaced = replaced_run(request, execution_arn)
    cancelled = None
    if replaced and isinstance(request, dict):  # replaced_run names a run only for a dict request
        own_run = not request.get("replaces")
        cancelled = cancel_run(state_table, client("stepfunctions"), replaced,
                               reason=json.dumps(request.get("fallback_reason"), default=str),
                               stop_prefix=config.invoke_files_execution_prefix if own_run else "",
                               ttl_days=config.token_ttl_days)
    result = start_transform(client("sagemaker"), store, config, task_token=str(event.get("task_token", "")),
                             execution_arn=execution_arn, home_region=home_region_of(execution_arn))
    logger.info("transform job started", extra={**result, "replaces": cancelled})
    return result

