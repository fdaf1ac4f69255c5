"""The permission contract: every AWS call the executed tests made, authorized against the templates' policies.

``inference-iam-contract`` (run by ``make test`` right after pytest) reads the calls
``inference_platform_ops.iam.recorder`` wrote (one file per pytest-xdist worker), and for every params file:

1. rebases each call from the deployment it ran in (the "world": a params file plus overrides, e.g. the
   workflow tests run templates/params/local.json) onto that params file's deployment: every physical name and
   ARN is mapped by the logical resource it belongs to, regions by role (primary, secondary). A call that
   touches a resource the params file does not deploy (a disabled feature, no secondary region) does not apply;
2. translates it into IAM requests (``inference_platform_ops.iam.translate``: action, resource ARN as AWS forms
   it, the context keys we know: aws:RequestedRegion, s3:prefix, aws:ResourceTag/* from the templates);
3. evaluates each against the principal's policies from the resolved templates with a real policy evaluator
   (``inference_platform_ops.iam.simulate``).

A request the principal's policies do not allow fails the run, naming the call, the role and the statement
that would allow it. Actions granted but used by no call are reported (not a failure). Not evaluated:
resource policies (bucket, key and access point policies), SCPs/RCPs, permission boundaries, and condition
keys whose value the emulator cannot know (e.g. aws:SourceIp, aws:PrincipalTag).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference_platform_ops.iam import sar, simulate
from inference_platform_ops.iam.principals import ENVIRONMENTS, Deployment, deployment
from inference_platform_ops.iam.translate import Request, translate
from inference_platform_ops.paths import ROOT
from inference_platform_ops.stacks import ResolvedStack

RECORD_DIR = ROOT / "build" / "iam-contract"
TEMPLATES = ROOT / "templates"
# Calls the emulator itself makes on a principal's behalf that AWS does not authorize as that principal.
EMULATOR_ONLY = {
    # moto's Step Functions writes execution logs with the state machine's client; AWS delivers them through
    # the log delivery the role's logs:CreateLogDelivery grant set up (vended logs), not as the role.
    ("state-machine", "logs:CreateLogGroup"), ("state-machine", "logs:CreateLogStream"),
    ("state-machine", "logs:PutLogEvents"), ("state-machine", "logs:DescribeLogGroups"),
}
REGION_KEYS = ("PrimaryRegion", "SecondaryRegion", "DrTier")


@dataclass(frozen=True)
class Checked:
    env: str
    principal: str  # e.g. "workflow.yaml InvokeFunction (role InvokeFunctionRole)"
    action: str
    resource: str
    allowed: bool
    detail: str
    call: str  # the API call as recorded, e.g. "sagemaker-runtime.InvokeEndpoint in us-west-2"
    context: tuple[tuple[str, str], ...] = ()


def read_records(directory: Path) -> list[dict]:
    records: list[dict] = []
    for path in sorted(directory.glob("calls-*.jsonl")):
        records.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return records


class Rebase:
    """Names and regions of one world's deployment -> the same resources in another deployment."""

    def __init__(self, world: Deployment, target: Deployment):
        self.exact: dict[str, str] = {}
        self.absent: set[str] = set()
        world_root, target_root = world.primary, target.primary
        self._pair_stacks(world_root, target_root)
        pairs = [(world_root.stack_name, target_root.stack_name)]
        for key in ("InputLocation", "ArtifactBucket", "LambdaCodeKey"):
            old, new = world_root.parameters.get(key, ""), target_root.parameters.get(key, "")
            if old and new:
                pairs.append((old, new))
        # The deploy uploads to the params file's artifact bucket, under <env>/ (what the deploy roles allow).
        self.artifacts = ({world.params_artifact_bucket, world_root.parameters.get("ArtifactBucket", "")} - {""},
                          target_root.parameters.get("ArtifactBucket", ""), f"{world.env}/", f"{target.env}/")
        if world.params_artifact_bucket:
            pairs.append((world.params_artifact_bucket, target_root.parameters.get("ArtifactBucket", "")))
        world_prefix, target_prefix = (f"{r.parameters['ProjectName']}-{r.parameters['Environment']}-"
                                       for r in (world_root, target_root))
        self.substrings = sorted({*self.exact.items(), *pairs}, key=lambda item: -len(item[0]))
        self.prefix = (world_prefix, target_prefix)
        world_regions = [world_root.region, world_root.parameters.get("SecondaryRegion", "")]
        target_regions = [target_root.region, target_root.parameters.get("SecondaryRegion", "")]
        self.regions = {old: new for old, new in zip(world_regions, target_regions, strict=True) if old}

    def _pair_stacks(self, world: ResolvedStack, target: ResolvedStack) -> None:
        for logical, body in world.resources.items():
            names = [world.physical_name(logical), world.arn(logical) or "", str(world.ref(logical))]
            if body["Type"] == "AWS::CloudFormation::Stack":
                if logical in target.resources:
                    self._pair_stacks(world.child(logical), target.child(logical))
                continue
            if logical not in target.resources:
                self.absent.update(n for n in names if len(n) > 8)
                continue
            news = [target.physical_name(logical), target.arn(logical) or "", str(target.ref(logical))]
            for old, new in zip(names, news, strict=True):
                if old and len(old) > 8:
                    self.exact[old] = new

    def text(self, value: str) -> str | None:
        """``value`` in the target deployment, or None when it names something the target does not have."""
        if value in self.regions:
            return self.regions[value] or None
        if value in self.exact:
            value = self.exact[value]
        elif any(name in value for name in self.absent):
            return None
        else:
            for old, new in self.substrings:
                value = value.replace(old, new)
            value = value.replace(*self.prefix)
        for old, new in self.regions.items():
            if f":{old}:" in value:
                if not new:
                    return None
                value = value.replace(f":{old}:", f":{new}:")
        return value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            rebased = self.text(value)
            if rebased is None:
                raise LookupError(value)
            return rebased
        if isinstance(value, dict):
            buckets, _, old_prefix, new_prefix = self.artifacts
            if value.get("Bucket") in buckets and str(value.get("Key", "")).startswith(old_prefix):
                value = {**value, "Key": new_prefix + value["Key"][len(old_prefix):]}
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value


