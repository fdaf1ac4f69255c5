"""Who acts in a deployment and with which policies, read from the templates resolved for a params file.

A deployment is templates/main.yaml (and its nested stacks) per region, plus templates/bootstrap.yaml for the
deploy roles and the CloudFormation execution role. Each principal's policies are what IAM would evaluate for
its role: inline policies, customer managed policies of the same templates, AWS managed policies (their
documents as moto ships them) and AWS::IAM::Policy resources attached to the role.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference_platform_ops.deploy.dr_tiers import region_plans
from inference_platform_ops.deploy.naming import sagemaker_revision
from inference_platform_ops.stacks import DEFAULT_ACCOUNT, ResolvedStack
from inference_platform_ops.templates import validate_parameters

ENVIRONMENTS = ("local", "dev", "staging", "production")
DEPLOY_ROLES = {"dev": "DevDeployRole", "staging": "StagingDeployRole", "production": "ProductionDeployRole"}


@dataclass
class RolePolicies:
    role_arn: str
    policies: list[dict[str, Any]] = field(default_factory=list)  # [{"name": ..., "policy": document}]
    unknown_managed: list[str] = field(default_factory=list)


@functools.cache
def _aws_managed() -> dict[str, dict]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415

    return {name: body["Document"] for name, body in json.loads(aws_managed_policies_data).items()}


def role_policies(stacks: list[ResolvedStack], stack: ResolvedStack, role_logical: str) -> RolePolicies:
    """Everything IAM evaluates for the role ``role_logical`` of ``stack`` (``stacks``: the whole deployment)."""
    props = stack.properties(role_logical)
    found = RolePolicies(stack.arn(role_logical) or "")
    for policy in props.get("Policies", []):
        found.policies.append({"name": f"{role_logical}/{policy['PolicyName']}", "policy": policy["PolicyDocument"]})
    managed_by_arn = {other.arn(logical): (other, logical) for other in stacks for logical, body in
                      other.resources.items() if body["Type"] == "AWS::IAM::ManagedPolicy"}
    for arn in props.get("ManagedPolicyArns", []):
        if arn in managed_by_arn:
            other, logical = managed_by_arn[arn]
            found.policies.append({"name": logical, "policy": other.properties(logical)["PolicyDocument"]})
        elif ":iam::aws:policy/" in arn and arn.rsplit("/", 1)[-1] in _aws_managed():
            found.policies.append({"name": arn, "policy": _aws_managed()[arn.rsplit("/", 1)[-1]]})
        else:
            found.unknown_managed.append(arn)
    role_name = stack.physical_name(role_logical)
    for logical, body in stack.resources.items():
        if body["Type"] == "AWS::IAM::Policy":
            attached = stack.properties(logical)
            if role_name in attached.get("Roles", []):
                found.policies.append({"name": logical, "policy": attached["PolicyDocument"]})
    return found


def _role_logical(stack: ResolvedStack, role_arn: str) -> str | None:
    for logical, body in stack.resources.items():
        if body["Type"] == "AWS::IAM::Role" and stack.arn(logical) == role_arn:
            return logical
    return None


@dataclass
class Deployment:
    """One params file resolved in each of its regions, plus bootstrap.yaml for its account-wide roles."""

    env: str
    overrides: dict[str, str]
    regions: dict[str, ResolvedStack]  # region -> root stack (primary first)
    bootstrap: ResolvedStack | None
    problems: list[str]
    params_artifact_bucket: str = ""  # what the params file says (the deploy's world), before bootstrap naming
    _tags: dict[str, dict[str, str]] | None = None
    _principals: dict[tuple[str, str, str], tuple[str, RolePolicies] | None] = field(default_factory=dict)

    @property
    def primary(self) -> ResolvedStack:
        return next(iter(self.regions.values()))

    def stacks(self, region: str | None = None) -> list[ResolvedStack]:
        roots = [self.regions[region]] if region else list(self.regions.values())
        return [stack for root in roots for stack in root.nested()]

    def principal_policies(self, kind: str, name: str, region: str) -> tuple[str, RolePolicies] | None:
        """(what it is, its policies) for a Lambda function name, state machine ARN or deploy environment."""
        key = (kind, name, region)  # thousands of recorded calls share a few dozen principals
        if key not in self._principals:
            self._principals[key] = self._find_principal_policies(kind, name, region)
        return self._principals[key]

    def _find_principal_policies(self, kind: str, name: str, region: str) -> tuple[str, RolePolicies] | None:
        if kind == "deploy":
            if self.bootstrap is None or name not in DEPLOY_ROLES:
                return None
            logical = DEPLOY_ROLES[name]
            return f"bootstrap.yaml {logical}", role_policies([self.bootstrap], self.bootstrap, logical)
        if region not in self.regions:
            return None
        stacks = self.stacks(region)
        for stack in stacks:
            for logical, body in stack.resources.items():
                if kind == "lambda" and body["Type"] == "AWS::Lambda::Function":
                    if stack.physical_name(logical) != name:
                        continue
                    role_arn = stack.properties(logical)["Role"]
                elif kind == "state-machine" and body["Type"] == "AWS::StepFunctions::StateMachine":
                    if stack.ref(logical) != name:
                        continue
                    role_arn = stack.properties(logical)["RoleArn"]
                else:
                    continue
                role = _role_logical(stack, role_arn)
                if role is None:
                    return None
                return f"{stack.path.name} {logical} (role {role})", role_policies(stacks, stack, role)
        return None

    def resource_policy(self, arn: str) -> dict | None:
        """The key policy of a KMS key of this deployment (KMS needs it to honour identity policies)."""
        for stack in self.stacks():
            for logical, body in stack.resources.items():
                if body["Type"] == "AWS::KMS::Key" and stack.arn(logical) == arn:
                    return stack.properties(logical)["KeyPolicy"]
        return None

    def resource_tags(self, arn: str) -> dict[str, str]:
        """Tags AWS would report for the resource with this ARN: its template Tags plus the stack tags."""
        if self._tags is None:
            self._tags = {}
            for stack in self.stacks():
                for logical, body in stack.resources.items():
                    if "Tags" not in (body.get("Properties") or {}):
                        continue
                    tags = dict(stack.tags)
                    for tag in stack.properties(logical).get("Tags", []) or []:
                        if isinstance(tag, dict) and "Key" in tag:
                            tags[tag["Key"]] = str(tag["Value"])
                    resource_arn = stack.arn(logical)
                    if resource_arn:
                        self._tags[resource_arn] = tags
        return self._tags.get(arn, {})


def load_config(env: str, params_dir: Path) -> dict:
    from inference_platform_ops.deploy.config import load_config as read  # noqa: PLC0415

    return read(env, params_dir)


def deployment(env: str, templates: Path, overrides: dict[str, str] | None = None,
               account: str = DEFAULT_ACCOUNT) -> Deployment:
    """``env``'s params file resolved as make deploy would deploy it (artifact bucket named as bootstrap.yaml
    names it, SageMaker revision derived), with ``overrides`` applied to every region. Cached per process for
    unchanged files (treat the result as read-only)."""
    files = sorted((templates / "params").glob("*.json")) + sorted(templates.glob("*.yaml"))
    key = (env, str(templates.resolve()), tuple(sorted((overrides or {}).items())), account,
           tuple((str(f), f.stat().st_mtime) for f in files))
    if key not in _DEPLOYMENTS:
        _DEPLOYMENTS[key] = _deployment(env, templates, overrides, account)
    return _DEPLOYMENTS[key]


_DEPLOYMENTS: dict[tuple, Deployment] = {}


def _deployment(env: str, templates: Path, overrides: dict[str, str] | None, account: str) -> Deployment:
    config = load_config(env, templates / "params")
    overrides = dict(overrides or {})
    main = templates / "main.yaml"
    roots: dict[str, ResolvedStack] = {}
    problems: list[str] = []
    project = config["Parameters"].get("ProjectName", "ml-inference")
    main_template = ResolvedStack(main, {}).template
    for plan in region_plans(config):
        params = {**plan.parameters, **overrides}
        params["ArtifactBucket"] = f"{project}-artifacts-{account}-{plan.region}"
        params["LambdaCodeKey"] = f"{env}/lambda/{'0' * 64}.zip"
        if "SageMakerRevision" in main_template.get("Parameters", {}):
            params.setdefault("SageMakerRevision", sagemaker_revision(params))
        problems += [f"{plan.region}: {p}" for p in validate_parameters(main_template, params, plan.region)]
        roots[plan.region] = ResolvedStack(main, params, region=plan.region, account=account,
                                           stack_name=config["StackName"], tags=config.get("Tags") or {},
                                           template=main_template)
    bootstrap = None
    if env in DEPLOY_ROLES and (templates / "bootstrap.yaml").is_file():
        values = {"ProjectName": project, "GitHubOrg": "example-org", "GitHubRepo": "inference"}
        for other in DEPLOY_ROLES:
            if not (templates / "params" / f"{other}.json").is_file():
                continue
            other_config = load_config(other, templates / "params")
            key = f"{other.capitalize()}InputLocation"
            values[key] = other_config["Parameters"].get("InputLocation", "")
        bootstrap = ResolvedStack(templates / "bootstrap.yaml", values, region=config["Regions"]["Primary"],
                                  account=account, stack_name=f"{project}-bootstrap")
    return Deployment(env, overrides, roots, bootstrap, problems,
                      params_artifact_bucket=config["Parameters"].get("ArtifactBucket", ""))
