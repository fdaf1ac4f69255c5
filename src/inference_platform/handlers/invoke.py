"""Invoke Lambda: ``{"key", "target": "provisioned"|"serverless", "attempt"}`` -> the written output's key.

Single region: sagemaker-runtime directly. With ``SECONDARY_REGION`` set: ``CrossRegionClient`` (one per
warm Lambda, so its circuit breakers remember earlier calls).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from inference_platform.resilience.cross_region import CrossRegionClient, default_client_factory
from inference_platform.shared.clients import ClientOptions, client, current_region, table
from inference_platform.workflow.cancellation import is_cancelled
from inference_platform.workflow.config import InvokeConfig
from inference_platform.workflow.invocation import (
    AttemptRecord,
    EndpointInvoker,
    ModelNotReadyException,
    cross_region_invoker,
    invoke_file,
    single_region_invoker,
)

logger = Logger()
metrics = Metrics()  # namespace and service: POWERTOOLS_METRICS_NAMESPACE / POWERTOOLS_SERVICE_NAME (template)
TARGETS = ("provisioned", "serverless")
_CROSS_REGION: dict[tuple, Any] = {}

__all__ = ["ModelNotReadyException", "handler"]


# One attempt per region: Step Functions owns the retries of this task (no SDK retries stacked on them), and
# the template's time budget (connect + read, per region; inference_platform_ops.guard.asl_bounds) counts exactly
# this many.
SDK_ATTEMPTS_PER_REGION = 1


def _runtime_options(connect_timeout_s: int, read_timeout_s: int) -> ClientOptions:
    return ClientOptions(connect_timeout=connect_timeout_s, read_timeout=read_timeout_s,
                         max_attempts=SDK_ATTEMPTS_PER_REGION)


def _invoker(config: InvokeConfig, target: str) -> EndpointInvoker:
    endpoint = config.endpoints[target]
    if not endpoint:
        raise ValueError(f"target {target!r} is not enabled in this deployment (no endpoint name configured)")
    region = current_region()
    secondary_endpoint = config.secondary_endpoints[target]
    # Single region when no secondary is configured, when this stack IS the secondary, or when the template
    # gave no endpoint name for the secondary (that target is not deployed there).
    component = config.inference_components.get(target, "")
    if not config.secondary_region or config.secondary_region == region or not secondary_endpoint:
        options = _runtime_options(config.connect_timeout_s, config.read_timeout_s)
        return single_region_invoker(client("sagemaker-runtime", region, options), endpoint, region,
                                     inference_component=component)
    key = (region, config.secondary_region, endpoint, secondary_endpoint, component)
    if key not in _CROSS_REGION:
        # The secondary's endpoint is called without the component: a tier 2 standby is serverless (and a
        # component's name is never assumed to exist in the other region).
        _CROSS_REGION[key] = CrossRegionClient(
            primary_region=region,
            secondary_region=config.secondary_region,
            endpoint_names={region: endpoint, config.secondary_region: secondary_endpoint},
            client_factory=default_client_factory(connect_timeout=float(config.connect_timeout_s),
                                                  read_timeout=float(config.read_timeout_s),
                                                  max_attempts=SDK_ATTEMPTS_PER_REGION),
            metrics=metrics,
            inference_components={region: component},
        )
    return cross_region_invoker(_CROSS_REGION[key])


def record_attempt(attempt: AttemptRecord, target: str) -> None:
    """One EMF record per attempt (= per invocation: Step Functions' retries are separate invocations)."""
    metrics.add_dimension(name="Target", value=target)
    metrics.add_metric(name="InvocationLatency", unit=MetricUnit.Milliseconds, value=attempt.latency_ms)
    if attempt.cold_start_suspected:
        metrics.add_metric(name="ColdStartSuspected", unit=MetricUnit.Count, value=1)
    if not attempt.succeeded:
        metrics.add_metric(name="InvocationFailed", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict, context: Any) -> dict:
    config = InvokeConfig.from_env()
    target = event.get("target")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    request = event.get("request")
    cancelled = (lambda: is_cancelled(table(config.state_table), str(request))) if request and config.state_table \
        else (lambda: False)
    result = invoke_file(
        client("s3"), config.input_location, input_prefix=config.input_prefix, output_prefix=config.output_prefix,
        key=event.get("key"), content_type=config.content_type, invoker=_invoker(config, target),
        record=lambda attempt: record_attempt(attempt, target), attempt=int(event.get("attempt", 0)),
        cancelled=cancelled,
    )
    logger.info("invoked", extra=result)
    return result
