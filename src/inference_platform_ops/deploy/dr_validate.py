"""Check a deployment against its DR tier in every region: `make dr-validate ENV=<env>`.

For each region the tier deploys to (``inference_platform_ops.deploy.dr_tiers.region_plans``):
  * the regional stack exists and is in a *_COMPLETE state;
  * every endpoint the region's parameters enable exists and is InService;
  * in the primary: the workflow has an endpoint name for each enabled target in the secondary region
    (tiers 1 and 2), and that endpoint exists there, so failover has somewhere to go;
  * the state table (``<ProjectName>-<Environment>-state``) exists, lists the other region as an ACTIVE
    replica (tiers 1 and 2), and has point-in-time recovery on;
  * tier 2: the standby runs no instance (serverless only, or its scale-to-zero component at zero copies);
  * tier 3: the state store's daily AWS Backup plan exists (and copies out when DrBackupCopyVaultArn is set).
Prints one row per check and exits 1 if any failed (2 for an unusable params file). One failing call never
hides the other checks. ``--endpoint-url`` points every client at an emulator (ENV=local uses the running
one by default).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from inference_platform_ops.deploy.dr_tiers import TIER_DESCRIPTIONS, RegionPlan, dr_tier, region_plans
from inference_platform_ops.paths import TEMPLATES

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2
COMPLETE_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
# Endpoint kinds: the flag that enables them, the root output naming them, the logical id in endpoints.yaml,
# and the main.yaml parameter that tells the primary's workflow the secondary's endpoint name.
ENDPOINT_KINDS = (
    ("provisioned", "EnableProvisionedEndpoint", "ProvisionedEndpointName", "ProvisionedEndpoint",
     "SecondaryProvisionedEndpointName"),
    ("serverless", "EnableServerlessInference", "ServerlessEndpointName", "ServerlessEndpoint",
     "SecondaryServerlessEndpointName"),
)
ClientFor = Callable[[str, str], Any]


@dataclass(frozen=True)
class Check:
    region: str
    role: str
    name: str
    passed: bool
    detail: str


class _Recorder:
    """Collects checks; an AWS error in one check becomes that check's failure, not the run's."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def add(self, plan: RegionPlan, name: str, passed: bool, detail: str) -> None:
        self.checks.append(Check(plan.region, plan.role, name, passed, detail))

    def attempt(self, plan: RegionPlan, name: str, probe: Callable[[], tuple[bool, str]]) -> None:
        try:
            passed, detail = probe()
        except (ClientError, BotoCoreError) as exc:
            passed, detail = False, _aws_error(exc)
        self.add(plan, name, passed, detail)