def _world(record: dict) -> tuple[str, dict[str, str], str]:
    raw = record.get("world") or "local"
    world: dict[str, Any] = json.loads(raw) if raw.startswith("{") else {"env": raw}
    return world.get("env", "local"), dict(world.get("overrides") or {}), world.get("templates", "")


def check(records: list[dict], templates: Path = TEMPLATES, envs: tuple[str, ...] = ENVIRONMENTS,
          evaluate: Any = simulate.evaluate, recorded_with: Path | None = None) -> tuple[list[Checked], list[str]]:
    """Every distinct request of every applicable call, per params file; and what was not evaluated.

    ``recorded_with``: evaluate calls recorded against that templates directory as if made against
    ``templates`` (e.g. today's calls against an older version of the templates)."""
    worlds: dict[tuple, Deployment] = {}
    targets: dict[tuple, Deployment] = {}
    notes: list[str] = []
    pending: list[tuple[Checked, dict]] = []
    seen: set[tuple] = set()
    for record in records:
        env_w, overrides, templates_w = _world(record)
        same = {templates.resolve(), *([recorded_with.resolve()] if recorded_with else [])}
        if templates_w and Path(templates_w).resolve() not in same:
            notes.append(f"not evaluated: calls made against other templates ({templates_w})")
            continue
        key_w = (env_w, tuple(sorted(overrides.items())))
        if key_w not in worlds:
            worlds[key_w] = deployment(env_w, templates, overrides)
        for env in envs:
            target_overrides = {k: v for k, v in overrides.items() if k not in REGION_KEYS}
            key_t = (env, tuple(sorted(target_overrides.items())))
            if key_t not in targets:
                targets[key_t] = deployment(env, templates, target_overrides)
            target = targets[key_t]
            if target.problems:
                notes.append(f"{env}: not applicable with {target_overrides}: {target.problems[0]}")
                continue
            pending.extend(_requests(record, worlds[key_w], target, seen))
    decisions = evaluate([request for _, request in pending]) if pending else []
    results = []
    for (checked, _), decision in zip(pending, decisions, strict=True):
        detail = "" if decision.allowed else (decision.error or decision.result)
        results.append(Checked(checked.env, checked.principal, checked.action, checked.resource, decision.allowed,
                               detail, checked.call, checked.context))
    return results, sorted(set(notes))


_REBASES: dict[tuple[int, int], Rebase] = {}


def _rebase(world: Deployment, target: Deployment) -> Rebase:
    key = (id(world), id(target))
    if key not in _REBASES:
        _REBASES[key] = Rebase(world, target)
    return _REBASES[key]


