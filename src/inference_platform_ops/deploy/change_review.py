"""Refuse, before a change set executes, what AWS would reject or what would lose data.

``review(plans, ...)`` is a pure function over the change-set plans ``stack_ops`` builds (and a few facts the
caller looked up); it returns one ``Refusal`` per problem, each a one-line message saying what to do. The
deploy deletes its change sets and stops when there is any; ``make plan`` can print them beside a plan.

1. An instance-type change of an auto-scaled variant: SageMaker refuses UpdateEndpoint when a variant that
   Application Auto Scaling manages changes instance type (SageMaker developer guide, "Update an endpoint that
   uses auto scaling"). The stack update would fail halfway; deregister the scalable target first.
2. Replacement of a stateful resource (table, key, bucket, backup vault, log group): the old one is deleted
   (or orphaned by its DeletionPolicy) with its data. Allowed only for logical ids named in ``allow_replace``
   (``make deploy ALLOW_REPLACE=<logical id>[,<logical id>]``).
3. A stack about to be created while a resource it would create under a fixed name still exists (retained
   by an earlier stack's DeletionPolicy): the create would fail with AlreadyExists and roll back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from inference_platform_ops.deploy.stack_ops import ChangeSetPlan

STATEFUL_TYPES = frozenset({
    "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::KMS::Key", "AWS::S3::Bucket",
    "AWS::Backup::BackupVault", "AWS::Logs::LogGroup",
})
AUTOSCALED = "EnableScheduledScaling"  # main.yaml: a scalable target manages the provisioned variant
INSTANCE_TYPE = "InstanceType"


@dataclass(frozen=True)
class Refusal:
    stack: str
    region: str
    logical_id: str
    rule: str  # autoscaled-instance-type | stateful-replacement | retained-name-collision
    message: str

    def __str__(self) -> str:
        return f"{self.stack} ({self.region}) {self.logical_id}: {self.message}"


@dataclass(frozen=True)
class ExistingResource:
    """A fixed-name resource of the template that already exists in the account (looked up by the caller)."""

    stack: str
    region: str
    logical_id: str
    resource_type: str
    name: str


def _allowed(logical_id: str, allow_replace: Iterable[str]) -> bool:
    allowed = {item.strip() for item in allow_replace if item.strip()}
    return logical_id in allowed or logical_id.rsplit("/", 1)[-1] in allowed


def review(plans: Iterable[ChangeSetPlan], *, allow_replace: Iterable[str] = (),
           existing: Iterable[ExistingResource] = ()) -> list[Refusal]:
    refusals: list[Refusal] = []
    allow = list(allow_replace)
    for plan in plans:
        if plan.no_changes:
            continue
        refusals += _autoscaled_instance_type(plan)
        for change in plan.changes:
            # CloudFormation marks a replacement as Modify with Replacement True (or Conditional: it may).
            replaced = change.action == "Modify" and change.replacement in ("True", "Conditional")
            if replaced and change.resource_type in STATEFUL_TYPES and not _allowed(change.logical_id, allow):
                refusals.append(Refusal(plan.stack_name, plan.region, change.logical_id, "stateful-replacement",
                                        f"{change.resource_type} would be REPLACED (Replacement={change.replacement})"
                                        f", losing or orphaning its data; if that is intended, deploy again with "
                                        f"ALLOW_REPLACE={change.logical_id.rsplit('/', 1)[-1]}"))
    for resource in existing:
        refusals.append(Refusal(resource.stack, resource.region, resource.logical_id, "retained-name-collision",
                                f"{resource.resource_type} {resource.name!r} already exists (retained by an earlier "
                                "stack): creating the stack would fail with AlreadyExists; delete it, or import it "
                                "into the stack (CloudFormation resource import), then deploy again"))
    return refusals


def _autoscaled_instance_type(plan: ChangeSetPlan) -> list[Refusal]:
    before: Mapping[str, str] = plan.previous_parameters
    after: Mapping[str, str] = plan.parameters
    if plan.change_set_type != "UPDATE" or before.get(INSTANCE_TYPE) == after.get(INSTANCE_TYPE):
        return []
    if before.get(AUTOSCALED) != "true" or after.get(AUTOSCALED) != "true":
        return []  # no scalable target before, or this deploy removes it first
    config = next((c for c in plan.changes if c.resource_type == "AWS::SageMaker::EndpointConfig"
                   and "Provisioned" in c.logical_id), None)
    logical_id = config.logical_id if config else "EndpointsStack"
    return [Refusal(plan.stack_name, plan.region, logical_id, "autoscaled-instance-type",
                    f"InstanceType {before.get(INSTANCE_TYPE)} -> {after.get(INSTANCE_TYPE)} on an auto-scaled "
                    "variant: SageMaker refuses to update its endpoint. Deploy with EnableScheduledScaling=false "
                    "first (deregisters the scalable target), then with the new InstanceType, then turn it back on")]
