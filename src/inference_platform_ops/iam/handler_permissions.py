"""Does the CloudFormation execution role cover what CloudFormation's resource handlers call?

For every resource the deployed templates create (main.yaml and its nested stacks for every params file, and
billing-alarms.yaml), the registry schema shipped with cfn-lint lists the permissions of each handler. The
read and delete handlers run on every update, delete and rollback, whatever the template sets; create and
update permissions count where they act on the resource itself, on a resource its properties name (a role
it passes, a key it uses), or are of the resource's own service with no resource type. Each permission is
evaluated against bootstrap.yaml's CloudFormationExecutionRole with the policy evaluator; deliberate
omissions are listed in ``OMISSIONS`` with the reason.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cfnlint

from inference_platform_ops.iam import sar, simulate
from inference_platform_ops.iam.principals import deployment, role_policies
from inference_platform_ops.paths import ROOT
from inference_platform_ops.stacks import ResolvedStack

SCHEMAS = Path(cfnlint.__file__).resolve().parent / "data" / "schemas"
ALWAYS = ("read", "delete")
PASSED_TO = {"Lambda": "lambda.amazonaws.com", "SageMaker": "sagemaker.amazonaws.com",
             "StepFunctions": "states.amazonaws.com", "Events": "events.amazonaws.com",
             "Backup": "backup.amazonaws.com",
             "ApplicationAutoScaling": "application-autoscaling.amazonaws.com"}
WHEN_SET = ("create", "update")
# (resource type, permission) -> why the execution role deliberately does not grant it.
_NOT_IAM = "not an IAM action (the Service Authorization Reference has no such action; the schema lists it anyway)"
OMISSIONS: dict[tuple[str, str], str] = {
    ("AWS::Lambda::Function", "lambda:AssociateRuntimeAlias"): _NOT_IAM,
    ("AWS::Logs::LogGroup", "s3:REST.PUT.OBJECT"): _NOT_IAM,
    ("AWS::Backup::BackupVault", "backup-storage:Mount"): _NOT_IAM,
    ("AWS::DynamoDB::GlobalTable", "dynamodb:DisassociateTableReplica"): _NOT_IAM,
    ("AWS::Lambda::Function", "lambda:PassCapacityProvider"):
        "Lambda managed instances (CapacityProviderConfig): no function sets it",
    ("AWS::Lambda::Function", "lambda:PutFunctionScalingConfig"):
        "Lambda managed instances (FunctionScalingConfig): no function sets it",
    ("AWS::Lambda::Function", "s3files:ListMountTargets"): "S3 file system mounts (FileSystemConfigs): not set",
    ("AWS::Logs::LogGroup", "logs:PutBearerTokenAuthentication"): "BearerTokenAuthenticationEnabled: not set",
    ("AWS::Logs::LogGroup", "logs:PutLogGroupDeletionProtection"): "DeletionProtectionEnabled: not set",
    ("AWS::IAM::ManagedPolicy", "iam:DetachGroupPolicy"):
        "the project attaches its policies to roles only; the delete handler detaches what ListEntitiesForPolicy "
        "returns, never a group",
    ("AWS::IAM::ManagedPolicy", "iam:DetachUserPolicy"): "the project attaches its policies to roles only",
    ("AWS::IAM::Policy", "iam:DeleteGroupPolicy"): "the project's AWS::IAM::Policy resources name Roles only",
    ("AWS::IAM::Policy", "iam:DeleteUserPolicy"): "the project's AWS::IAM::Policy resources name Roles only",
    ("AWS::Lambda::Function", "lambda:PutFunctionCodeSigningConfig"): "CodeSigningConfigArn: not set",
    ("AWS::Lambda::Function", "lambda:DeleteFunctionCodeSigningConfig"): "CodeSigningConfigArn: never set",
    ("AWS::Backup::BackupVault", "backup:PutBackupVaultLockConfiguration"): "LockConfiguration: not set",
    ("AWS::Backup::BackupVault", "backup:DeleteBackupVaultLockConfiguration"): "LockConfiguration: never set",
    ("AWS::Backup::BackupVault", "backup:PutBackupVaultAccessPolicy"): "AccessPolicy: not set",
    ("AWS::Backup::BackupVault", "backup:DeleteBackupVaultAccessPolicy"): "AccessPolicy: never set",
    ("AWS::Backup::BackupVault", "backup:PutBackupVaultNotifications"): "Notifications: not set",
    ("AWS::Backup::BackupVault", "backup:DeleteBackupVaultNotifications"): "Notifications: never set",
}
# iam:CreateServiceLinkedRole: the role each resource type's handler may create, by service name.
SERVICE_LINKED = {"AWS::ApplicationAutoScaling::ScalableTarget": "sagemaker.application-autoscaling.amazonaws.com",
                  "AWS::Backup::BackupSelection": "backup.amazonaws.com",
                  "AWS::Backup::BackupVault": "backup.amazonaws.com"}
# A KMS key the templates do not declare (an AWS managed key): its policy lets the account's IAM decide.
DELEGATING_KEY_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}


@dataclass(frozen=True)
class Required:
    resource_type: str
    handler: str
    permission: str
    resource: str  # ARN (or *) it is evaluated on
    where: str  # template and logical id it came from


def _schema(resource_type: str) -> dict:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    name = providers.get(resource_type)
    return json.loads((SCHEMAS / "resources" / f"{name}.json").read_text()) if name else {}


def _arns_in(value: Any) -> list[str]:
    text = json.dumps(value)
    return re.findall(r'"(arn:aws[a-z-]*:[^"]+)"', text)


def requirements(stack: ResolvedStack, logical: str, schemas: dict[str, dict]) -> list[Required]:
    body = stack.resources[logical]
    resource_type = body["Type"]
    schema = schemas.setdefault(resource_type, _schema(resource_type))
    nested = resource_type == "AWS::CloudFormation::Stack"
    own_arn = stack.child(logical).stack_id if nested else stack.arn(logical)
    props = {} if nested else stack.properties(logical)
    named = _arns_in(props) + _named_resources(stack, props)
    service = resource_type.split("::")[1].lower()
    where = f"{stack.path.name} {logical}"
    out = []
    for handler, spec in (schema.get("handlers") or {}).items():
        if handler not in ALWAYS + WHEN_SET:
            continue
        for permission in spec.get("permissions", []):
            if permission == "iam:CreateServiceLinkedRole":
                if resource_type in SERVICE_LINKED:
                    service_name = SERVICE_LINKED[resource_type]
                    out.append(Required(resource_type, handler, permission,
                                        f"arn:aws:iam::{stack.account}:role/aws-service-role/{service_name}/x", where))
                continue
            for name in _expand(permission, own_arn):
                action = sar.action(name)
                if action is None:  # newer than the reference's data, or not an IAM action: the evaluator decides
                    out.append(Required(resource_type, handler, name, "*", where))
                    continue
                resource = _target(action, own_arn, named, handler, service)
                if resource is not None:
                    out.append(Required(resource_type, handler, permission if name == permission else name,
                                        resource, where))
    return out


def _expand(permission: str, own_arn: str | None) -> list[str]:
    """A wildcard permission (``dynamodb:Describe*``) -> the actions it names that act on this resource's type or
    on no resource type; anything else as it is."""
    if "*" not in permission:
        return [permission]
    found = [a for a in sar.matching_actions(permission)
             if not a.resource_types or (own_arn and sar.resource_type_of(a, own_arn))]
    return [a.full_name for a in found] or [permission]


def _named_resources(stack: ResolvedStack, props: dict) -> list[str]:
    """ARNs of the stack's resources that the properties name by physical name (e.g. FunctionName: !Ref F)."""
    names = {str(stack.ref(logical)): stack.arn(logical) for logical, body in stack.resources.items()
             if body["Type"] != "AWS::CloudFormation::Stack"}
    found: list[str] = []
    for value in re.findall(r'"([^"]+)"', json.dumps(props)):
        arn = names.get(value)
        if arn:
            found.append(arn)
    return found


