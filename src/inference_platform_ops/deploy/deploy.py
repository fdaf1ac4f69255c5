"""Deploy an environment: `make deploy ENV=<env>` (default local, the emulator on 127.0.0.1); `make plan` too.

Order of work, so that a bad input never leaves half a deployment:
1. check ENV, the params file, every stack's parameters against its template, and (for AWS) that the
   credentials work -- nothing has been built or uploaded yet;
2. take the environment's lock (a second deploy waits, then refuses), find each region's artifact bucket
   and the CloudFormation execution role from the bootstrap stacks (`make bootstrap`; the local emulator is
   bootstrapped on the fly), refuse if another machine's deploy has change sets pending;
3. build the Lambda zip once (content-addressed) and, per region, upload it and the packaged nested
   templates to that region's artifact bucket;
4. create one change set per stack (regional stack in every region, primary first; billing alarms in
   us-east-1), print them, and stop there for production unless approved -- or, for `make plan`, review
   them, write the summary and delete everything the plan created;
5. execute them in order, streaming events; stop at the first failure and print its cause.

Ctrl-C at any point: one line, and the change sets this run created are deleted (with the empty stack a
first-time change set makes); a change set already executing is left to CloudFormation.

Exit codes: 0 deployed / planned / nothing to change, 1 a deploy failed, 2 bad input, 3 production refused,
4 the environment is busy, 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

import inference_platform
from inference_platform_ops.deploy import bootstrap, change_review, lambda_settings, naming, packaging, stack_ops
from inference_platform_ops.deploy.aws_access import session_for
from inference_platform_ops.deploy.config import (
    BILLING_REGION,
    PLACEHOLDER_CODE_KEY,
    ConfigError,
    StackTarget,
    billing_parameters,
    load_config,
    parameter_errors,
)
from inference_platform_ops.deploy.locks import LockBusy, environment_lock
from inference_platform_ops.emulator import local_aws
from inference_platform_ops.iam import recorder
from inference_platform_ops.paths import BUILD, REQUIREMENTS, RUNTIME_PACKAGE, TEMPLATES, TOOLS

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_BUSY, EXIT_INTERRUPTED = 1, 2, 3, 4, 130
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

    def __init__(self, env: str, endpoint: str | None, poll: float, session: boto3.Session, *, role_arn: str = "",
                 verb: str = "deploy"):
        self.env = env
        self.endpoint = endpoint
        self.poll = poll
        self.session = session
        self.role_arn = role_arn  # CloudFormation execution role (bootstrap.yaml); deploy roles require it
        self.verb = verb  # deploy | plan | bootstrap: names the change sets and the messages
        # Unique per run: a change set of another run (another machine) is never mistaken for ours.
        self.change_set_name = (f"{verb}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}")
        self.touched: list[tuple[str, str]] = []  # (region, stack) this run created change sets on
        self.allow_replace: list[str] = []  # logical ids of stateful resources this run may replace
        self.executing: tuple[str, str] | None = None
        self._clients: dict[tuple[str, str], object] = {}

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

    ``version`` becomes the TemplateVersion parameter of every template that declares one. A region whose
    ArtifactBucket is not set in the params file is checked with a stand-in of the bootstrap
    bucket's name (the real name is read from the bootstrap stack once credentials are known).
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
        if "SageMakerRevision" not in params and "SageMakerRevision" in (main_template.get("Parameters") or {}):
            params["SageMakerRevision"] = naming.sagemaker_revision(params)
        where = f"{config['_path']} ({plan.role} {plan.region})"
        params, version_problems = with_version(main_template, params, version, where)
        checked = {**params, "ArtifactBucket": params.get("ArtifactBucket") or stand_in_bucket(config, plan.region)}
        template_problems = parameter_errors(main_template, checked, plan.region, where)
        problems += version_problems + template_problems
        problems += lambda_settings.whole_number_problems(main_template, checked, where)
        if not template_problems:  # the Lambdas' own checks, on values the template already accepts
            problems += lambda_settings.problems(main_path, checked, plan.region, where)
        targets.append(StackTarget(plan.role, plan.region, config["StackName"], main_path, params, tags))
    billing_template = packaging.load_template(billing_path)
    billing = billing_parameters(config, billing_template)
    if billing is not None:
        billing, _ = with_version(billing_template, billing, version, "BillingAlarms")  # never in the params file
        problems += parameter_errors(billing_template, billing, BILLING_REGION, f"{config['_path']} (BillingAlarms)")
        targets.append(StackTarget("billing", BILLING_REGION, f"{config['StackName']}-billing", billing_path,
                                   billing, tags))
    return targets, problems


def pre_check_parameters(config: dict, plan) -> dict[str, str]:
    """A region's main.yaml parameters as checked before anything exists: the Lambda code key and (unless the
    params file names one) the artifact bucket stand in with values of the shape the deploy will pass."""
    return {**plan.parameters, "LambdaCodeKey": f"{config['Environment']}/{PLACEHOLDER_CODE_KEY}",
            "ArtifactBucket": plan.parameters.get("ArtifactBucket") or stand_in_bucket(config, plan.region)}


def stand_in_bucket(config: dict, region: str) -> str:
    """A name of the shape bootstrap.yaml gives the region's artifact bucket (account id unknown offline)."""
    return f"{bootstrap.project_name(config)}-artifacts-000000000000-{region}"


