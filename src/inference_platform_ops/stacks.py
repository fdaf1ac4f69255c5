"""A deployment's stacks resolved offline: every nested stack, physical names, ARNs and attributes.

The permission contract, the IAM lint, the handler-permission check and the tests' workflow harness read the
templates through this, so each sees the names and policies CloudFormation would create for a params file.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from inference_platform_ops.intrinsics import Evaluator, UnresolvableError, as_text
from inference_platform_ops.templates import load_template

DEFAULT_ACCOUNT = "123456789012"

# type -> (name property, what Ref returns: "name" | "arn" | "id", ARN format, extra attributes)
# ARN formats use {p} partition, {r} region, {a} account, {n} physical name.
_IDENTITY: dict[str, tuple[str | None, str, str | None, dict[str, str]]] = {
    "AWS::IAM::Role": ("RoleName", "name", "arn:{p}:iam::{a}:role/{n}", {"RoleId": "AROA{n}"}),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", "arn", "arn:{p}:iam::{a}:policy/{n}", {"PolicyArn": "{arn}"}),
    "AWS::IAM::Policy": ("PolicyName", "id", None, {}),
    "AWS::IAM::OIDCProvider": (None, "arn", "arn:{p}:iam::{a}:oidc-provider/token.actions.githubusercontent.com", {}),
    "AWS::Lambda::Function": ("FunctionName", "name", "arn:{p}:lambda:{r}:{a}:function:{n}", {}),
    "AWS::Lambda::Permission": (None, "id", None, {}),
    "AWS::Logs::LogGroup": ("LogGroupName", "name", "arn:{p}:logs:{r}:{a}:log-group:{n}:*", {}),
    "AWS::SNS::Topic": ("TopicName", "arn", "arn:{p}:sns:{r}:{a}:{n}", {"TopicArn": "{arn}", "TopicName": "{n}"}),
    "AWS::SNS::Subscription": (None, "arn", "arn:{p}:sns:{r}:{a}:{n}", {}),
    "AWS::SNS::TopicPolicy": (None, "id", None, {}),
    "AWS::KMS::Key": (None, "id", "arn:{p}:kms:{r}:{a}:key/{n}", {"KeyId": "{n}"}),
    "AWS::KMS::Alias": ("AliasName", "name", "arn:{p}:kms:{r}:{a}:{n}", {}),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", "arn", "arn:{p}:states:{r}:{a}:stateMachine:{n}",
                                         {"Name": "{n}"}),
    "AWS::Events::Rule": ("Name", "name", "arn:{p}:events:{r}:{a}:rule/{n}", {}),
    "AWS::DynamoDB::GlobalTable": ("TableName", "name", "arn:{p}:dynamodb:{r}:{a}:table/{n}", {}),
    "AWS::DynamoDB::Table": ("TableName", "name", "arn:{p}:dynamodb:{r}:{a}:table/{n}", {}),
    "AWS::Backup::BackupVault": ("BackupVaultName", "name", "arn:{p}:backup:{r}:{a}:backup-vault:{n}",
                                 {"BackupVaultArn": "{arn}", "BackupVaultName": "{n}"}),
    "AWS::Backup::BackupPlan": (None, "id", "arn:{p}:backup:{r}:{a}:backup-plan:{n}",
                                {"BackupPlanId": "{n}", "BackupPlanArn": "{arn}"}),
    "AWS::Backup::BackupSelection": (None, "id", None, {}),
    "AWS::SageMaker::Model": ("ModelName", "arn", "arn:{p}:sagemaker:{r}:{a}:model/{lower}", {"ModelName": "{n}"}),
    "AWS::SageMaker::EndpointConfig": ("EndpointConfigName", "arn", "arn:{p}:sagemaker:{r}:{a}:endpoint-config/{lower}",
                                       {"EndpointConfigName": "{n}"}),
    "AWS::SageMaker::Endpoint": ("EndpointName", "arn", "arn:{p}:sagemaker:{r}:{a}:endpoint/{lower}",
                                 {"EndpointName": "{n}"}),
    "AWS::SageMaker::InferenceComponent": ("InferenceComponentName", "arn",
                                           "arn:{p}:sagemaker:{r}:{a}:inference-component/{lower}",
                                           {"InferenceComponentName": "{n}"}),
    "AWS::S3::Bucket": ("BucketName", "name", "arn:{p}:s3:::{n}", {}),
    "AWS::S3::BucketPolicy": (None, "id", None, {}),
    "AWS::CloudWatch::Alarm": ("AlarmName", "name", "arn:{p}:cloudwatch:{r}:{a}:alarm:{n}", {}),
    "AWS::ApplicationAutoScaling::ScalableTarget": (None, "id", None, {}),
    "AWS::ApplicationAutoScaling::ScalingPolicy": ("PolicyName", "arn", None, {}),
    "AWS::Budgets::Budget": ("BudgetName", "name", None, {}),
    "AWS::SQS::Queue": ("QueueName", "url", "arn:{p}:sqs:{r}:{a}:{n}",
                        {"QueueName": "{n}", "QueueUrl": "https://sqs.{r}.amazonaws.com/{a}/{n}"}),
    "AWS::SQS::QueuePolicy": (None, "id", None, {}),
    "AWS::Lambda::EventInvokeConfig": (None, "id", None, {}),
}


def _suffix(*parts: str) -> str:
    """CloudFormation's random suffix, made deterministic: 12 upper-case letters and digits."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest().upper()
    return digest[:12]