def _target(action: sar.Action, own_arn: str | None, named: list[str], handler: str, service: str) -> str | None:
    if not action.resource_types:
        if handler in ALWAYS or action.prefix.replace("-", "") in service.replace("-", ""):
            return "*"
        return None  # another service's API without resource types: only when a property needs it
    if own_arn and sar.resource_type_of(action, own_arn):
        return own_arn
    for arn in named:
        if sar.resource_type_of(action, arn):
            return arn
    if handler in WHEN_SET:
        return None  # acts on something the template does not set
    resource_type = next((t for t in action.resource_types if t.required), action.resource_types[0])
    region, account = (own_arn or "arn:aws:x:us-east-1:123456789012:").split(":")[3:5]
    return re.sub(r"\$\{([^}]+)\}", lambda m: {"Partition": "aws", "Region": region or "*",
                                               "Account": account or "*"}.get(m.group(1), "*"),
                  resource_type.arn_format)


def collect(templates: Path = ROOT / "templates", types: set[str] | None = None
            ) -> tuple[list[Required], ResolvedStack, dict[str, dict]]:
    """Every required permission of every deployed resource, the bootstrap stack holding the role, and the key
    policy of every KMS key (KMS honours identity policies only where its key policy delegates to IAM)."""
    schemas: dict[str, dict] = {}
    key_policies: dict[str, dict] = {}
    required: dict[tuple, Required] = {}
    bootstrap = None
    for env in ("dev", "staging", "production"):
        target = deployment(env, templates)
        bootstrap = bootstrap or target.bootstrap
        billing = ResolvedStack(templates / "billing-alarms.yaml", {"Environment": env}, region="us-east-1",
                                stack_name=f"{target.primary.stack_name}-billing", tags=target.primary.tags)
        for stack in [*target.stacks(), billing]:
            for logical, body in stack.resources.items():
                if body["Type"] == "AWS::KMS::Key":
                    key_policies[stack.arn(logical) or ""] = stack.properties(logical)["KeyPolicy"]
                if types is not None and body["Type"] not in types:
                    continue
                for item in requirements(stack, logical, schemas):
                    required.setdefault((item.resource_type, item.handler, item.permission, item.resource), item)
    if bootstrap is None:
        raise RuntimeError("bootstrap.yaml could not be resolved")
    return list(required.values()), bootstrap, key_policies


