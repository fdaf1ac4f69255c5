"""One scan of the region's endpoints: find the idle ones and act on them (or say what would be done).

Every InService endpoint ends in exactly one place of the summary: counted as active, listed in
`skipped` (too young for the window), listed in `idle` (then in `actions` or `skipped`), or listed
in `errors` when it could not be evaluated. An error acting on an idle endpoint lists it in both
`idle` and `errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from inference_platform.idle.actions import FLOOR_INSTANCES, Plan, apply_plan, delete_refusals, plan_action
from inference_platform.idle.config import AutoStopAction, IdleDetectorSettings
from inference_platform.idle.inventory import (
    AWS_ERRORS,
    VARIANT_DIMENSION,
    Endpoint,
    InvocationCounts,
    VariantKey,
    describe_error,
    instance_types,
    invocation_counts,
    scalable_targets,
    search_in_service_endpoints,
    variant_resource_id,
)
from inference_platform.idle.schedules import RECORD_TAGS, Suspension, may_suspend, recorded_suspension, resume_reason
from inference_platform.shared import pricing
from inference_platform.shared.clients import ClientOptions, client

# Standard mode retries throttling and transient errors with backoff; what still fails is recorded.
RETRY_OPTIONS = ClientOptions(max_attempts=5)


@dataclass(frozen=True)
class AwsClients:
    # boto3 clients (untyped: see [tool.mypy.overrides]).
    sagemaker: Any
    cloudwatch: Any
    autoscaling: Any
    sns: Any | None = None

    @classmethod
    def for_region(cls, region: str | None = None, options: ClientOptions = RETRY_OPTIONS) -> AwsClients:
        def make(service: str) -> Any:
            return client(service, region, options)

        return cls(
            sagemaker=make("sagemaker"),
            cloudwatch=make("cloudwatch"),
            autoscaling=make("application-autoscaling"),
            sns=make("sns"),
        )


class _Summary:
    def __init__(self, settings: IdleDetectorSettings, region: str) -> None:
        self.settings = settings
        self.region = region
        self.scanned = 0
        self.active = 0
        self.idle: list[str] = []
        self.actions: list[dict] = []
        self.skipped: list[dict] = []
        self.errors: list[dict] = []
        self.resumed: list[dict] = []

    def skip(self, endpoint: str, reason: str) -> None:
        self.skipped.append({"endpoint": endpoint, "reason": reason})

    def error(self, endpoint: str | None, operation: str, exc_or_text: BaseException | str) -> None:
        text = exc_or_text if isinstance(exc_or_text, str) else describe_error(exc_or_text)
        self.errors.append({"endpoint": endpoint, "operation": operation, "error": text})

    def as_dict(self) -> dict:
        savings = [a["hourly_savings_usd"] for a in self.actions if a["hourly_savings_usd"] is not None]
        return {
            "environment": self.settings.environment,
            "region": self.region,
            "dry_run": self.settings.dry_run,
            "auto_stop_action": self.settings.auto_stop_action.value,
            "idle_window_hours": self.settings.idle_window_hours,
            "scanned": self.scanned,
            "active": self.active,
            "idle": sorted(self.idle),
            "actions": self.actions,
            "skipped": self.skipped,
            "errors": self.errors,
            "schedules_resumed": self.resumed,
            "acted": sum(1 for a in self.actions if a["applied"]),
            "estimated_hourly_savings_usd": round(sum(savings), 4),
        }


def run_scan(clients: AwsClients, settings: IdleDetectorSettings, now: datetime) -> dict:
    """Scan every InService endpoint of the clients' region and act on the idle ones."""
    region = clients.sagemaker.meta.region_name
    summary = _Summary(settings, region)
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(hours=settings.idle_window_hours)

    endpoints = search_in_service_endpoints(clients.sagemaker)
    summary.scanned = len(endpoints)

    old = []
    for e in endpoints:
        if e.created > start:
            summary.skip(e.name, f"younger than the {settings.idle_window_hours} h idle window: not judged idle yet")
        else:
            old.append(e)

    keys = [(e.name, v.name) for e in old for v in e.variants]
    counts = invocation_counts(clients.cloudwatch, keys, start, end)
    active = {key[0] for key in keys if counts.sums.get(key, 0.0) > 0}
    resumed = _resume_schedules(clients, settings, endpoints, active=active, now=now, summary=summary)
    idle = []
    for e in _split_active(old, keys, counts, summary):
        summary.idle.append(e.name)
        protection = e.tags.get(settings.protection_tag_key)
        if settings.is_protected_value(protection):
            summary.skip(e.name, f"protected by tag {settings.protection_tag_key}={protection}")
        else:
            idle.append(e)

    try:
        targets = _targets_for(clients.autoscaling, idle)
    except AWS_ERRORS as exc:  # a scale-down the schedule could undo is no saving: act on nothing
        return _all_failed(summary, idle, "DescribeScalableTargets", exc)
    idle = _with_instance_types(clients.sagemaker, settings, idle, summary)

    price = _price_lookup(region)
    lead = timedelta(minutes=settings.resume_lead_minutes)
    suspending_allowed = may_suspend(now, settings.business_hours, lead)
    for e in idle:
        if e.name in resumed:
            summary.skip(e.name, "its schedules were just given back; not suspended again in the same scan")
            continue
        plan = plan_action(settings, e.name, tags=e.tags, variants=e.variants, targets=targets, price=price,
                           may_suspend=suspending_allowed)
        why = f"no invocations in {settings.idle_window_hours} h - action {settings.auto_stop_action.value}"
        plan = replace(plan, endpoint_arn=e.arn, suspension=Suspension(e.name, settings.detector_name, now, why))
        _carry_out(plan, clients, settings, summary)
    return summary.as_dict()


