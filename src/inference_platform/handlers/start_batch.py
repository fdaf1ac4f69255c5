"""StartBatch Lambda (``lambda:invoke.waitForTaskToken``): create the transform job, park the token.

Event: ``{"task_token": $$.Task.Token, "execution_arn": $$.Execution.Id, ...}``. The token's home region
is the region of the execution (from its ARN), which is where it must be completed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from inference_platform.shared.clients import client, table
from inference_platform.workflow.batch import start_transform
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
    store = TokenStore(table(config.state_table))
    result = start_transform(client("sagemaker"), store, config, task_token=str(event.get("task_token", "")),
                             execution_arn=execution_arn, home_region=home_region_of(execution_arn))
    logger.info("transform job started", extra={**result, "fallback": bool(event.get("fallback_reason"))})
    return result