@dataclass(frozen=True)
class Coverage:
    covered: list[tuple[str, str]]  # (resource type, permission)
    gaps: list[tuple[Required, str]]  # (first failing requirement, why)
    omitted: list[tuple[str, str]]

    @property
    def total(self) -> int:
        return len(self.covered) + len(self.gaps)


def coverage(templates: Path = ROOT / "templates", evaluate: Any = simulate.evaluate,
             types: set[str] | None = None) -> Coverage:
    """``types``: only these resource types (default every type the templates deploy)."""
    required, bootstrap, key_policies = collect(templates, types)
    role = role_policies([bootstrap], bootstrap, "CloudFormationExecutionRole")
    omitted = sorted({(r.resource_type, r.permission) for r in required
                      if (r.resource_type, r.permission) in OMISSIONS})
    todo = [r for r in required if (r.resource_type, r.permission) not in OMISSIONS]
    decisions = evaluate([{"principal": role.role_arn, "action": r.permission, "resource": r.resource,
                           "account": bootstrap.account, "context": _context(r), "policies": role.policies,
                           **_resource_policy(r.resource, key_policies, bootstrap.account)}
                          for r in todo])
    failing: dict[tuple[str, str], tuple[Required, str]] = {}
    pairs: set[tuple[str, str]] = set()
    for item, decision in zip(todo, decisions, strict=True):
        pair = (item.resource_type, item.permission)
        pairs.add(pair)
        if not decision.allowed and pair not in failing:
            failing[pair] = (item, decision.error or decision.result)
    covered = sorted(pairs - set(failing))
    return Coverage(covered, [failing[pair] for pair in sorted(failing)], omitted)


def _resource_policy(resource: str, key_policies: dict[str, dict], account: str) -> dict:
    if resource in key_policies:
        return {"resource_policy": key_policies[resource]}
    if ":kms:" in resource and ":key/" in resource:
        return {"resource_policy": json.loads(json.dumps(DELEGATING_KEY_POLICY).replace("{account}", account))}
    return {}


def _context(item: Required) -> dict[str, str]:
    context = {"aws:RequestedRegion": "us-east-1"}
    if item.permission == "iam:PassRole":
        context["iam:PassedToService"] = PASSED_TO.get(item.resource_type.split("::")[1], "")
    if item.permission == "iam:CreateServiceLinkedRole":
        context["iam:AWSServiceName"] = SERVICE_LINKED[item.resource_type]
    if item.permission.startswith("kms:") and not item.resource_type.startswith("AWS::KMS::"):
        # Another service's handler uses the key through that service (e.g. AWS Backup creating the vault's
        # grant): KMS sees a grant for an AWS resource, made via the service.
        context["kms:GrantIsForAWSResource"] = "true"
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CloudFormation execution role vs the registry handlers' permissions")
    parser.add_argument("--templates-dir", type=Path, default=ROOT / "templates")
    args = parser.parse_args(argv)
    result = coverage(args.templates_dir)
    for item, why in result.gaps:
        print(f"GAP {item.resource_type} {item.handler}: {item.permission} on {item.resource} ({item.where}): {why}")
    print(f"handler permissions: {len(result.covered)} of {result.total} covered, {len(result.omitted)} omitted "
          "on purpose")
    return 1 if result.gaps else 0


if __name__ == "__main__":
    sys.exit(main())
