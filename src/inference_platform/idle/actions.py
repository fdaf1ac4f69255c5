"""What to do with one idle endpoint (pure planning) and doing it (the only mutating AWS calls)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from inference_platform.idle.config import AutoStopAction, IdleDetectorSettings
from inference_platform.idle.inventory import (
    STACK_TAG,
    VARIANT_DIMENSION,
    ScalableTarget,
    VariantState,
    variant_resource_id,
)
from inference_platform.idle.schedules import Suspension

FLOOR_INSTANCES = 1  # classic instance-based variants cannot go below one instance

PriceLookup = Callable[[str], float]  # instance type -> USD per instance-hour; KeyError when unknown


@dataclass(frozen=True)
class VariantChange:
    variant: str
    instance_type: str | None
    from_count: int
    to_count: int


@dataclass(frozen=True)
class Plan:
    endpoint: str
    action: AutoStopAction | None  # None: nothing to do, see skip_reason
    requested_action: AutoStopAction
    variant_changes: tuple[VariantChange, ...] = ()
    suspend_targets: tuple[ScalableTarget, ...] = ()
    hourly_savings_usd: float | None = 0.0
    notes: tuple[str, ...] = ()
    skip_reason: str = ""
    endpoint_arn: str = ""
    suspension: Suspension | None = None  # recorded on the endpoint before its schedules are suspended

    def as_dict(self, *, applied: bool) -> dict:
        return {
            "endpoint": self.endpoint,
            "action": self.action.value if self.action else None,
            "requested_action": self.requested_action.value,
            "applied": applied,
            "variants": [
                {"variant": c.variant, "instance_type": c.instance_type, "from": c.from_count, "to": c.to_count}
                for c in self.variant_changes
            ],
            "schedules_suspended": [t.resource_id for t in self.suspend_targets],
            "suspension_recorded": None if self.suspension is None or not self.suspend_targets else {
                "by": self.suspension.suspended_by, "why": self.suspension.why,
                "at": self.suspension.suspended_at.isoformat()},
            "hourly_savings_usd": None if self.hourly_savings_usd is None else round(self.hourly_savings_usd, 4),
            "notes": list(self.notes),
        }


def delete_refusals(settings: IdleDetectorSettings, tags: Mapping[str, str]) -> list[str]:
    """Why this endpoint must not be deleted; empty means deleting is allowed."""
    reasons = []
    if settings.is_production:
        reasons.append("the detector runs with ENVIRONMENT=production")
    if tags.get("Environment", "").strip().casefold() == "production":
        reasons.append("the endpoint is tagged Environment=production")
    if STACK_TAG in tags:
        reasons.append(f"it belongs to CloudFormation stack {tags[STACK_TAG]!r} (deleting it would drift the stack)")
    return reasons


def plan_action(
    settings: IdleDetectorSettings,
    endpoint: str,
    *,
    tags: Mapping[str, str],
    variants: tuple[VariantState, ...],
    targets: Mapping[str, ScalableTarget],
    price: PriceLookup,
    may_suspend: bool = True,
) -> Plan:
    """Decide the action for one idle, unprotected endpoint. No AWS calls. ``may_suspend`` False (a
    business-hours start is near) leaves scheduled scaling alone."""
    requested = settings.auto_stop_action
    instance_variants = [v for v in variants if not v.serverless]
    if not instance_variants:
        return Plan(endpoint, None, requested, skip_reason="serverless only: no instances to stop")
    notes: list[str] = []
    action = requested
    if action is AutoStopAction.DELETE:
        refusals = delete_refusals(settings, tags)
        if not refusals:
            savings = _savings(instance_variants, price, notes, keep=0)
            return Plan(endpoint, AutoStopAction.DELETE, requested, hourly_savings_usd=savings, notes=tuple(notes))
        notes.append("delete refused because " + "; ".join(refusals) + ": scaled down instead")
        action = AutoStopAction.SCALE_DOWN

    variant_targets = [targets[t] for v in instance_variants if (t := variant_resource_id(endpoint, v.name)) in targets]
    to_suspend = tuple(t for t in variant_targets if not t.scheduled_scaling_suspended)
    if to_suspend and not may_suspend:
        notes.append("business hours start within the resume lead: scheduled scaling left on")
        to_suspend = ()
        if action is AutoStopAction.DISABLE_SCHEDULES:
            return Plan(endpoint, None, requested, notes=tuple(notes), skip_reason=notes[-1])
    if action is AutoStopAction.DISABLE_SCHEDULES:
        if not to_suspend:
            reason = "scheduled scaling already suspended" if variant_targets else "no Application Auto Scaling target"
            return Plan(endpoint, None, requested, skip_reason=reason)
        return Plan(endpoint, action, requested, suspend_targets=to_suspend, notes=tuple(notes))

    above_floor = [v for v in instance_variants if max(v.current_count, v.desired_count) > FLOOR_INSTANCES]
    changes = tuple(
        VariantChange(v.name, v.instance_type, v.current_count, FLOOR_INSTANCES) for v in above_floor
    )
    if not changes and not to_suspend:
        reason = "already at its floor of 1 instance per variant and no active scheduled scaling"
        return Plan(endpoint, None, requested, notes=tuple(notes), skip_reason="; ".join([reason, *notes]))
    if not changes:
        notes.append("already at its floor: no instances stopped, no savings claimed")
    for target in variant_targets:
        if target.min_capacity > FLOOR_INSTANCES:
            notes.append(
                f"{target.resource_id} has MinCapacity {target.min_capacity}: a scaling policy may restore it to "
                "that minimum"
            )
    savings = _savings(above_floor, price, notes, keep=FLOOR_INSTANCES)
    return Plan(endpoint, action, requested, changes, to_suspend, savings, tuple(notes))


def _savings(variants: list[VariantState], price: PriceLookup, notes: list[str], *, keep: int) -> float | None:
    """USD per hour saved, from LIVE instance counts; None when a price is unknown (never guessed)."""
    total = 0.0
    for v in variants:
        stopped = max(v.current_count - keep, 0)
        if stopped == 0:
            continue
        if v.instance_type is None:
            notes.append(f"instance type of variant {v.name} unknown: savings not estimated")
            return None
        try:
            total += stopped * price(v.instance_type)
        except KeyError as exc:
            notes.append(f"savings not estimated: {exc.args[0]}")
            return None
    return total


def apply_plan(plan: Plan, sagemaker, autoscaling, done: list[str] | None = None) -> None:
    """Perform a plan. Schedules are suspended before capacity drops so a scheduled scale-out
    cannot race the scale-in. Raises the AWS error of the first failing call; `done` then tells
    which steps had already been applied. The suspension is recorded on the endpoint before any schedule
    is suspended: a record without a suspension is cleared by the next scan, a suspension without a record
    would never be resumed."""
    done = [] if done is None else done
    if plan.action is AutoStopAction.DELETE:
        sagemaker.delete_endpoint(EndpointName=plan.endpoint)
        return
    if plan.suspend_targets:
        if plan.suspension is None or not plan.endpoint_arn:
            raise ValueError(f"{plan.endpoint}: schedules are never suspended without a recorded suspension")
        sagemaker.add_tags(ResourceArn=plan.endpoint_arn, Tags=plan.suspension.tags())
        done.append("recorded the suspension in the endpoint's tags")
    for target in plan.suspend_targets:
        suspended = {
            "DynamicScalingInSuspended": bool(target.suspended.get("DynamicScalingInSuspended")),
            "DynamicScalingOutSuspended": bool(target.suspended.get("DynamicScalingOutSuspended")),
            "ScheduledScalingSuspended": True,
        }
        autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=target.resource_id,
            ScalableDimension=VARIANT_DIMENSION,
            MinCapacity=target.min_capacity,
            MaxCapacity=target.max_capacity,
            SuspendedState=suspended,
        )
        done.append(f"suspended scheduled scaling of {target.resource_id}")
    if plan.variant_changes:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=plan.endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": c.variant, "DesiredInstanceCount": c.to_count} for c in plan.variant_changes
            ],
        )