class ResolvedStack:
    """One stack's template evaluated for concrete parameters, with its nested stacks resolved too.

    Values are resolved by :class:`inference_platform_ops.intrinsics.Evaluator` (the project's one evaluator);
    this class answers what it asks about resources: physical names (the name property, else CloudFormation's
    <stack>-<LogicalId>-<SUFFIX> with a fixed suffix), ARNs and attributes (``_IDENTITY``), and nested stacks'
    outputs. ``known`` overrides Ref/Fn::GetAtt for resources (``"Logical"``, ``"Logical.Attr"``), for callers
    that created them (e.g. in moto) and want the real identifiers.
    """

    def __init__(self, path: str | Path, parameters: Mapping[str, str] | None = None, *, region: str = "us-east-1",
                 account: str = DEFAULT_ACCOUNT, stack_name: str = "stack", partition: str = "aws",
                 tags: Mapping[str, str] | None = None, known: Mapping[str, Any] | None = None,
                 template: dict | None = None, stack_id: str | None = None):
        self.path = Path(path)
        self.template = template if template is not None else _shared_template(self.path)
        self.region, self.account, self.partition, self.stack_name = region, account, partition, stack_name
        self.stack_id = stack_id or (f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/"
                                     f"{_uuid_for(stack_name, region)}")
        self.tags = dict(tags or {})
        self.known = dict(known or {})
        declared = self.template.get("Parameters") or {}
        self.evaluator = Evaluator(self.template, {k: v for k, v in (parameters or {}).items() if k in declared},
                                   region=region, account_id=account, stack_name=stack_name, strict=True)
        self.evaluator.pseudo.update({"AWS::StackId": self.stack_id, "AWS::Partition": partition})
        self.evaluator.resources = _Identities(self)  # looked up on demand
        self.parameters: dict[str, str] = self.evaluator.values
        self.resources = self.evaluator.active_resources()
        self.children: dict[str, ResolvedStack] = {}

    def condition(self, name: str) -> bool:
        return self.evaluator.condition(name)

    def resolve(self, expr: Any) -> Any:
        return self.evaluator.resolve(expr)

    def properties(self, logical: str) -> dict:
        return self.resolve(self.resources[logical].get("Properties") or {})

    # --- resources ---------------------------------------------------------------------------------------
    def physical_name(self, logical: str) -> str:
        body = self.template["Resources"][logical]
        name_property = _IDENTITY.get(body["Type"], (None,))[0]
        props = body.get("Properties") or {}
        if name_property and name_property in props and body["Type"] != "AWS::IAM::Policy":
            return as_text(self.resolve(props[name_property]))
        if body["Type"] == "AWS::KMS::Key":
            return _uuid_for(self.stack_name, logical)
        generated = f"{self.stack_name}-{logical}-{_suffix(self.stack_name, logical)}"
        return generated[:64] if body["Type"] in ("AWS::IAM::Role", "AWS::Lambda::Function") else generated

    def arn(self, logical: str) -> str | None:
        body = self.template["Resources"][logical]
        if body["Type"] == "AWS::CloudFormation::Stack":
            return self.child(logical).stack_id
        fmt = _IDENTITY.get(body["Type"], (None, "id", None, {}))[2]
        if fmt is None:
            return None
        name = self.physical_name(logical)
        return fmt.format(p=self.partition, r=self.region, a=self.account, n=name, lower=name.lower())

    def ref(self, logical: str) -> Any:
        if logical in self.known:
            return self.known[logical]
        body = self.template["Resources"][logical]
        if body["Type"] == "AWS::CloudFormation::Stack":
            return self.child(logical).stack_id
        if body["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget":
            props = self.resolve(body["Properties"])
            return f"{props['ResourceId']}|{props['ScalableDimension']}|{props['ServiceNamespace']}"
        kind = _IDENTITY.get(body["Type"], (None, "id", None, {}))[1]
        if kind == "url":
            return self.attribute(logical, "QueueUrl")
        return self.arn(logical) if kind == "arn" else self.physical_name(logical)

    def attribute(self, logical: str, attribute: str) -> Any:
        if f"{logical}.{attribute}" in self.known:
            return self.known[f"{logical}.{attribute}"]
        body = self.template["Resources"][logical]
        if body["Type"] == "AWS::CloudFormation::Stack" and attribute.startswith("Outputs."):
            return self.child(logical).output(attribute.split(".", 1)[1])
        if attribute == "Arn":
            return self.arn(logical)
        extra = _IDENTITY.get(body["Type"], (None, "id", None, {}))[3]
        if attribute in extra:
            name = self.physical_name(logical)
            return extra[attribute].format(n=name, arn=self.arn(logical), lower=name.lower(), r=self.region,
                                           a=self.account)
        raise UnresolvableError(f"{logical}.{attribute}")

    def child(self, logical: str) -> ResolvedStack:
        if logical not in self.children:
            props = self.resources[logical]["Properties"]
            url = props["TemplateURL"]
            if isinstance(url, dict) or "://" in str(url):
                raise UnresolvableError(f"{logical}: TemplateURL must be a relative path to resolve offline")
            name = f"{self.stack_name}-{logical}-{_suffix(self.stack_name, logical)}"
            values = {key: as_text(self.resolve(value)) for key, value in (props.get("Parameters") or {}).items()}
            self.children[logical] = ResolvedStack(self.path.parent / url, values, region=self.region,
                                                   account=self.account, stack_name=name, partition=self.partition,
                                                   tags=self.tags)
        return self.children[logical]

    def nested(self) -> list[ResolvedStack]:
        """This stack and every nested stack that exists for these parameters, depth first."""
        stacks = [self]
        for logical, body in self.resources.items():
            if body["Type"] == "AWS::CloudFormation::Stack":
                stacks.extend(self.child(logical).nested())
        return stacks

    def output(self, name: str) -> Any:
        spec = (self.template.get("Outputs") or {})[name]
        if "Condition" in spec and not self.condition(spec["Condition"]):
            raise UnresolvableError(f"output {name} does not exist (its Condition is false)")
        return self.resolve(spec["Value"])

    def outputs(self) -> dict[str, Any]:
        return {name: self.resolve(spec["Value"]) for name, spec in (self.template.get("Outputs") or {}).items()
                if "Condition" not in spec or self.condition(spec["Condition"])}


class _Identities(Mapping[str, Any]):
    """What Ref/Fn::GetAtt of a resource return, computed when the evaluator asks."""

    def __init__(self, stack: ResolvedStack):
        self.stack = stack

    def __contains__(self, key: object) -> bool:
        logical = str(key).split(".", 1)[0]
        return logical in (self.stack.template.get("Resources") or {}) or str(key) in self.stack.known

    def __getitem__(self, key: str) -> Any:
        if "." in key:
            logical, attribute = key.split(".", 1)
            return self.stack.attribute(logical, attribute)
        return self.stack.ref(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.stack.template.get("Resources") or {})

    def __len__(self) -> int:
        return len(self.stack.template.get("Resources") or {})


_TEMPLATES: dict[tuple[Path, float], dict] = {}


def _shared_template(path: Path) -> dict:
    """One parse per file and version: ResolvedStack never changes the template it reads."""
    key = (path.resolve(), path.stat().st_mtime)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = load_template(path)
    return _TEMPLATES[key]


def _uuid_for(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))