def _aws_error(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def table_name(plan: RegionPlan) -> str:
    params = plan.parameters
    return f"{params.get('ProjectName') or 'ml-inference'}-{params['Environment']}-state"


def validate(config: dict, client_for: ClientFor) -> list[Check]:
    """Every check for every region of ``config``'s tier, in a stable order."""
    plans = region_plans(config)
    stack_name = config["StackName"]
    recorder = _Recorder()
    stacks = {}
    for plan in plans:
        stacks[plan.region] = _stack(client_for, plan, stack_name, recorder)
        _check_endpoints(client_for, plan, stack_name, stacks[plan.region], recorder)
        if plan.role == "secondary" and plan.parameters.get("DrTier") == "2":
            _check_standby_runs_nothing(client_for, plan, stacks[plan.region], recorder)
    _check_failover_targets(client_for, plans, stacks[plans[0].region], recorder)
    for plan in plans:
        if plan.parameters.get("EnableStateStore") == "true":
            _check_state_table(client_for, plan, plans, recorder)
            if plan.role == "primary" and plan.parameters.get("DrTier") == "3":
                recorder.attempt(plan, "daily backup plan", functools.partial(_backup_plan, client_for, plan))
    return recorder.checks


def _backup_plan(client_for: ClientFor, plan: RegionPlan) -> tuple[bool, str]:
    """Tier 3 lives on its backups: the state store's daily plan exists (and copies out, when configured)."""
    backup = client_for("backup", plan.region)
    wanted = f"{table_name(plan)}-daily"
    plans = backup.list_backup_plans()["BackupPlansList"]
    found = [p for p in plans if p.get("BackupPlanName") == wanted]
    if not found:
        return False, f"no AWS Backup plan named {wanted}"
    rules = backup.get_backup_plan(BackupPlanId=found[0]["BackupPlanId"])["BackupPlan"].get("Rules", [])
    copy_vault = plan.parameters.get("DrBackupCopyVaultArn", "")
    copies = {c.get("DestinationBackupVaultArn") for r in rules for c in r.get("CopyActions", [])}
    if copy_vault and copy_vault not in copies:
        return False, f"{wanted} does not copy recovery points to {copy_vault}"
    where = f", copied to {copy_vault}" if copy_vault else " (no copy to another region configured)"
    return True, f"{wanted}: {len(rules)} rule(s){where}"


def _stack(client_for: ClientFor, plan: RegionPlan, stack_name: str, recorder: _Recorder) -> dict | None:
    cfn = client_for("cloudformation", plan.region)
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as exc:
        recorder.add(plan, f"stack {stack_name}", False, _aws_error(exc))
        return None
    stack = stacks[0]
    status = stack["StackStatus"]
    recorder.add(plan, f"stack {stack_name}", status in COMPLETE_STATES, status)
    return stack


def _endpoint_names_from_stack(client_for: ClientFor, plan: RegionPlan, stack_name: str,
                               stack: dict | None) -> dict[str, str]:
    """Endpoint names from the root outputs, else from the endpoints nested stack's resources."""
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}
    names = {kind: outputs.get(output, "") for kind, _, output, _, _ in ENDPOINT_KINDS}
    if all(names.values()) or stack is None:
        return names
    cfn = client_for("cloudformation", plan.region)
    nested = [r for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
              if r.get("LogicalResourceId") == "EndpointsStack" and r.get("PhysicalResourceId")]
    if not nested:
        return names
    resources = cfn.describe_stack_resources(StackName=nested[0]["PhysicalResourceId"])["StackResources"]
    by_logical = {r.get("LogicalResourceId"): r.get("PhysicalResourceId") or "" for r in resources}
    for kind, _, _, logical_id, _ in ENDPOINT_KINDS:
        physical = by_logical.get(logical_id, "")
        # The physical id of an AWS::SageMaker::Endpoint is its ARN: arn:...:endpoint/<name>.
        names[kind] = names[kind] or physical.rsplit("endpoint/", 1)[-1]
    return names


def _check_endpoints(client_for: ClientFor, plan: RegionPlan, stack_name: str, stack: dict | None,
                     recorder: _Recorder) -> None:
    wanted = [kind for kind in ENDPOINT_KINDS if plan.parameters.get(kind[1]) == "true"]
    if not wanted:
        return
    try:
        names = _endpoint_names_from_stack(client_for, plan, stack_name, stack)
    except (ClientError, BotoCoreError) as exc:
        names = {}
        problem = _aws_error(exc)
    else:
        problem = "no endpoint name in the stack's outputs or resources" if stack else "stack missing"
    sagemaker = client_for("sagemaker", plan.region)
    for kind, flag, *_ in wanted:
        name = names.get(kind, "")
        if not name:
            recorder.add(plan, f"{kind} endpoint", False, f"{flag} is true but {problem}")
            continue
        recorder.attempt(plan, f"{kind} endpoint {name}", functools.partial(_in_service, sagemaker, name))


def _check_standby_runs_nothing(client_for: ClientFor, plan: RegionPlan, stack: dict | None,
                                recorder: _Recorder) -> None:
    """A tier 2 standby costs almost nothing only while no instance runs there."""
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}
    check = "standby runs no instance"
    if plan.parameters.get("EnableProvisionedEndpoint") != "true":
        running = outputs.get("ProvisionedEndpointName")
        recorder.add(plan, check, not running, f"instance endpoint {running} deployed in the standby" if running
                     else "serverless only: nothing runs until a failover sends work")
        return
    component = outputs.get("InferenceComponentName", "")
    if not component:
        recorder.add(plan, check, False, "the scale-to-zero standby has no InferenceComponentName output")
        return

    def copies() -> tuple[bool, str]:
        described = client_for("sagemaker", plan.region).describe_inference_component(
            InferenceComponentName=component)
        count = int(described.get("RuntimeConfig", {}).get("CurrentCopyCount", 0))
        return count == 0, f"{component}: {count} cop{'y' if count == 1 else 'ies'} running"

    recorder.attempt(plan, check, copies)


def _in_service(sagemaker: Any, name: str) -> tuple[bool, str]:
    status = sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
    return status == "InService", status


