"""Lambda entry point of the idle-endpoint detector (run hourly by EventBridge).

Thin on purpose: settings from the environment, one scan (idle_scan.run_scan), EMF metrics and
an optional SNS summary. The scan itself is tested directly against moto.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from inference_platform.idle.config import IdleDetectorSettings
from inference_platform.idle.inventory import AWS_ERRORS, describe_error
from inference_platform.idle.scan import AwsClients, run_scan

SNS_MESSAGE_LIMIT = 256 * 1024

logger = Logger(service="idle-detector")
metrics = Metrics()  # namespace and service: POWERTOOLS_METRICS_NAMESPACE / POWERTOOLS_SERVICE_NAME (template)


@metrics.log_metrics
def handler(event, context) -> dict:
    """Scheduled-event handler; the event carries nothing the scan needs."""
    summary = detect(IdleDetectorSettings.from_env(), AwsClients.for_region(), datetime.now(UTC))
    emit_metrics(summary)
    return summary


def detect(settings: IdleDetectorSettings, clients: AwsClients, now: datetime) -> dict:
    """One scan plus its SNS summary (metrics are the handler's, flushed by log_metrics)."""
    summary = run_scan(clients, settings, now)
    if settings.summary_topic_arn:
        publish_summary(clients.sns, settings.summary_topic_arn, summary)
    logger.info("idle scan finished", extra={"summary": summary})
    return summary


def emit_metrics(summary: dict) -> None:
    metrics.add_dimension(name="Environment", value=summary["environment"])
    metrics.add_metric(name="EndpointsScanned", unit=MetricUnit.Count, value=summary["scanned"])
    metrics.add_metric(name="EndpointsIdle", unit=MetricUnit.Count, value=len(summary["idle"]))
    metrics.add_metric(name="EndpointsActedOn", unit=MetricUnit.Count, value=summary["acted"])
    metrics.add_metric(name="ScanErrors", unit=MetricUnit.Count, value=len(summary["errors"]))
    savings = summary["estimated_hourly_savings_usd"]
    metrics.add_metric(name="EstimatedHourlySavingsUsd", unit=MetricUnit.NoUnit, value=savings)


def summary_message(summary: dict) -> str:
    """The summary as JSON; when it exceeds SNS's 256 KB the lists are cut and the cut is said."""
    message = json.dumps(summary, default=str, indent=1)
    if len(message.encode()) <= SNS_MESSAGE_LIMIT - 1024:
        return message
    short = dict(summary)
    for key in ("idle", "actions", "skipped", "errors"):
        short[key] = summary[key][:50]
        short[f"{key}_total"] = len(summary[key])
    short["truncated"] = "lists cut to 50 entries each to fit an SNS message; the full summary is in the logs"
    return json.dumps(short, default=str)


def publish_summary(sns, topic_arn: str, summary: dict) -> None:
    mode = "dry run" if summary["dry_run"] else "applied"
    subject = (
        f"Idle endpoints {summary['environment']}/{summary['region']}: {len(summary['idle'])} idle, "
        f"{len(summary['actions'])} actions ({mode}), {len(summary['errors'])} errors"
    )[:100]
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=summary_message(summary))
    except AWS_ERRORS as exc:
        # The scan already happened; losing the e-mail must not hide its result.
        summary["errors"].append({"endpoint": None, "operation": "Publish", "error": describe_error(exc)})
        logger.exception("could not publish the idle summary")