def raise_problems(problems: list[str]) -> None:
    if problems:
        extra = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + extra)


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


def template_for(deployer: Deployer, target: StackTarget, artifact: packaging.LambdaArtifact | None
                 ) -> tuple[StackTarget, dict[str, str]]:
    """The target with its final parameters, and {"TemplateURL"} (packaged, uploaded) or {"TemplateBody"}."""
    if target.role == "billing" or artifact is None:
        body = packaging.template_bytes(packaging.load_template(target.template_path))
        if artifact is None:
            bootstrap.check_template_size(body, target.template_path)
        return target, {"TemplateBody": body.decode()}
    bucket = target.parameters["ArtifactBucket"]
    deployer.upload(bucket, target.region, artifact.key, artifact.path.read_bytes())
    target = replace(target, parameters={**target.parameters, "LambdaCodeKey": f"{deployer.env}/{artifact.key}"})
    packaged = packaging.package_template(
        target.template_path, lambda key, body: deployer.upload(bucket, target.region, key, body))
    body = packaging.template_bytes(packaged)
    key = f"templates/{hashlib.sha256(body).hexdigest()}.json"
    return target, {"TemplateURL": deployer.upload(bucket, target.region, key, body)}


def plan_target(deployer: Deployer, target: StackTarget, artifact: packaging.LambdaArtifact | None,
                replace_failed: bool) -> tuple[StackTarget, stack_ops.ChangeSetPlan]:
    cfn = deployer.client("cloudformation", target.region)
    target, template = template_for(deployer, target, artifact)
    status = stack_ops.stack_status(cfn, target.stack_name)
    if deployer.verb == "plan" and status == "REVIEW_IN_PROGRESS":
        cs_type = "CREATE"  # a plan never deletes stacks: another CREATE change set on the empty stack
    else:
        cs_type = stack_ops.change_set_type_for(target.stack_name, status, replace_failed, cfn, deployer.poll)
    deployer.touched.append((target.region, target.stack_name))
    plan = stack_ops.create_change_set(
        cfn, region=target.region, stack_name=target.stack_name, change_set_name=deployer.change_set_name,
        change_set_type=cs_type, template=template, parameters=target.parameters, tags=target.tags,
        role_arn="" if target.role in ("account", "bucket") else deployer.role_arn, poll=deployer.poll,
        description=f"by inference-{deployer.verb}")
    return target, plan


def production_approved(args: argparse.Namespace) -> bool:
    # GITHUB_ENVIRONMENT counts only inside GitHub Actions, where the production environment's required
    # reviewers have already approved the job; in a shell it is no substitute for CONFIRM=yes.
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    github_environment = args.github_environment or (os.environ.get("GITHUB_ENVIRONMENT") if in_actions else None)
    return os.environ.get("CONFIRM") == "yes" or github_environment == "production"


