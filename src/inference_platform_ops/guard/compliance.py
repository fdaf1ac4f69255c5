"""`make compliance`: the project's guard rules plus every AWS Control Tower proactive control, one table.

The Control Tower catalog (237 cfn-guard rules, one metadata JSON per control) ships in the same
verified wheel as cfn-guard; `make install` extracts it into .tools/control-tower. This gate:

1. starts ONE ``cfn-guard validate`` of every template against the whole catalog (structured JSON);
2. meanwhile runs the project's own gate (inference_platform_ops.guard.gate: rule tests, rules, Python checks);
3. matches every Control Tower failure against ``rules/exceptions.yaml`` (control, template, resource,
   reason, owner, review_by). It fails on a failure no exception covers, on an exception that matches
   nothing, on an exception past its review date, and on a malformed exceptions file (the message
   names the line).

Output: one row per result (control id, template, resource, result, fix text), then a summary line.
Results: FAIL (gate fails), EXCEPTION (a listed exception, with its reason and owner), SUPPRESSED (a
project rule suppressed in the template, with its reason), PASS (a control that applied to the
template and passed; listed with ``--show-pass``), and the exception-file problems.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess  # runs the pinned cfn-guard binary with a fixed argv, never a shell
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from inference_platform_ops.guard.gate import _clauses, _paths, _resource_from_path, gate, template_files
from inference_platform_ops.paths import RULES, TEMPLATES, TOOLS

CONTROL_ID = re.compile(r"^CT\.[A-Z0-9]+\.PR\.[0-9]+$")
EXCEPTION_FIELDS = ("control", "template", "resource", "reason", "owner", "review_by")
_RULE_NAME = re.compile(r"^rule\s+([A-Za-z0-9_]+)\s+when\b", re.MULTILINE)


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    fix: str
    severity: str


@dataclass(frozen=True, order=True)
class Row:
    """One line of the compliance table."""

    template: str
    resource: str
    control: str
    result: str  # FAIL | EXCEPTION | SUPPRESSED | PASS
    text: str

    def line(self) -> str:
        return f"{self.result:<10} {self.control:<34} {self.template:<20} {self.resource:<34} {self.text}"


@dataclass(frozen=True)
class ControlTowerException:
    """One entry: a control that fails on purpose for these resources (logical ids) of one template."""

    control: str
    template: str
    resources: tuple[str, ...]
    reason: str
    owner: str
    review_by: date
    line: int

    def covered(self) -> list[tuple[str, str, str]]:
        return [(self.control, self.template, resource) for resource in self.resources]


class ExceptionsFileError(ValueError):
    """The exceptions file is malformed; the message names the file and line."""


# --- the catalog --------------------------------------------------------------------------------

def load_catalog(ct_dir: Path) -> tuple[dict[str, Control], dict[str, str]]:
    """Controls by id, and the primary rule name of each rule file -> its control id."""
    controls: dict[str, Control] = {}
    rule_to_control: dict[str, str] = {}
    for meta_file in sorted(ct_dir.glob("metadata/*/*.metadata.json")):
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        control = Control(meta["Id"], meta.get("DisplayName", ""), " ".join(meta.get("RemediationMessage", "").split()),
                          meta.get("Severity", ""))
        controls[control.id] = control
        stem = meta_file.name.removesuffix(".metadata.json")
        for rule_file in ct_dir.glob(f"cfn-guard/*/{stem}.guard"):
            for name in set(_RULE_NAME.findall(rule_file.read_text(encoding="utf-8"))):
                rule_to_control[name] = control.id
    return controls, rule_to_control


def start_control_tower_run(guard: str, ct_dir: Path, templates: list[Path]) -> subprocess.Popen:
    """Start the one cfn-guard call over every template and every control (it runs while the project gate does)."""
    cmd = [guard, "validate", "--rules", str(ct_dir / "cfn-guard"), "--show-summary", "none",
           "--output-format", "json", "--structured"]
    for template in templates:
        cmd += ["--data", str(template)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def control_tower_results(report: list[dict[str, Any]], rule_to_control: dict[str, str]
                          ) -> tuple[set[tuple[str, str, str]], set[tuple[str, str]]]:
    """(control, template, resource) of every failure, and (control, template) of every applicable pass."""
    failures: set[tuple[str, str, str]] = set()
    passes: set[tuple[str, str]] = set()
    for entry in report:
        template = Path(str(entry.get("name", "?"))).name
        for failed in entry.get("not_compliant", []):
            rule = failed.get("Rule", {})
            control = rule_to_control.get(rule.get("name", ""), rule.get("name", "?"))
            resources = {r for clause in _clauses(rule.get("checks", []))
                         for r in map(_resource_from_path, _paths(clause)) if r}
            for resource in resources or {"-"}:
                failures.add((control, template, resource))
        for name in entry.get("compliant", []):
            passes.add((rule_to_control.get(name, name), template))
    return failures, passes


# --- exceptions ---------------------------------------------------------------------------------

def load_exceptions(path: Path, controls: Iterable[str], templates: Iterable[str]) -> list[ControlTowerException]:
    """Parse and check rules/exceptions.yaml; raise ExceptionsFileError naming the line of the first problem."""
    known_controls, known_templates = set(controls), set(templates)
    name = path.name if path.parent.name != "rules" else f"rules/{path.name}"
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ExceptionsFileError(f"{name}{where}: not valid YAML: {getattr(error, 'problem', error)}") from error
    if root is None:
        return []

    def fail(node: yaml.Node, message: str) -> ExceptionsFileError:
        return ExceptionsFileError(f"{name}:{node.start_mark.line + 1}: {message}")

    if not isinstance(root, yaml.MappingNode) or [k.value for k, _ in root.value] != ["exceptions"]:
        raise fail(root, "the file must be a mapping with the one key 'exceptions' (a list)")
    entries = root.value[0][1]
    if isinstance(entries, yaml.ScalarNode) and entries.value in ("", "null", "~"):
        return []
    if not isinstance(entries, yaml.SequenceNode):
        raise fail(entries, "'exceptions' must be a list of entries")
    found: list[ControlTowerException] = []
    seen: dict[tuple[str, str, str], int] = {}
    for entry in entries.value:
        if not isinstance(entry, yaml.MappingNode):
            raise fail(entry, f"an exception must be a mapping with {', '.join(EXCEPTION_FIELDS)}")
        fields: dict[str, tuple[yaml.Node, str]] = {}
        resources: list[str] = []
        for key, value in entry.value:
            if key.value not in EXCEPTION_FIELDS:
                raise fail(key, f"unknown field '{key.value}' (allowed: {', '.join(EXCEPTION_FIELDS)})")
            if key.value == "resource" and isinstance(value, yaml.SequenceNode):
                if not value.value or not all(isinstance(v, yaml.ScalarNode) and v.value.strip() for v in value.value):
                    raise fail(value, "'resource' must be a logical id or a non-empty list of logical ids")
                resources = [v.value.strip() for v in value.value]
                fields["resource"] = (value, ",".join(resources))
                continue
            if not isinstance(value, yaml.ScalarNode):
                raise fail(value, f"'{key.value}' must be a single value")
            fields[key.value] = (value, " ".join(str(value.value).split()))
            if key.value == "resource":
                resources = [fields["resource"][1]]
        for field in EXCEPTION_FIELDS:
            if not fields.get(field, (None, ""))[1]:
                raise fail(fields[field][0] if field in fields else entry, f"exception has no {field}")
        control_node, control = fields["control"]
        if not CONTROL_ID.match(control) or control not in known_controls:
            raise fail(control_node, f"'{control}' is not a Control Tower control id of the installed catalog "
                                     "(e.g. CT.LAMBDA.PR.3)")
        template_node, template = fields["template"]
        if template not in known_templates:
            raise fail(template_node, f"template '{template}' is not in templates/ "
                                      f"({', '.join(sorted(known_templates))})")
        review_node, review_text = fields["review_by"]
        try:
            review_by = date.fromisoformat(review_text)
        except ValueError:
            raise fail(review_node, f"review_by '{review_text}' is not a date (YYYY-MM-DD)") from None
        exception = ControlTowerException(control, template, tuple(resources), fields["reason"][1],
                                          fields["owner"][1], review_by, entry.start_mark.line + 1)
        for key in exception.covered():
            if key in seen:
                raise fail(entry, f"{key[2]} is already excepted from {control} by the entry on line {seen[key]}")
            seen[key] = exception.line
        found.append(exception)
    return found


# --- the gate -----------------------------------------------------------------------------------

@dataclass
class ComplianceResult:
    rows: list[Row]
    problems: list[str]  # exception-file problems: stale, expired (the message names the line)
    failures_before_exceptions: int
    controls: int
    templates: int
    exceptions: list[ControlTowerException]

    @property
    def failed(self) -> bool:
        return bool(self.problems) or any(r.result == "FAIL" for r in self.rows)


def compliance(guard: str, *, ct_dir: Path, rules_dir: Path, templates_dir: Path, exceptions_file: Path,
               today: date) -> ComplianceResult:
    controls, rule_to_control = load_catalog(ct_dir)
    if not controls:
        raise FileNotFoundError(f"no Control Tower controls under {ct_dir}: run `make install`")
    templates = template_files(templates_dir)
    exceptions = load_exceptions(exceptions_file, controls, [t.name for t in templates])
    process = start_control_tower_run(guard, ct_dir, templates)
    project_findings, suppressions, _ = gate(guard, rules_dir, templates_dir)
    stdout, stderr = process.communicate()
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"cfn-guard validate (Control Tower catalog) exited {process.returncode} without a "
                           f"report: {(stdout + stderr).strip()[:2000]}") from None
    failures, passes = control_tower_results(report, rule_to_control)

    by_key = {key: e for e in exceptions for key in e.covered()}
    rows = [Row(f.template, f.resource, f.rule, "FAIL", f.message) for f in project_findings]
    rows += [Row(s.template, s.resource, s.rule, "SUPPRESSED", s.reason) for s in suppressions]
    for control, template, resource in sorted(failures):
        fix = controls[control].fix if control in controls else "see the control's rule file"
        exception = by_key.get((control, template, resource))
        title = controls[control].title if control in controls else control
        if exception is None:
            rows.append(Row(template, resource, control, "FAIL", f"{title}. Fix: {fix}"))
        else:
            rows.append(Row(template, resource, control, "EXCEPTION",
                            f"{exception.reason} (owner {exception.owner}, review by {exception.review_by})"))
    failed_controls = {(c, t) for c, t, _ in failures}
    rows += [Row(t, "-", c, "PASS", controls[c].title if c in controls else "")
             for c, t in sorted(passes) if (c, t) not in failed_controls]

    name = f"rules/{exceptions_file.name}"
    problems = [f"{name}:{e.line}: exception {control} {template} {resource} matches no failure: "
                "remove it (the template complies now)"
                for e in exceptions for control, template, resource in e.covered()
                if (control, template, resource) not in failures]
    problems += [f"{name}:{e.line}: exception {e.control} {e.template} {','.join(e.resources)} was due for review "
                 f"on {e.review_by} (today {today}): review it with {e.owner}, then move review_by or fix the template"
                 for e in exceptions if e.review_by < today]
    return ComplianceResult(sorted(rows), problems, len(failures), len(controls), len(templates), exceptions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", default=str(TOOLS / "bin" / "cfn-guard"))
    parser.add_argument("--control-tower", default=TOOLS / "control-tower", type=Path)
    parser.add_argument("--rules", default=RULES, type=Path)
    parser.add_argument("--templates", default=TEMPLATES, type=Path)
    parser.add_argument("--exceptions", default=RULES / "exceptions.yaml", type=Path)
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="the date review_by is compared with (YYYY-MM-DD; default: today)")
    parser.add_argument("--show-pass", action="store_true", help="also list every control that applied and passed")
    args = parser.parse_args(argv)

    started = time.monotonic()
    try:
        result = compliance(args.guard, ct_dir=args.control_tower, rules_dir=args.rules,
                            templates_dir=args.templates, exceptions_file=args.exceptions,
                            today=args.today or date.today())
    except (ExceptionsFileError, FileNotFoundError, RuntimeError) as error:
        print(f"compliance: {error}")
        return 1
    print(f"{'RESULT':<10} {'CONTROL':<34} {'TEMPLATE':<20} {'RESOURCE':<34} FIX / REASON")
    for row in result.rows:
        if row.result != "PASS" or args.show_pass:
            print(row.line())
    for problem in result.problems:
        print(f"EXCEPTIONS {problem}")
    count = {kind: sum(r.result == kind for r in result.rows) for kind in ("FAIL", "EXCEPTION", "SUPPRESSED", "PASS")}
    ct_failures = sum(r.result == "FAIL" and CONTROL_ID.match(r.control) is not None for r in result.rows)
    print(f"compliance: {result.controls} Control Tower controls + project rules over {result.templates} templates; "
          f"Control Tower failures {result.failures_before_exceptions} before exceptions, {ct_failures} after; "
          f"{count['EXCEPTION']} excepted by {len(result.exceptions)} entries of rules/exceptions.yaml, "
          f"{count['SUPPRESSED']} suppressions, {count['PASS']} passing "
          f"(control, template) pairs, {count['FAIL']} failures, {len(result.problems)} exception problems "
          f"({time.monotonic() - started:.1f} s)")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