def _resume_schedules(clients: AwsClients, settings: IdleDetectorSettings, endpoints: list[Endpoint], *,
                      active: set[str], now: datetime, summary: _Summary) -> set[str]:
    """Give back the scheduled scaling this detector suspended (recorded in the endpoint's tags) once the
    endpoint is active again or business hours are about to start; names of the endpoints given back."""
    lead = timedelta(minutes=settings.resume_lead_minutes)
    due: list[tuple[Endpoint, Suspension, str]] = []
    for e in endpoints:
        suspension = recorded_suspension(e.name, e.tags)
        if suspension is None:
            continue
        reason = resume_reason(suspension, now=now, active=e.name in active, hours=settings.business_hours,
                               resume_lead=lead)
        if reason is not None:
            due.append((e, suspension, reason))
    if not due:
        return set()
    try:
        targets = _targets_for(clients.autoscaling, [e for e, _, _ in due])
    except AWS_ERRORS as exc:
        for e, _, _ in due:
            summary.error(e.name, "DescribeScalableTargets", exc)
        return set()
    resumed = set()
    for e, suspension, reason in due:
        ids = [variant_resource_id(e.name, v.name) for v in e.variants if not v.serverless]
        held = [targets[i] for i in ids if i in targets and targets[i].scheduled_scaling_suspended]
        entry = {"endpoint": e.name, "targets": [t.resource_id for t in held], "why": reason,
                 "suspended_by": suspension.suspended_by, "suspended_at": suspension.suspended_at.isoformat(),
                 "applied": not settings.dry_run}
        if not settings.dry_run:
            try:
                for target in held:
                    clients.autoscaling.register_scalable_target(
                        ServiceNamespace="sagemaker", ResourceId=target.resource_id,
                        ScalableDimension=VARIANT_DIMENSION,
                        MinCapacity=target.min_capacity, MaxCapacity=target.max_capacity,
                        SuspendedState={**{k: bool(v) for k, v in target.suspended.items()},
                                        "ScheduledScalingSuspended": False})
                # The record goes last: if anything above failed, the next scan tries again.
                clients.sagemaker.delete_tags(ResourceArn=e.arn, TagKeys=list(RECORD_TAGS))
            except AWS_ERRORS as exc:
                summary.error(e.name, getattr(exc, "operation_name", None) or type(exc).__name__, exc)
                continue
        summary.resumed.append(entry)
        resumed.add(e.name)
    return resumed