def write_step_summary(title: str, plans: list[stack_ops.ChangeSetPlan], outcome: str,
                       notes: Sequence[str] = ()) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(f"## {title}: {outcome}\n\n")
        for note in notes:
            summary.write(f"> **{note}**\n\n")
        for plan in plans:
            summary.write(stack_ops.markdown_changes(plan) + "\n")


def report_stack(deployer: Deployer, target: StackTarget) -> None:
    cfn = deployer.client("cloudformation", target.region)
    rows = stack_ops.outputs(cfn, target.stack_name)
    print(f"{deployer.verb}: outputs of {target.stack_name} ({target.region}):")
    for key, value in rows or [("(none)", "")]:
        print(f"  {key:<34} {value}")
    missing = stack_ops.not_created(cfn, target.stack_name)
    if missing:
        why = "the emulator could NOT create (moto does not support them)" if deployer.endpoint else \
            "listed without a physical id (not created)"
        print(f"{deployer.verb}: {len(missing)} resource(s) {why}:")
        for stack, logical_id, resource_type in missing:
            print(f"  {resource_type:<48} {logical_id}  (stack {stack})")


def resolve_bootstrap(deployer: Deployer, config: dict, targets: list[StackTarget], templates: Path,
                      explicit_role: str) -> list[StackTarget]:
    """Fill each regional target's ArtifactBucket (params file, else bootstrap output) and the execution role."""
    regional = [t for t in targets if t.role != "billing"]
    regions = [t.region for t in regional]
    needed = [t.region for t in regional if not _bucket_override(t)]
    local = deployer.env == "local" and deployer.endpoint
    if local and not all(bootstrap.outputs(deployer.client("cloudformation", r), config) for r in needed):
        print(f"{deployer.verb}: the local emulator has no bootstrap stack yet: bootstrapping it first")
        code = run_bootstrap(deployer, config, templates / "bootstrap.yaml", regions, approved=True)
        if code:
            raise stack_ops.StackError("bootstrapping the local emulator failed (see above)")
    buckets = bootstrap.artifact_buckets(config, regions, deployer.client,
                                         {t.region: _bucket_override(t) for t in regional})
    deployer.role_arn = explicit_role or bootstrap.execution_role(config, regions, deployer.client)
    resolved = []
    for target in targets:
        if target.role == "billing":
            resolved.append(target)
            continue
        resolved.append(replace(target, parameters={**target.parameters, "ArtifactBucket": buckets[target.region]}))
        if deployer.endpoint:
            with recorder.unrecorded():  # on AWS the bootstrap stack made it
                deployer.ensure_bucket(buckets[target.region], target.region)
    return resolved


def _bucket_override(target: StackTarget) -> str:
    return target.parameters.get("ArtifactBucket", "")


def run_bootstrap(deployer: Deployer, config: dict, template_path: Path, regions: list[str], approved: bool) -> int:
    """Plan and execute the bootstrap stacks with the deploy's own machinery (the deployer's verb is kept)."""
    with recorder.unrecorded():  # an administrator's step: not the deploy role's permission contract
        return _run_bootstrap(deployer, config, template_path, regions, approved)


def _run_bootstrap(deployer: Deployer, config: dict, template_path: Path, regions: list[str], approved: bool) -> int:
    verb, name = deployer.verb, deployer.change_set_name
    deployer.verb = "bootstrap"
    deployer.change_set_name = name.replace(f"{verb}-", "bootstrap-", 1)
    try:
        template = packaging.load_template(template_path)
        version = template_version(template_path.parent)
        targets = [replace(t, parameters=with_version(template, t.parameters, version, template_path.name)[0])
                   for t in bootstrap.targets(config, regions, deployer.client, template_path)]
        raise_problems([p for t in targets for p in parameter_errors(
            template, t.parameters, t.region, f"{template_path.name} ({t.region})")])
        return plan_and_execute(deployer, targets, None, replace_failed=False, approved=approved,
                                title=f"Bootstrap {config['Environment']}")
    finally:
        deployer.verb, deployer.change_set_name = verb, name