def _requests(record: dict, world: Deployment, target: Deployment, seen: set[tuple]) -> list[tuple[Checked, dict]]:
    rebase = _rebase(world, target)
    principal = record["principal"]
    try:
        name = rebase.value(principal["name"]) if principal["kind"] != "deploy" else target.env
        region = rebase.value(principal.get("region") or record["region"])
        call_region = rebase.value(record["region"])
        params = rebase.value(record.get("params") or {})
    except LookupError:
        return []  # touches something this params file does not deploy
    found = target.principal_policies(principal["kind"], name, region)
    if found is None:
        return []  # this principal does not exist in this deployment (e.g. no deploy role for local)
    who, policies = found
    account = target.primary.account
    requests = translate(record["service"], record["operation"], params, call_region, account,
                         signing_name=record["signing_name"])
    if principal["kind"] == "deploy" and record["operation"] == "CreateChangeSet" and target.bootstrap:
        # On AWS the deploy passes the CloudFormation execution role (the emulator run passes none).
        role = target.bootstrap.arn("CloudFormationExecutionRole")
        if role is None:
            raise ValueError(f"{target.bootstrap.path.name}: Resources.CloudFormationExecutionRole has no ARN")
        requests = [Request(r.action, r.resource, (*r.context, ("cloudformation:RoleArn", role))) for r in requests]
        requests.append(Request("iam:PassRole", role, (("iam:PassedToService", "cloudformation.amazonaws.com"),)))
    out = []
    for request in requests:
        if (principal["kind"], request.action) in EMULATOR_ONLY:
            continue
        context = dict(request.context)
        context.update({f"aws:ResourceTag/{k}": v for k, v in target.resource_tags(request.resource).items()})
        key = (target.env, who, request.action, request.resource, tuple(sorted(context.items())))
        if key in seen:
            continue
        seen.add(key)
        call = f"{record['service']}.{record['operation']} in {call_region}"
        checked = Checked(target.env, who, request.action, request.resource, False, "", call,
                          tuple(sorted(context.items())))
        out.append((checked, {"principal": policies.role_arn or f"arn:aws:iam::{account}:role/unknown",
                              "action": request.action, "resource": request.resource, "account": account,
                              "context": context, "policies": policies.policies}))
    return out


def granted_but_unused(results: list[Checked], templates: Path = TEMPLATES,
                       envs: tuple[str, ...] = ENVIRONMENTS) -> dict[str, list[str]]:
    """Per principal (as named in the results): actions its Allow statements grant that no call used."""
    used: dict[str, set[str]] = defaultdict(set)
    for result in results:
        used[result.principal].add(result.action.lower())
    report: dict[str, list[str]] = {}
    for env in envs:
        target = deployment(env, templates)
        if target.problems:
            continue
        for principal in sorted(p for p in used if any(r.env == env and r.principal == p for r in results)):
            if principal in report:
                continue
            kind_and_name = _lookup(target, principal)
            if kind_and_name is None:
                continue
            granted: set[str] = set()
            for policy in kind_and_name.policies:
                for statement in _statements(policy["policy"]):
                    if statement.get("Effect") != "Allow" or "Action" not in statement:
                        continue
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    for pattern in actions:
                        granted.update(a.full_name for a in sar.matching_actions(pattern))
            unused = sorted(a for a in granted if a.lower() not in used[principal] and not a.startswith("xray:"))
            if unused:
                report[principal] = unused
    return report


def _statements(policy: dict) -> list[dict]:
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _lookup(target: Deployment, principal: str):  # -> RolePolicies | None
    from inference_platform_ops.iam.principals import DEPLOY_ROLES, role_policies  # noqa: PLC0415

    template, logical = principal.split(" ", 2)[:2]
    if template == "bootstrap.yaml" and target.bootstrap is not None and logical in DEPLOY_ROLES.values():
        return role_policies([target.bootstrap], target.bootstrap, logical)
    for stack in target.stacks():
        if stack.path.name == template and logical in stack.resources:
            role = principal.rsplit("(role ", maxsplit=1)[-1].rstrip(")")
            return role_policies(target.stacks(stack.region), stack, role)
    return None


def missing_statement(result: Checked) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": result.action, "Resource": result.resource}
    conditions = {key: value for key, value in result.context if key not in ("aws:RequestedRegion",)
                  and not key.startswith("aws:ResourceTag/")}
    if conditions:
        statement["Condition"] = {"StringEquals": conditions}
    return json.dumps(statement)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the recorded AWS calls against the templates' policies.")
    parser.add_argument("--records", type=Path, default=RECORD_DIR)
    parser.add_argument("--templates-dir", type=Path, default=TEMPLATES)
    parser.add_argument("--unused", action="store_true", help="also list granted actions no call used")
    parser.add_argument("--recorded-with", type=Path, default=None,
                        help="treat calls recorded against this templates directory as made against --templates-dir")
    args = parser.parse_args(argv)
    records = read_records(args.records)
    if not records:
        print(f"iam-contract: FAIL no recorded calls in {args.records} (run pytest first)")
        return 1
    results, notes = check(records, args.templates_dir, recorded_with=args.recorded_with)
    rejected = [r for r in results if not r.allowed]
    distinct = {(r.principal, r.action, r.resource) for r in results}
    for result in rejected:
        print(f"iam-contract: DENIED [{result.env}] {result.call}: {result.action} on {result.resource} by "
              f"{result.principal} ({result.detail}); missing statement: {missing_statement(result)}")
    for note in notes:
        print(f"iam-contract: note {note}")
    if args.unused:
        for principal, actions in granted_but_unused(results, args.templates_dir).items():
            print(f"iam-contract: granted but unused by {principal}: {', '.join(actions)}")
    print(f"iam-contract: {len(records)} recorded calls, {len(distinct)} distinct (principal, action, resource), "
          f"{len(results)} requests over {len(set(r.env for r in results))} params files, {len(rejected)} denied")
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
