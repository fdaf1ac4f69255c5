"""BatchCallback Lambda, target of the "SageMaker Transform Job State Change" EventBridge rule.

Completes the waiting execution of a finished transform job exactly once, with a Step Functions client
in the token's home region, after claiming the token in that region's replica of the state table (two
regions racing for one replicated token: one completes it, the other finds it already done).
Jobs without a stored token (not started by this workflow) are ignored.
A transient delivery error re-raises (EventBridge retries the event; the token was put back); a token
that can no longer be delivered stays in the table marked UNDELIVERABLE, with a metric and a log line.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from inference_platform.shared.clients import client, table
from inference_platform.workflow.batch import complete_from_event, parse_event
from inference_platform.workflow.config import CallbackConfig
from inference_platform.workflow.state_store import TokenStore

logger = Logger()
metrics = Metrics()  # namespace and service: POWERTOOLS_METRICS_NAMESPACE / POWERTOOLS_SERVICE_NAME (template)


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict, context: Any) -> dict:
    config = CallbackConfig.from_env()
    transform = parse_event(event)
    outcome = complete_from_event(
        transform, TokenStore(table(config.state_table)), lambda region: client("stepfunctions", region), _count,
        store_in_region=lambda region: TokenStore(table(config.state_table, region)),
    )
    if outcome.action == "undeliverable":
        logger.error("task token could not be delivered; item kept in the state table", extra=asdict(outcome))
    else:
        logger.info("transform job state change handled", extra=asdict(outcome))
    return asdict(outcome)