def plan_and_execute(deployer: Deployer, targets: list[StackTarget], artifact: packaging.LambdaArtifact | None,
                     *, replace_failed: bool, approved: bool, title: str) -> int:
    """Create every change set, show them, then execute (deploy, bootstrap) or review and delete them (plan)."""
    planned: list[tuple[StackTarget, stack_ops.ChangeSetPlan]] = []
    try:
        for target in targets:
            planned.append(plan_target(deployer, target, artifact, replace_failed))
            print(stack_ops.format_changes(planned[-1][1]) + "\n")
    except Exception:
        discard_all(deployer)  # never leave half a plan waiting in the account
        raise
    plans = [p for _, p in planned]
    refusals = change_review.review(plans, allow_replace=deployer.allow_replace,
                                    existing=retained_collisions(deployer, planned))
    if deployer.verb == "plan":
        return finish_plan(deployer, plans, title, [f"REFUSED on deploy: {r}" for r in refusals])
    if refusals:
        discard_all(deployer)
        for refusal in refusals:
            print(f"{deployer.verb}: REFUSED {refusal}")
        print(f"{deployer.verb}: nothing was executed; the change sets were deleted")
        write_step_summary(title, plans, f"refused: {refusals[0]}")
        return EXIT_REFUSED
    if all(p.no_changes for p in plans):
        discard_all(deployer)
        print(f"{deployer.verb}: no changes for {deployer.env}; nothing to do")
        write_step_summary(title, plans, "no changes")
        return 0
    if not approved:
        discard_all(deployer)
        print(f"{deployer.verb}: REFUSED production {deployer.verb}: set CONFIRM=yes, or run in the 'production' "
              "GitHub environment (approved by its required reviewers). Nothing was executed; the change sets were "
              "deleted.")
        write_step_summary(title, plans, "refused (not approved)")
        return EXIT_REFUSED
    write_step_summary(title, plans, "executing")
    return execute_all(deployer, planned, title)


def finish_plan(deployer: Deployer, plans: list[stack_ops.ChangeSetPlan], title: str,
                refusals: Sequence[str] = ()) -> int:
    """Review the change sets (stateful replacements flagged, and what a deploy would refuse), write the
    summary, delete what the plan made."""
    notes = review_notes(plans) + list(refusals)
    for note in notes:
        print(f"plan: WARNING {note}")
    removed = discard_all(deployer)
    changed = sum(len(p.changes) for p in plans if not p.no_changes)
    outcome = f"{changed} change(s) in {sum(not p.no_changes for p in plans)} stack(s)" if changed else "no changes"
    write_step_summary(title, plans, outcome, notes)
    print(f"plan: {outcome} for {deployer.env}; nothing was executed; deleted {len(removed)} change set(s) and "
          "stack(s) the plan created")
    return 0


def review_notes(plans: list[stack_ops.ChangeSetPlan]) -> list[str]:
    """One line per replacement the change sets announce."""
    return [f"{p.stack_name} ({p.region}): {c.logical_id} ({c.resource_type}) will be REPLACED"
            + (" if a changed value requires it" if c.replacement == "Conditional" else "")
            for p in plans for c in p.changes if c.replacement in ("True", "Conditional")]


# Fixed-name resources that outlive their stack (DeletionPolicy Retain), and how to ask whether one exists.
_EXISTS = {
    "AWS::DynamoDB::GlobalTable": ("dynamodb", "TableName", lambda c, n: c.describe_table(TableName=n)),
    "AWS::DynamoDB::Table": ("dynamodb", "TableName", lambda c, n: c.describe_table(TableName=n)),
    "AWS::S3::Bucket": ("s3", "BucketName", lambda c, n: c.head_bucket(Bucket=n)),
    "AWS::Backup::BackupVault": ("backup", "BackupVaultName", lambda c, n: c.describe_backup_vault(BackupVaultName=n)),
}
_NOT_FOUND = {"ResourceNotFoundException", "404", "NoSuchBucket", "NotFound"}