def _all_failed(summary: _Summary, endpoints: list[Endpoint], operation: str, exc: BaseException) -> dict:
    for e in endpoints:
        summary.error(e.name, operation, exc)
    return summary.as_dict()


def _split_active(
    endpoints: list[Endpoint], keys: list[VariantKey], counts: InvocationCounts, summary: _Summary
) -> list[Endpoint]:
    """Count endpoints with traffic on any measured variant as active, record the ones whose
    measurement failed as errors, and return the rest (no traffic on any measured variant)."""
    by_endpoint: dict[str, list[VariantKey]] = {}
    for key in keys:
        by_endpoint.setdefault(key[0], []).append(key)
    rest = []
    for e in endpoints:
        keys = by_endpoint.get(e.name, [])
        if any(counts.sums.get(k, 0.0) > 0 for k in keys):
            summary.active += 1
        elif failed := [counts.failed[k] for k in keys if k in counts.failed]:
            summary.error(e.name, "GetMetricData", failed[0])
        else:
            rest.append(e)
    return rest


def _needs_prices(settings: IdleDetectorSettings, e: Endpoint) -> bool:
    """True when the action would stop instances, so its savings need the instance types."""
    if settings.auto_stop_action is AutoStopAction.DISABLE_SCHEDULES:
        return False  # suspending schedules claims no savings
    deleting = settings.auto_stop_action is AutoStopAction.DELETE and not delete_refusals(settings, e.tags)
    keep = 0 if deleting else FLOOR_INSTANCES
    return any(not v.serverless and v.current_count > keep for v in e.variants)


def _with_instance_types(
    sagemaker, settings: IdleDetectorSettings, idle: list[Endpoint], summary: _Summary
) -> list[Endpoint]:
    """Add instance types (for prices) to the variants of endpoints whose action stops instances;
    one DescribeEndpointConfig per config. An endpoint whose config cannot be read is an error."""
    by_config: dict[str, dict[str, str] | Exception] = {}
    result = []
    for e in idle:
        if not _needs_prices(settings, e):
            result.append(e)
            continue
        if e.config_name not in by_config:
            try:
                by_config[e.config_name] = instance_types(sagemaker, e.config_name)
            except AWS_ERRORS as exc:
                by_config[e.config_name] = exc
        types = by_config[e.config_name]
        if isinstance(types, Exception):
            summary.error(e.name, "DescribeEndpointConfig", types)
            continue
        result.append(replace(e, variants=tuple(replace(v, instance_type=types.get(v.name)) for v in e.variants)))
    return result


def _targets_for(autoscaling, idle: list[Endpoint]) -> dict:
    ids = [variant_resource_id(e.name, v.name) for e in idle for v in e.variants if not v.serverless]
    return scalable_targets(autoscaling, ids) if ids else {}


def _price_lookup(region: str) -> Callable[[str], float]:
    def price(instance_type: str) -> float:
        return pricing.instance_hour_price(region, instance_type)

    return price


def _carry_out(plan: Plan, clients: AwsClients, settings: IdleDetectorSettings, summary: _Summary) -> None:
    if plan.action is None:
        summary.skip(plan.endpoint, plan.skip_reason)
        return
    if settings.dry_run:
        summary.actions.append(plan.as_dict(applied=False))
        return
    done: list[str] = []
    try:
        apply_plan(plan, clients.sagemaker, clients.autoscaling, done)
    except AWS_ERRORS as exc:
        operation = getattr(exc, "operation_name", None) or type(exc).__name__
        already = f" (already done: {'; '.join(done)})" if done else ""
        summary.error(plan.endpoint, operation, describe_error(exc) + already)
        return
    summary.actions.append(plan.as_dict(applied=True))
