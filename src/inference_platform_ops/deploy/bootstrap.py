"""`make bootstrap ENV=<env>`: templates/bootstrap.yaml in every region of the environment, like `cdk bootstrap`.

Deploys the stack ``<ProjectName>-bootstrap`` in each region of the env's DR plan, primary first, through the
same change-set path as `make deploy` (table, events, outputs, production gate). One region of the account
holds the account-wide part (``CreateAccountResources=true``: GitHub OIDC provider, deploy roles, plan role,
CloudFormation execution role): the region that already has it, else the primary; every other region gets
only its artifact bucket. ``CreateOidcProvider`` is kept as the stack has it, or ``false`` when the account
already has GitHub's provider. ``GitHubOrg``/``GitHubRepo`` come from ``$GITHUB_REPOSITORY`` (set in GitHub
Actions) or the ``origin`` remote of this clone.

Afterwards `make deploy` needs nothing pasted anywhere: it reads ``ArtifactBucketName`` of each region's
bootstrap stack and ``CloudFormationExecutionRoleArn`` of the account region (``Parameters.ArtifactBucket`` /
``RegionParameters.<region>.ArtifactBucket`` in the params file and ``$CFN_EXECUTION_ROLE_ARN`` still win).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from inference_platform.shared.settings import ConfigError
from inference_platform_ops.deploy import stack_ops
from inference_platform_ops.deploy.config import StackTarget
from inference_platform_ops.paths import ROOT

TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation accepts as TemplateBody (the bucket does not exist yet)
OIDC_HOST = "token.actions.githubusercontent.com"
_REMOTE = re.compile(r"github\.com[:/](?P<org>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$")


def project_name(config: Mapping[str, Any]) -> str:
    return str(config["Parameters"].get("ProjectName") or "ml-inference")


def stack_name(config: Mapping[str, Any]) -> str:
    return f"{project_name(config)}-bootstrap"


def github_repository(env: str) -> tuple[str, str]:
    """(org, repo) the deploy roles trust: $GITHUB_REPOSITORY, else this clone's origin remote."""
    import os

    value = os.environ.get("GITHUB_REPOSITORY", "")
    git = shutil.which("git")
    if not value and git:
        try:
            url = subprocess.run([git, "remote", "get-url", "origin"], cwd=ROOT, capture_output=True, text=True,
                                 check=False, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            url = ""
        match = _REMOTE.search(url)
        value = f"{match['org']}/{match['repo']}" if match else ""
    if "/" not in value:
        if env == "local":
            return "local", "local"  # the emulator's roles trust nobody real
        raise ConfigError("the GitHub repository the deploy roles should trust is unknown: set "
                          "GITHUB_REPOSITORY=<org>/<repo> (this clone has no github.com origin remote)")
    org, repo = value.split("/", 1)
    return org, repo


def outputs(cfn, config: Mapping[str, Any]) -> dict[str, str] | None:
    """The bootstrap stack's outputs in the client's region, or None when there is no complete stack."""
    status = stack_ops.stack_status(cfn, stack_name(config))
    if status not in stack_ops.SUCCESS and status not in ("UPDATE_ROLLBACK_COMPLETE",):
        return None
    return dict(stack_ops.outputs(cfn, stack_name(config)))


def _deployed_parameters(cfn, name: str) -> dict[str, str]:
    try:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError:
        return {}
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def _oidc_provider_exists(iam) -> bool:
    providers = iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
    return any(p["Arn"].endswith(f"oidc-provider/{OIDC_HOST}") for p in providers)


def targets(config: Mapping[str, Any], regions: list[str], client, template_path: Path) -> list[StackTarget]:
    """One bootstrap stack per region (``regions`` primary first); ``client(service, region)`` reads the account."""
    name = stack_name(config)
    deployed = {region: _deployed_parameters(client("cloudformation", region), name) for region in regions}
    account_region = next((r for r in regions if deployed[r].get("CreateAccountResources") == "true"), regions[0])
    org, repo = github_repository(config["Environment"])
    create_oidc = deployed[account_region].get("CreateOidcProvider")
    if create_oidc is None:
        create_oidc = "false" if _oidc_provider_exists(client("iam", account_region)) else "true"
    result = []
    for region in regions:
        parameters = {"ProjectName": project_name(config), "GitHubOrg": org, "GitHubRepo": repo,
                      "CreateAccountResources": "true" if region == account_region else "false",
                      "CreateOidcProvider": create_oidc if region == account_region else "false"}
        if region == account_region:
            parameters.update(smoke_input_locations(template_path.parent / "params"))
        role = "account" if region == account_region else "bucket"
        tags = {"Project": project_name(config), "Environment": "shared"}
        result.append(StackTarget(role, region, name, template_path, parameters, tags))
    return result


def smoke_input_locations(params_dir: Path) -> dict[str, str]:
    """``<Env>InputLocation`` for every deployed environment's params file: its deploy role may write make
    smoke's sample files there (bootstrap.yaml)."""
    import json

    found = {}
    for env in ("dev", "staging", "production"):
        path = params_dir / f"{env}.json"
        if path.is_file():
            location = (json.loads(path.read_text()).get("Parameters") or {}).get("InputLocation", "")
            if location:
                found[f"{env.capitalize()}InputLocation"] = location
    return found


def check_template_size(body: bytes, template_path: Path) -> None:
    if len(body) > TEMPLATE_BODY_LIMIT:
        raise ConfigError(f"{template_path.name} is {len(body)} bytes as JSON; CloudFormation takes at most "
                          f"{TEMPLATE_BODY_LIMIT} bytes inline and the bootstrap has no bucket yet: shorten it")


def artifact_buckets(config: Mapping[str, Any], regions: list[str], client, overrides: Mapping[str, str]
                     ) -> dict[str, str]:
    """Each region's artifact bucket: the params file's value when set, else the bootstrap stack's output."""
    buckets, missing = {}, []
    for region in regions:
        if overrides.get(region):
            buckets[region] = overrides[region]
            continue
        found = outputs(client("cloudformation", region), config)
        if not found or not found.get("ArtifactBucketName"):
            missing.append(region)
            continue
        buckets[region] = found["ArtifactBucketName"]
    if missing:
        raise ConfigError(f"no bootstrap stack {stack_name(config)} in {', '.join(missing)}: run `make bootstrap "
                          f"ENV={config['Environment']}` (administrator credentials) first, or set "
                          "Parameters.ArtifactBucket; nothing was uploaded")
    return buckets


def execution_role(config: Mapping[str, Any], regions: list[str], client) -> str:
    """CloudFormationExecutionRoleArn of the account region's bootstrap stack ("" when none is found)."""
    for region in regions:
        found = outputs(client("cloudformation", region), config) or {}
        if found.get("CloudFormationExecutionRoleArn"):
            return found["CloudFormationExecutionRoleArn"]
    return ""