def retained_collisions(deployer: Deployer, planned: list[tuple[StackTarget, stack_ops.ChangeSetPlan]]
                        ) -> list[change_review.ExistingResource]:
    """Retained fixed-name resources a stack about to be CREATED would create again, that exist already."""
    from inference_platform_ops.stacks import ResolvedStack

    found = []
    for target, plan in planned:
        if plan.no_changes or plan.change_set_type != "CREATE" or target.role in ("billing", "account", "bucket"):
            continue
        root = ResolvedStack(target.template_path, target.parameters, region=target.region,
                             stack_name=target.stack_name)
        for stack in root.nested():
            for logical, body in stack.resources.items():
                if body.get("DeletionPolicy") != "Retain" or body["Type"] not in _EXISTS:
                    continue
                service, name_property, probe = _EXISTS[body["Type"]]
                raw_name = (body.get("Properties") or {}).get(name_property)
                if raw_name is None or "AWS::StackId" in str(raw_name):
                    continue  # a generated name, or one made from the new stack's id, never collides
                name = stack.physical_name(logical)
                try:
                    probe(deployer.client(service, target.region), name)
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
                        continue
                    raise
                found.append(change_review.ExistingResource(target.stack_name, target.region, logical,
                                                            body["Type"], name))
    return found


def discard_all(deployer: Deployer) -> list[str]:
    """Delete every change set this run created (by name) and the empty stacks of first-time change sets."""
    removed: list[str] = []
    for region, stack_name in dict.fromkeys(deployer.touched):
        if (region, stack_name) == deployer.executing:
            continue
        removed += stack_ops.discard_run(deployer.client("cloudformation", region), stack_name,
                                         deployer.change_set_name, deployer.poll)
    deployer.touched = [t for t in deployer.touched if t == deployer.executing]
    return removed


def execute_all(deployer: Deployer, planned: list[tuple[StackTarget, stack_ops.ChangeSetPlan]], title: str) -> int:
    """Execute the change sets in order; stop at the first failure and say why."""
    for target, plan in planned:
        cfn = deployer.client("cloudformation", target.region)
        if plan.no_changes:
            stack_ops.discard(cfn, plan, deployer.poll)
            continue
        print(f"{deployer.verb}: executing {plan.change_set_type} of {target.stack_name} in {target.region}")
        deployer.executing = (target.region, target.stack_name)
        status = stack_ops.execute(cfn, plan, deployer.poll)
        deployer.touched = [t for t in deployer.touched if t != deployer.executing]
        deployer.executing = None
        if status not in stack_ops.SUCCESS:
            failure = stack_ops.first_failure(cfn, plan.stack_id)
            cause = f"{failure[0]} ({failure[1]}): {failure[2]}" if failure else "no failed resource reported"
            print(f"{deployer.verb}: FAILED {target.stack_name} ({target.region}) ended {status}; first failure: "
                  f"{cause}")
            write_step_summary(title, [], f"FAILED: {target.stack_name} ({target.region}) {status}: {cause}")
            discard_all(deployer)
            if status in stack_ops.NEEDS_DELETE:
                print(f"{deployer.verb}: {target.stack_name} must be deleted before the next deploy: re-run with "
                      "--replace-failed (or REPLACE_FAILED=yes)")
            return EXIT_FAILED
        if deployer.env == "production" and target.role not in ("account", "bucket"):
            cfn.update_termination_protection(StackName=target.stack_name, EnableTerminationProtection=True)
            print(f"{deployer.verb}: termination protection on for {target.stack_name}")
        report_stack(deployer, target)
    print(f"{deployer.verb}: {deployer.env} {'bootstrapped' if deployer.verb == 'bootstrap' else 'deployed'}")
    return 0