def _check_failover_targets(client_for: ClientFor, plans: list[RegionPlan], primary_stack: dict | None,
                            recorder: _Recorder) -> None:
    if len(plans) < 2:
        return
    primary, secondary = plans[0], plans[1]
    if primary.parameters.get("EnableWorkflow") != "true":
        return
    # What the primary stack was actually deployed with wins over what the params file says now.
    deployed = {p["ParameterKey"]: p.get("ParameterValue", "") for p in (primary_stack or {}).get("Parameters", [])}
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in (primary_stack or {}).get("Outputs", []) or []}
    sagemaker = client_for("sagemaker", secondary.region)
    for kind, flag, output, _, parameter in ENDPOINT_KINDS:
        if primary.parameters.get(flag) != "true":
            continue
        # Empty means the same name as in the primary: endpoints.yaml derives names from project and environment.
        name = deployed.get(parameter, primary.parameters.get(parameter, "")) or outputs.get(output, "")
        check = f"failover target {kind} in {secondary.region}"
        if not name:
            recorder.add(primary, check, False,
                         f"no {kind} endpoint name: neither Parameters.{parameter} nor the primary stack's {output} "
                         f"output names one, so the workflow cannot fail over to {secondary.region}")
            continue
        recorder.attempt(primary, f"{check}: {name}", functools.partial(_in_service, sagemaker, name))


def _check_state_table(client_for: ClientFor, plan: RegionPlan, plans: list[RegionPlan],
                       recorder: _Recorder) -> None:
    name = table_name(plan)
    dynamodb = client_for("dynamodb", plan.region)
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except (ClientError, BotoCoreError) as exc:
        recorder.add(plan, f"state table {name}", False, _aws_error(exc))
        return
    recorder.add(plan, f"state table {name}", table.get("TableStatus") == "ACTIVE", table.get("TableStatus", "?"))
    others = [p.region for p in plans if p.region != plan.region]
    replicas = {r.get("RegionName"): r.get("ReplicaStatus", "?") for r in table.get("Replicas", [])}
    for region in others:
        status = replicas.get(region)
        recorder.add(plan, f"replica in {region}", status == "ACTIVE",
                     status or f"no replica listed (replicas: {', '.join(sorted(replicas)) or 'none'})")
    recorder.attempt(plan, "point-in-time recovery", lambda: _pitr(dynamodb, name))


def _pitr(dynamodb: Any, name: str) -> tuple[bool, str]:
    description = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    status = description.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
    return status == "ENABLED", status


def format_table(checks: Iterable[Check]) -> str:
    rows = [("REGION", "ROLE", "CHECK", "RESULT", "DETAIL")]
    rows += [(c.region, c.role, c.name, "PASS" if c.passed else "FAIL", c.detail) for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
                     for row in rows)


def _client_factory(session: boto3.Session, endpoint_url: str | None) -> ClientFor:
    cache: dict[tuple[str, str], Any] = {}

    def client_for(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[(service, region)] = session.client(service, region_name=region, endpoint_url=endpoint_url)
        return cache[(service, region)]

    return client_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="environment: local, dev, staging, production")
    parser.add_argument("--endpoint-url", default=None, help="send every AWS call to this emulator URL")
    parser.add_argument("--templates-dir", type=Path, default=TEMPLATES)
    args = parser.parse_args(argv)

    from inference_platform_ops.deploy.aws_access import endpoint_for, session_for
    from inference_platform_ops.deploy.config import ConfigError, load_config

    try:
        config = load_config(args.env, args.templates_dir / "params")
        tier = dr_tier(config)
        plans = region_plans(config)
        endpoint = endpoint_for(args.env, args.endpoint_url, "dr-validate")
        session = session_for(args.env, endpoint, plans[0].region)
    except (ConfigError, ValueError) as exc:
        print(f"dr-validate: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    description = TIER_DESCRIPTIONS[tier]
    print(f"dr-validate: {args.env} is DR tier {tier} ({description.name}); "
          f"targets {config.get('DrTargets', {})}")
    from inference_platform_ops.iam import recorder

    with recorder.acting_as(recorder.Principal("deploy", args.env)), recorder.world(args.env, args.templates_dir):
        checks = validate(config, _client_factory(session, endpoint))
    print(format_table(checks))
    failed = [c for c in checks if not c.passed]
    if endpoint and any(c.name.startswith("state table") and "ResourceNotFound" in c.detail for c in failed):
        print("dr-validate: note: moto skips AWS::DynamoDB::GlobalTable, so an emulator deployment has no state "
              "table unless the deploy created it by name")
    print(f"dr-validate: {len(checks) - len(failed)} passed, {len(failed)} failed")
    return EXIT_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
