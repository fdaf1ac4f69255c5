"""Deploy an environment: `make deploy ENV=<env>` (default local, the emulator on 127.0.0.1).

Order of work, so that a bad input never leaves half a deployment:
1. check ENV, the params file, every stack's parameters against its template, and (for AWS) that
   credentials exist -- nothing has been built or uploaded yet;
2. build the Lambda zip once (content-addressed) and, per region, upload it and the packaged
   nested templates to that region's artifact bucket;
3. create one change set per stack (regional stack in every region, primary first; billing alarms
   in us-east-1), print them, and stop there for production unless approved;
4. execute them in order, streaming events; stop at the first failure and print its cause.

Exit codes: 0 deployed or nothing to change, 1 a deploy failed, 2 bad input, 3 production refused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

import inference_platform
from inference_platform_ops.deploy import packaging, stack_ops
from inference_platform_ops.deploy.config import (
    BILLING_REGION,
    PLACEHOLDER_CODE_KEY,
    ConfigError,
    StackTarget,
    billing_parameters,
    load_config,
    parameter_errors,
)
from inference_platform_ops.emulator import local_aws
from inference_platform_ops.paths import BUILD, REQUIREMENTS, RUNTIME_PACKAGE, TEMPLATES, TOOLS

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED = 1, 2, 3
VERSION_PARAMETER = "TemplateVersion"
_NOT_IN_VERSION = re.compile(r"[^A-Za-z0-9._+/-]")  # what main.yaml's TemplateVersion AllowedPattern accepts


def template_version(where: Path) -> str:
    """The version of what is deployed from ``where``: ``git describe --always --dirty`` of the checkout
    holding it (a tag, or the commit, with ``-dirty`` for uncommitted changes), or the package version
    (``inference_platform.__version__``) when ``where`` is not in a git checkout or git is missing.

    An unchanged checkout gives the same value every time, so redeploying it still finds "no changes".
    """
    described = ""
    git = shutil.which("git")
    if git:
        try:
            proc = subprocess.run([git, "-C", str(where), "describe", "--always", "--dirty"],
                                  capture_output=True, text=True, timeout=30, check=False)
            described = proc.stdout.strip() if proc.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            described = ""
    # A tag may hold characters a parameter refuses; keep the value usable rather than fail the deploy.
    version = _NOT_IN_VERSION.sub("-", described or inference_platform.__version__).lstrip("._+/-")[:128]
    return version or "unversioned"


def with_version(
    template: dict, parameters: dict[str, str], version: str, where: str
) -> tuple[dict[str, str], list[str]]:
    """``parameters`` plus TemplateVersion when the template declares it; a params file may not set it."""
    if VERSION_PARAMETER not in (template.get("Parameters") or {}):
        return parameters, []
    problems = []
    if VERSION_PARAMETER in parameters:
        problems.append(f"{where}: {VERSION_PARAMETER} is set by the deploy (git describe of the checkout); "
                        "remove it from the params file")
    return {**parameters, VERSION_PARAMETER: version}, problems


class Deployer:
    """Holds the clients for one run; ``endpoint`` set means the local emulator."""

    def __init__(self, env: str, endpoint: str | None, poll: float, role_arn: str = ""):
        self.env = env
        self.endpoint = endpoint
        self.poll = poll
        self.role_arn = role_arn  # CloudFormation execution role (bootstrap.yaml); deploy roles require it
        self._clients: dict[tuple[str, str], object] = {}
        if endpoint:  # the emulator accepts any key; never hand it real credentials
            self.session = boto3.Session(**local_aws.EMULATOR_KEYS)
        else:
            self.session = boto3.Session()

    def client(self, service: str, region: str):
        key = (service, region)
        if key not in self._clients:  # building a botocore client costs tens of milliseconds
            self._clients[key] = self.session.client(service, region_name=region, endpoint_url=self.endpoint)
        return self._clients[key]

    def object_url(self, bucket: str, key: str, region: str) -> str:
        if self.endpoint:
            return f"{self.endpoint.replace('127.0.0.1', 'localhost')}/{bucket}/{key}"
        return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"

    def ensure_bucket(self, bucket: str, region: str) -> None:
        """Emulator only: create the artifact bucket (on AWS the bootstrap stack owns it)."""
        s3 = self.client("s3", region)
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=bucket, **extra)

    def upload(self, bucket: str, region: str, key: str, body: bytes) -> str:
        """Store ``body`` at <env>/<key> (deploy roles may write only under their environment's prefix)."""
        s3 = self.client("s3", region)
        key = f"{self.env}/{key}"
        try:
            s3.head_object(Bucket=bucket, Key=key)  # content-addressed: present means identical
        except ClientError:
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            except ClientError as exc:
                code = exc.response["Error"].get("Code")
                raise ConfigError(f"cannot write s3://{bucket}/{key} in {region} ({code}): ArtifactBucket must be "
                                  f"the ArtifactBucketName output of templates/bootstrap.yaml in {region}") from exc
        return self.object_url(bucket, key, region)


def build_targets(config: dict, templates: Path, version: str = "unversioned") -> tuple[list[StackTarget], list[str]]:
    """Every stack to deploy (primary first, billing last) and every parameter problem found.

    ``version`` becomes the TemplateVersion parameter of every template that declares one.
    """
    from inference_platform_ops.deploy.dr_tiers import region_plans

    main_path = templates / "main.yaml"
    billing_path = templates / "billing-alarms.yaml"
    main_template = packaging.load_template(main_path)
    targets, problems = [], []
    tags = {k: str(v) for k, v in (config.get("Tags") or {}).items()}
    try:
        plans = region_plans(config)
    except ValueError as exc:
        raise ConfigError(f"params file {config['_path']}: {exc}") from exc
    for plan in plans:
        params = {**plan.parameters, "LambdaCodeKey": f"{config['Environment']}/{PLACEHOLDER_CODE_KEY}"}
        where = f"{config['_path']} ({plan.role} {plan.region})"
        params, version_problems = with_version(main_template, params, version, where)
        problems += version_problems + parameter_errors(main_template, params, plan.region, where)
        bucket = params.get("ArtifactBucket", "")
        if not bucket or bucket.startswith("replace-with"):
            problems.append(f"{config['_path']}: ArtifactBucket for {plan.region} is {bucket!r}: deploy "
                            "templates/bootstrap.yaml in that region and put its ArtifactBucketName output there")
        targets.append(StackTarget(plan.role, plan.region, config["StackName"], main_path, params, tags))
    billing_template = packaging.load_template(billing_path)
    billing = billing_parameters(config, billing_template)
    if billing is not None:
        billing, _ = with_version(billing_template, billing, version, "BillingAlarms")  # never in the params file
        problems += parameter_errors(billing_template, billing, BILLING_REGION, f"{config['_path']} (BillingAlarms)")
        targets.append(StackTarget("billing", BILLING_REGION, f"{config['StackName']}-billing", billing_path,
                                   billing, tags))
    return targets, problems


def build_lambda(env: str, skip_deps: bool) -> packaging.LambdaArtifact:
    cache = TOOLS / "cache"
    deps = None
    if not skip_deps:
        try:
            deps = packaging.install_dependencies(REQUIREMENTS / "runtime.txt", cache)
        except packaging.PackagingError as exc:
            if env != "local":
                raise
            # The emulator runs handlers in-process from .venv, so the zip's dependencies are never used.
            print(f"deploy: WARNING {exc}; packaging without dependencies (fine for the local emulator only)")
    artifact = packaging.build_lambda_zip(RUNTIME_PACKAGE, BUILD, deps)
    size_kb = artifact.path.stat().st_size / 1024
    print(f"deploy: Lambda zip {artifact.key} ({size_kb:.0f} KiB, "
          f"{'with' if artifact.with_dependencies else 'WITHOUT'} runtime dependencies)")
    return artifact


def plan_target(deployer: Deployer, target: StackTarget, artifact: packaging.LambdaArtifact,
                replace_failed: bool, change_set_name: str) -> tuple[StackTarget, stack_ops.ChangeSetPlan]:
    cfn = deployer.client("cloudformation", target.region)
    if target.role == "billing":
        template = {"TemplateBody": packaging.template_bytes(packaging.load_template(target.template_path)).decode()}
    else:
        bucket = target.parameters["ArtifactBucket"]
        if deployer.endpoint:
            deployer.ensure_bucket(bucket, target.region)
        deployer.upload(bucket, target.region, artifact.key, artifact.path.read_bytes())
        target = replace(target, parameters={**target.parameters, "LambdaCodeKey": f"{deployer.env}/{artifact.key}"})
        packaged = packaging.package_template(
            target.template_path, lambda key, body: deployer.upload(bucket, target.region, key, body))
        body = packaging.template_bytes(packaged)
        key = f"templates/{hashlib.sha256(body).hexdigest()}.json"
        template = {"TemplateURL": deployer.upload(bucket, target.region, key, body)}
    status = stack_ops.stack_status(cfn, target.stack_name)
    cs_type = stack_ops.change_set_type_for(target.stack_name, status, replace_failed, cfn, deployer.poll)
    plan = stack_ops.create_change_set(
        cfn, region=target.region, stack_name=target.stack_name, change_set_name=change_set_name,
        change_set_type=cs_type, template=template, parameters=target.parameters,
        tags=target.tags, role_arn=deployer.role_arn, poll=deployer.poll)
    return target, plan


def production_approved(args: argparse.Namespace) -> bool:
    # GITHUB_ENVIRONMENT counts only inside GitHub Actions, where the production environment's required
    # reviewers have already approved the job; in a shell it is no substitute for CONFIRM=yes.
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    github_environment = args.github_environment or (os.environ.get("GITHUB_ENVIRONMENT") if in_actions else None)
    return os.environ.get("CONFIRM") == "yes" or github_environment == "production"


def write_step_summary(env: str, plans: list[stack_ops.ChangeSetPlan], outcome: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(f"## Deploy {env}: {outcome}\n\n")
        for plan in plans:
            summary.write(stack_ops.markdown_changes(plan) + "\n")


def report_stack(deployer: Deployer, target: StackTarget) -> None:
    cfn = deployer.client("cloudformation", target.region)
    rows = stack_ops.outputs(cfn, target.stack_name)
    print(f"deploy: outputs of {target.stack_name} ({target.region}):")
    for key, value in rows or [("(none)", "")]:
        print(f"  {key:<34} {value}")
    missing = stack_ops.not_created(cfn, target.stack_name)
    if missing:
        why = "the emulator could NOT create (moto does not support them)" if deployer.endpoint else \
            "listed without a physical id (not created)"
        print(f"deploy: {len(missing)} resource(s) {why}:")
        for stack, logical_id, resource_type in missing:
            print(f"  {resource_type:<48} {logical_id}  (stack {stack})")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.env, args.templates_dir / "params")
    version = template_version(args.templates_dir)
    targets, problems = build_targets(config, args.templates_dir, version)
    if problems:
        extra = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + extra)
    endpoint = args.endpoint_url
    if args.env == "local" and not endpoint:
        endpoint = local_aws.start(local_aws.configured_port())["endpoint"]
        print(f"deploy: local emulator at {endpoint}")
    deployer = Deployer(args.env, endpoint, args.poll or (0.1 if endpoint else 5.0),
                        "" if endpoint else args.cfn_role_arn)
    if not endpoint and deployer.session.get_credentials() is None:
        raise ConfigError(f"no AWS credentials for ENV={args.env}: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                          "AWS_SECRET_ACCESS_KEY, or run in GitHub Actions with the OIDC role; nothing was uploaded")

    print(f"deploy: template version {version} (the TemplateVersion output)")
    artifact = build_lambda(args.env, args.no_deps)
    change_set_name = "deploy-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    planned: list[tuple[StackTarget, stack_ops.ChangeSetPlan]] = []
    try:
        for target in targets:
            planned.append(plan_target(deployer, target, artifact, args.replace_failed, change_set_name))
            print(stack_ops.format_changes(planned[-1][1]) + "\n")
    except Exception:
        discard_all(deployer, planned)  # never leave half a plan waiting in the account
        raise
    plans = [p for _, p in planned]
    if all(p.no_changes for p in plans):
        discard_all(deployer, planned)
        print(f"deploy: no changes for {args.env}; nothing to do")
        write_step_summary(args.env, plans, "no changes")
        return 0
    if args.env == "production" and not production_approved(args):
        discard_all(deployer, planned)
        print("deploy: REFUSED production deploy: set CONFIRM=yes, or run in the 'production' GitHub environment "
              "(approved by its required reviewers). Nothing was executed; the change sets were deleted.")
        write_step_summary(args.env, plans, "refused (not approved)")
        return EXIT_REFUSED
    write_step_summary(args.env, plans, "executing")
    return execute_all(deployer, planned)


def discard_all(deployer: Deployer, planned: list[tuple[StackTarget, stack_ops.ChangeSetPlan]]) -> None:
    for target, plan in planned:
        stack_ops.discard(deployer.client("cloudformation", target.region), plan, deployer.poll)


def execute_all(deployer: Deployer, planned: list[tuple[StackTarget, stack_ops.ChangeSetPlan]]) -> int:
    """Execute the change sets in order; stop at the first failure and say why."""
    for index, (target, plan) in enumerate(planned):
        cfn = deployer.client("cloudformation", target.region)
        if plan.no_changes:
            stack_ops.discard(cfn, plan, deployer.poll)
            continue
        print(f"deploy: executing {plan.change_set_type} of {target.stack_name} in {target.region}")
        status = stack_ops.execute(cfn, plan, deployer.poll)
        if status not in stack_ops.SUCCESS:
            failure = stack_ops.first_failure(cfn, plan.stack_id)
            cause = f"{failure[0]} ({failure[1]}): {failure[2]}" if failure else "no failed resource reported"
            print(f"deploy: FAILED {target.stack_name} ({target.region}) ended {status}; first failure: {cause}")
            write_step_summary(deployer.env, [], f"FAILED: {target.stack_name} ({target.region}) {status}: {cause}")
            discard_all(deployer, planned[index + 1:])
            if status in stack_ops.NEEDS_DELETE:
                print(f"deploy: {target.stack_name} must be deleted before the next deploy: re-run with "
                      "--replace-failed (or REPLACE_FAILED=yes)")
            return EXIT_FAILED
        if deployer.env == "production":
            cfn.update_termination_protection(StackName=target.stack_name, EnableTerminationProtection=True)
            print(f"deploy: termination protection on for {target.stack_name}")
        report_stack(deployer, target)
    print(f"deploy: {deployer.env} deployed")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Deploy an environment (see docs/deploy.md).")
    parser.add_argument("--env", default=os.environ.get("ENV", "local"))
    parser.add_argument("--github-environment", default=None,
                        help="the GitHub Actions environment this job runs in (production counts as approval)")
    parser.add_argument("--replace-failed", action="store_true",
                        default=os.environ.get("REPLACE_FAILED") == "yes",
                        help="delete a stack left in ROLLBACK_COMPLETE by a failed first deploy, then deploy")
    parser.add_argument("--cfn-role-arn", default=os.environ.get("CFN_EXECUTION_ROLE_ARN", ""),
                        help="CloudFormation execution role for the change sets (bootstrap.yaml's "
                             "CloudFormationExecutionRoleArn; default $CFN_EXECUTION_ROLE_ARN)")
    parser.add_argument("--no-deps", action="store_true",
                        help="package the Lambda zip without runtime dependencies (tests; never for AWS)")
    parser.add_argument("--endpoint-url", default=None, help="use this emulator endpoint instead of starting one")
    parser.add_argument("--templates-dir", type=Path, default=TEMPLATES,
                        help="directory with main.yaml, billing-alarms.yaml and params/<env>.json")
    parser.add_argument("--poll", type=float, default=None, help="seconds between status polls")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.no_deps and args.env != "local" and not args.endpoint_url:
        print("deploy: error: --no-deps is only for the local emulator; AWS Lambdas need their dependencies")
        return EXIT_BAD_INPUT
    try:
        return run(args)
    except (ConfigError, packaging.PackagingError) as exc:
        print(f"deploy: error: {exc}")
        return EXIT_BAD_INPUT
    except stack_ops.StackError as exc:
        print(f"deploy: FAILED {exc}")
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as exc:
        print(f"deploy: FAILED AWS call: {exc}")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