def interrupted(deployer: Deployer | None) -> int:
    """Ctrl-C: clean up what this run created, say so in one line, exit 130."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    verb = deployer.verb if deployer else "deploy"
    if deployer is None:
        print(f"{verb}: interrupted; nothing had been created")
        return EXIT_INTERRUPTED
    try:
        removed = discard_all(deployer)
    except (ClientError, BotoCoreError, stack_ops.StackError) as exc:
        print(f"{verb}: interrupted; cleaning up failed ({exc}): delete change sets named "
              f"{deployer.change_set_name} by hand")
        return EXIT_INTERRUPTED
    running = ""
    if deployer.executing:
        running = (f"; {deployer.executing[1]} ({deployer.executing[0]}) was executing and CloudFormation finishes "
                   "(or rolls back) on its own")
    print(f"{verb}: interrupted; removed {len(removed)} thing(s) this run created"
          f"{': ' + ', '.join(removed) if removed else ''}{running}")
    return EXIT_INTERRUPTED


def prepare(args: argparse.Namespace, verb: str) -> tuple[dict, list[StackTarget], str | None, boto3.Session]:
    """Everything checked before the lock: params, parameters, where to send calls, working credentials."""
    config = load_config(args.env, args.templates_dir / "params")
    args.version = template_version(args.templates_dir)
    targets, problems = build_targets(config, args.templates_dir, args.version)
    raise_problems(problems)
    endpoint = args.endpoint_url
    if args.env == "local" and not endpoint:
        try:
            endpoint = local_aws.start(local_aws.configured_port())["endpoint"]
        except local_aws.EmulatorError as exc:
            raise ConfigError(str(exc)) from None
        print(f"{verb}: local emulator at {endpoint}")
    return config, targets, endpoint, session_for(args.env, endpoint, targets[0].region)


def run(args: argparse.Namespace, verb: str = "deploy") -> int:
    config, targets, endpoint, session = prepare(args, verb)
    deployer = Deployer(args.env, endpoint, args.poll or (0.1 if endpoint else 5.0), session, verb=verb)
    deployer.allow_replace = [item for item in args.allow_replace.split(",") if item.strip()]
    with environment_lock(args.env, f"make {verb} ENV={args.env}", wait_s=args.lock_wait,
                          say=lambda message: print(f"{verb}: {message}", flush=True)):
        try:
            targets = resolve_bootstrap(deployer, config, targets, args.templates_dir, args.cfn_role_arn)
            if verb == "deploy":
                refuse_pending_deploys(deployer, targets)
            print(f"{verb}: template version {args.version} (the TemplateVersion output)")
            artifact = build_lambda(args.env, args.no_deps)
            approved = args.env != "production" or verb == "plan" or production_approved(args)
            return plan_and_execute(deployer, targets, artifact, replace_failed=args.replace_failed,
                                    approved=approved, title=f"{verb.capitalize()} {args.env}")
        except KeyboardInterrupt:
            return interrupted(deployer)


def refuse_pending_deploys(deployer: Deployer, targets: list[StackTarget]) -> None:
    """Another machine's deploy between planning and executing: refuse rather than race its change sets."""
    for target in targets:
        pending = stack_ops.pending_deploys(deployer.client("cloudformation", target.region), target.stack_name,
                                            deployer.change_set_name)
        if pending:
            raise LockBusy(f"another deploy of {deployer.env} is under way: {target.stack_name} ({target.region}) has "
                           f"the unexecuted change set {pending[0]}; wait for it, or delete that change set if its run "
                           "died; nothing was done")


def parse_args(argv: list[str] | None, description: str = "Deploy an environment (see docs/deploy.md).",
               ) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--env", default=os.environ.get("ENV", "local"))
    parser.add_argument("--github-environment", default=None,
                        help="the GitHub Actions environment this job runs in (production counts as approval)")
    parser.add_argument("--replace-failed", action="store_true",
                        default=os.environ.get("REPLACE_FAILED") == "yes",
                        help="delete a stack left in ROLLBACK_COMPLETE by a failed first deploy, then deploy")
    parser.add_argument("--cfn-role-arn", default=os.environ.get("CFN_EXECUTION_ROLE_ARN", ""),
                        help="CloudFormation execution role for the change sets (default $CFN_EXECUTION_ROLE_ARN, "
                             "else the bootstrap stack's CloudFormationExecutionRoleArn)")
    parser.add_argument("--allow-replace", default=os.environ.get("ALLOW_REPLACE", ""),
                        help="comma-separated logical ids of stateful resources this deploy may replace "
                             "(default $ALLOW_REPLACE; make deploy ALLOW_REPLACE=<logical id>)")
    parser.add_argument("--no-deps", action="store_true",
                        help="package the Lambda zip without runtime dependencies (tests; never for AWS)")
    parser.add_argument("--endpoint-url", default=None, help="use this emulator endpoint instead of starting one")
    parser.add_argument("--templates-dir", type=Path, default=TEMPLATES,
                        help="directory with main.yaml, billing-alarms.yaml, bootstrap.yaml and params/<env>.json")
    parser.add_argument("--poll", type=float, default=None, help="seconds between status polls")
    parser.add_argument("--lock-wait", type=float, default=float(os.environ.get("LOCK_WAIT", "600")),
                        help="seconds to wait for another operation on the same ENV (default 600)")
    return parser.parse_args(argv)


