"""parliament over every policy document of every template, resolved for every params file.

Fails on what IAM would reject or never match (``BLOCKING``: unknown actions or prefixes, an action scoped to
a resource type it cannot take, malformed or invalid statements); every other finding must be listed, with a
reason, in ``accepted_findings.yaml`` beside this module (the one reviewed place), or it fails too.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import yaml

from inference_platform_ops.iam.principals import ENVIRONMENTS, deployment
from inference_platform_ops.paths import ROOT
from inference_platform_ops.stacks import ResolvedStack

ACCEPTED = Path(__file__).resolve().parent / "accepted_findings.yaml"
BLOCKING = {"UNKNOWN_ACTION", "UNKNOWN_PREFIX", "RESOURCE_MISMATCH", "MALFORMED", "MALFORMED_JSON", "INVALID_ARN",
            "UNKNOWN_OPERATOR", "MISMATCHED_TYPE", "MISMATCHED_TYPE_OPERATION_TO_NULL", "NO_VERSION",
            "INVALID_VERSION", "OLD_VERSION", "DUPLICATE_SID", "INVALID_SID", "EXCEPTION"}
POLICY_PROPERTIES = {  # resource type -> property holding policy documents
    "AWS::IAM::Role": "Policies", "AWS::IAM::ManagedPolicy": "PolicyDocument", "AWS::IAM::Policy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy", "AWS::S3::BucketPolicy": "PolicyDocument", "AWS::SNS::TopicPolicy": "PolicyDocument",
}


@dataclass(frozen=True)
class PolicyFinding:
    issue: str
    template: str
    resource: str
    detail: str

    def key(self) -> tuple[str, str, str]:
        return self.issue, self.template, self.resource


def documents(stack: ResolvedStack) -> list[tuple[str, dict]]:
    """(logical id[/policy name], document) of every policy this stack declares."""
    found: list[tuple[str, dict]] = []
    for logical, body in stack.resources.items():
        prop = POLICY_PROPERTIES.get(body["Type"])
        if not prop or prop not in (body.get("Properties") or {}):
            continue
        value = stack.properties(logical).get(prop)
        if body["Type"] == "AWS::IAM::Role":
            found.extend((f"{logical}/{p['PolicyName']}", p["PolicyDocument"]) for p in value or [])
        elif value:
            found.append((logical, value))
    return found


def _parliament():  # imported lazily: it pulls in pkg_resources (deprecated, slow)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import parliament  # noqa: PLC0415
    return parliament


def analyze(templates: Path = ROOT / "templates", envs: tuple[str, ...] = ENVIRONMENTS) -> list[PolicyFinding]:
    """Every parliament finding, once per (issue, template, resource, detail), over every params file."""
    parliament = _parliament()
    findings: dict[tuple, PolicyFinding] = {}
    for env in envs:
        target = deployment(env, templates)
        billing = ResolvedStack(templates / "billing-alarms.yaml", {"Environment": env}, region="us-east-1",
                                stack_name=f"{target.primary.stack_name}-billing")
        stacks = [*target.stacks(), billing] + ([target.bootstrap] if target.bootstrap else [])
        for stack in stacks:
            for where, document in documents(stack):
                policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=False)
                for finding in policy.findings:
                    detail = json.dumps(finding.detail, sort_keys=True, default=str)[:300]
                    item = PolicyFinding(finding.issue, stack.path.name, where, detail)
                    findings.setdefault((item.issue, item.template, item.resource, detail), item)
    return sorted(findings.values(), key=lambda f: (f.template, f.resource, f.issue, f.detail))


@dataclass(frozen=True)
class Acceptance:
    reason: str
    evidence: str


def accepted(path: Path = ACCEPTED) -> dict[tuple[str, str, str], Acceptance]:
    entries = yaml.safe_load(path.read_text()) or []
    result = {}
    for entry in entries:
        reason = str(entry.get("reason", "")).strip()
        if not reason:
            raise ValueError(f"{path}: entry {entry} has no reason")
        result[(entry["issue"], entry["template"], entry["resource"])] = Acceptance(
            reason, str(entry.get("evidence", "")).strip())
    return result


def problems(findings: list[PolicyFinding], accepted_findings: dict[tuple[str, str, str], Acceptance]) -> list[str]:
    """Blocking findings without documented evidence, and any finding not accepted with a reason."""
    out = []
    for finding in findings:
        acceptance = accepted_findings.get(finding.key())
        if finding.issue in BLOCKING and not (acceptance and acceptance.evidence):
            out.append(f"{finding.template} {finding.resource}: {finding.issue} {finding.detail}")
        elif acceptance is None:
            out.append(f"{finding.template} {finding.resource}: {finding.issue} {finding.detail} (not in "
                       f"{ACCEPTED.name}: fix it or add it there with a reason)")
    found = {finding.key() for finding in findings}
    out += [f"{ACCEPTED.name}: {' '.join(key)} is accepted but no longer found: remove the entry"
            for key in accepted_findings if key not in found]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="parliament over every policy of every template and params file")
    parser.add_argument("--templates-dir", type=Path, default=ROOT / "templates")
    args = parser.parse_args(argv)
    findings = analyze(args.templates_dir)
    for finding in findings:
        print(f"{finding.issue:<28} {finding.template:<20} {finding.resource:<50} {finding.detail}")
    found = problems(findings, accepted())
    print(f"iam-lint: {len(findings)} finding(s), {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