def guarded(verb: str, call) -> int:
    """Run ``call()`` turning every expected failure into one line and its exit code."""
    try:
        return call()
    except LockBusy as exc:
        print(f"{verb}: error: {exc}")
        return EXIT_BUSY
    except (ConfigError, packaging.PackagingError) as exc:
        print(f"{verb}: error: {exc}")
        return EXIT_BAD_INPUT
    except stack_ops.StackError as exc:
        print(f"{verb}: FAILED {exc}")
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as exc:
        print(f"{verb}: FAILED AWS call: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:  # before anything was created (checks, emulator start, lock wait)
        return interrupted(None)


def main(argv: list[str] | None = None, verb: str = "deploy") -> int:
    args = parse_args(argv)
    if args.no_deps and args.env != "local" and not args.endpoint_url:
        print(f"{verb}: error: --no-deps is only for the local emulator; AWS Lambdas need their dependencies")
        return EXIT_BAD_INPUT
    with recorder.acting_as(recorder.Principal("deploy", args.env)), recorder.world(args.env, args.templates_dir):
        return guarded(verb, lambda: run(args, verb))


def plan_main(argv: list[str] | None = None) -> int:
    """`make plan ENV=<env>`: every change set (nested included), reviewed and deleted; nothing executed."""
    return main(argv, verb="plan")


def bootstrap_main(argv: list[str] | None = None) -> int:
    """`make bootstrap ENV=<env>`: templates/bootstrap.yaml in every region of the env (see deploy.bootstrap)."""
    args = parse_args(argv, "Deploy templates/bootstrap.yaml in every region of an environment.")
    return guarded("bootstrap", lambda: run_bootstrap_command(args))


def run_bootstrap_command(args: argparse.Namespace) -> int:
    config, targets, endpoint, session = prepare(args, "bootstrap")
    regions = [t.region for t in targets if t.role != "billing"]
    deployer = Deployer(args.env, endpoint, args.poll or (0.1 if endpoint else 5.0), session, verb="bootstrap")
    approved = args.env != "production" or production_approved(args)
    with environment_lock(args.env, f"make bootstrap ENV={args.env}", wait_s=args.lock_wait,
                          say=lambda message: print(f"bootstrap: {message}", flush=True)):
        try:
            code = run_bootstrap(deployer, config, args.templates_dir / "bootstrap.yaml", regions, approved)
        except KeyboardInterrupt:
            return interrupted(deployer)
    if code == 0:
        found = {}
        for region in regions:
            found.update(bootstrap.outputs(deployer.client("cloudformation", region), config) or {})
        variables = {"AWS_DEPLOY_ROLE_ARN": found.get(f"{args.env.capitalize()}DeployRoleArn", "?"),
                     "AWS_PLAN_ROLE_ARN (repository variable)": found.get("PlanRoleArn", "?"),
                     "AWS_REGION": regions[0]}
        print(f"bootstrap: `make deploy ENV={args.env}` now finds the artifact buckets and the execution role by "
              "itself; for GitHub Actions set: " + ", ".join(f"{k}={v}" for k, v in variables.items()))
    return code


if __name__ == "__main__":
    sys.exit(main())
