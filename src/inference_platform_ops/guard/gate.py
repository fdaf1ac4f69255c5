"""The cfn-guard gate: every rule has tests, every rule's tests pass, every template passes every rule.

Steps (all run; one failure never hides the others):
1. every rules/<name>.guard has rules/tests/<name>_tests.yaml (cfn-guard itself silently skips a rule
   file without one, exit 0), and that file expects SKIP, PASS and FAIL for each rule the file defines;
2. ``cfn-guard test`` over the rules directory (one call);
3. ``cfn-guard validate`` of every template against every rule (one call, structured JSON output);
4. the checks cfn-guard cannot express (inference_platform_ops.guard.extra_checks and .workflow_checks);
5. suppressions: each needs a written Reason (else SUPPRESSION_REASON fails); every honoured one is listed.

Output: one ``FAIL <template> <resource> <RULE>: <message>`` line per failure, one
``SUPPRESSED <template> <resource> <RULE>: <reason>`` line per suppression, and a summary line.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from inference_platform_ops.guard.extra_checks import check_bucket_tls, check_lambda_log_groups, check_log_group_keys
from inference_platform_ops.guard.findings import Finding, Suppression, is_suppressed, read_suppressions
from inference_platform_ops.guard.scale_to_zero_checks import check_scale_to_zero
from inference_platform_ops.guard.workflow_checks import check_workflows
from inference_platform_ops.paths import RULES, TEMPLATES, TOOLS
from inference_platform_ops.templates import load_template

#: Python checks over one parsed template, each returning findings named after its rule(s).
EXTRA_CHECKS: tuple[Callable[[str, dict[str, Any]], list[Finding]], ...] = (
    check_bucket_tls,
    check_lambda_log_groups,
    check_log_group_keys,
    check_workflows,
    check_scale_to_zero,
)
#: Rules implemented in Python (documented in docs/guard-rules.md), besides SUPPRESSION_REASON.
PYTHON_RULES = ("S3_BUCKET_TLS_ONLY", "LAMBDA_LOG_GROUP_RETENTION", "LOG_GROUP_KMS_KEY", "WORKFLOW_ENDPOINT_RETRY",
                "WORKFLOW_ENDPOINT_FALLBACK", "WORKFLOW_ENDPOINT_TIME_BUDGET", "SCALE_TO_ZERO_WAKE_UP_LINK")
EXPECTED_OUTCOMES = frozenset({"SKIP", "PASS", "FAIL"})
_RULE_DEFINITION = re.compile(r"^\s*rule\s+([A-Za-z0-9_]+)\s*(?:when\b|\{)", re.MULTILINE)
_GENERIC = "Check was not compliant"  # how cfn-guard words a clause that has no custom message
_FIX_LINE = re.compile(r"^#\s*Fix:\s*(.+)$", re.MULTILINE)


def rules_without_tests(rules_dir: Path) -> list[Path]:
    return [rule for rule in sorted(rules_dir.glob("*.guard"))
            if not (rules_dir / "tests" / f"{rule.stem}_tests.yaml").is_file()]


def template_files(templates_dir: Path) -> list[Path]:
    """Top-level templates (params/ holds parameter files, not templates)."""
    return sorted(p for pattern in ("*.yaml", "*.yml", "*.json", "*.template") for p in templates_dir.glob(pattern))


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def defined_rules(rule_text: str) -> list[str]:
    """Names of the top-level (not parameterized) rules a .guard file defines."""
    return _RULE_DEFINITION.findall(rule_text)


def rule_fixes(rules_dir: Path) -> dict[str, str]:
    """Rule name -> the Fix line of its file header, used when a failing clause has no custom message."""
    fixes = {}
    for rule_file in sorted(rules_dir.glob("*.guard")):
        text = rule_file.read_text(encoding="utf-8")
        fix = _FIX_LINE.search(text)
        for name in defined_rules(text):
            fixes[name] = fix.group(1).strip() if fix else "see the header of " + rule_file.name
    return fixes


def test_coverage_findings(rules_dir: Path) -> list[Finding]:
    """A test file must expect SKIP, PASS and FAIL at least once for every rule its .guard file defines."""
    findings = []
    for rule_file in sorted(rules_dir.glob("*.guard")):
        tests_file = rules_dir / "tests" / f"{rule_file.stem}_tests.yaml"
        if not tests_file.is_file():
            findings.append(Finding(f"rules/{rule_file.name}", "-", "GUARD_RULE_TESTS",
                                    f"no test file tests/{tests_file.name}; cfn-guard would skip this rule silently. "
                                    "Fix: add SKIP, PASS and FAIL cases in that file."))
            continue
        try:
            cases = yaml.safe_load(tests_file.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as error:
            findings.append(Finding(f"rules/{tests_file.name}", "-", "GUARD_RULE_TESTS", f"not valid YAML: {error}"))
            continue
        seen: dict[str, set[str]] = {}
        for case in cases if isinstance(cases, list) else []:
            expected = (case.get("expectations") or {}).get("rules") or {} if isinstance(case, dict) else {}
            for rule, outcome in expected.items():
                seen.setdefault(rule, set()).add(str(outcome))
        for rule in defined_rules(rule_file.read_text(encoding="utf-8")):
            missing = sorted(EXPECTED_OUTCOMES - seen.get(rule, set()))
            if missing:
                findings.append(Finding(f"rules/{tests_file.name}", "-", rule,
                                        f"no test case expects {', '.join(missing)}. "
                                        "Fix: add a case per outcome so the rule is shown to skip, pass and fail."))
    return findings


def _resource_from_path(path: str) -> str | None:
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "Resources":
        return parts[1]
    if len(parts) >= 2:
        return f"{parts[0]}/{parts[1]}"
    return None


def _paths(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "path" and isinstance(value, str) and value:
                yield value
            else:
                yield from _paths(value)
    elif isinstance(node, list):
        for item in node:
            yield from _paths(item)


def _clauses(node: Any) -> Iterable[dict[str, Any]]:
    """Every failed clause or disjunction group in a cfn-guard structured check tree."""
    if isinstance(node, dict):
        if "Disjunctions" in node:
            yield node["Disjunctions"]
            return
        if "Clause" in node:
            yield node["Clause"]
            return
        for value in node.values():
            yield from _clauses(value)
    elif isinstance(node, list):
        for item in node:
            yield from _clauses(item)


def _messages(node: Any) -> list[tuple[str, str]]:
    found = []
    if isinstance(node, dict):
        messages = node.get("messages")
        if isinstance(messages, dict):
            custom = (messages.get("custom_message") or "").strip()
            found.append((custom, (messages.get("error_message") or "").strip()))
        for key, value in node.items():
            if key != "messages":
                found += _messages(value)
    elif isinstance(node, list):
        for item in node:
            found += _messages(item)
    return found


def _offending_value(node: Any) -> str | None:
    """The scalar value a failed comparison was made on (e.g. the action granted on "*"), if any."""
    if isinstance(node, dict):
        source = node.get("from")
        if isinstance(source, dict) and isinstance(source.get("value"), str | int | float | bool):
            return json.dumps(source["value"])
        for value in node.values():
            found = _offending_value(value)
            if found:
                return found
    elif isinstance(node, list):
        for item in node:
            found = _offending_value(item)
            if found:
                return found
    return None


def _one_line(text: str) -> str:
    # cfn-guard sometimes renders the message's line breaks as ";" followed by the indentation.
    text = " ".join(re.sub(r";\s{2,}|;\s*$", " ", text).split())
    return text.removeprefix("Violation: ").replace(" Fix: ", ". Fix: ").replace(".. Fix:", ". Fix:")


def parse_validate_report(report: list[dict[str, Any]], fixes: dict[str, str]) -> list[Finding]:
    """Turn ``cfn-guard validate --structured --output-format json`` into one finding per failed clause."""
    findings = set()
    for entry in report:
        template = Path(str(entry.get("name", "?"))).name
        for failed in entry.get("not_compliant", []):
            rule = failed.get("Rule", {})
            name = rule.get("name", "?")
            for clause in _clauses(rule.get("checks", [])):
                resource = next((r for r in map(_resource_from_path, _paths(clause)) if r), "-")
                messages = _messages(clause)
                custom = next((c for c, _ in messages if c), "")
                if custom:
                    message = _one_line(custom)
                else:
                    error = next((e for _, e in messages if e), "check failed")
                    message = f"{_one_line(error)} Fix: {fixes.get(name, 'see the rule header')}"
                value = _offending_value(clause)
                if value is not None:
                    message = f"[value {value}] {message}"
                findings.add(Finding(template, resource, name, message))
    # A clause without its own message is redundant when the same rule already explains this resource.
    explained = {(f.template, f.resource, f.rule) for f in findings if _GENERIC not in f.message}
    return sorted(f for f in findings if _GENERIC not in f.message or (f.template, f.resource, f.rule) not in explained)


def guard_test_findings(guard: str, rules_dir: Path) -> list[Finding]:
    result = run([guard, "test", "--dir", str(rules_dir), "--output-format", "json"])
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [Finding(str(rules_dir), "-", "GUARD_RULE_TESTS",
                        f"cfn-guard test exited {result.returncode}: {(result.stdout + result.stderr).strip()[:2000]}")]
    findings = []
    for rule_file in report:
        file_name = "rules/" + Path(rule_file.get("rule_file", "?")).name
        if "error" in rule_file:
            findings.append(Finding(file_name, "-", "GUARD_RULE_TESTS",
                                    f"rule file does not parse: {rule_file['error']}"))
        for case in rule_file.get("test_cases", []):
            for failed in case.get("failed_rules", []):
                findings.append(Finding(file_name, "-", failed.get("name", "?"),
                                        f"test case '{case.get('name')}' expected {failed.get('expected')}, "
                                        f"got {failed.get('evaluated')}"))
    if result.returncode != 0 and not findings:
        findings.append(Finding(file_name if report else str(rules_dir), "-", "GUARD_RULE_TESTS",
                                f"cfn-guard test exited {result.returncode}: {result.stderr.strip()[:2000]}"))
    return findings


def guard_validate_findings(guard: str, rules_dir: Path, templates: list[Path]) -> list[Finding]:
    if not templates:
        return []
    cmd = [guard, "validate", "--rules", str(rules_dir), "--show-summary", "none",
           "--output-format", "json", "--structured"]
    for template in templates:
        cmd += ["--data", str(template)]
    result = run(cmd)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [Finding("-", "-", "GUARD_VALIDATE",
                        f"cfn-guard validate exited {result.returncode} without a report: "
                        f"{(result.stdout + result.stderr).strip()[:2000]}")]
    return parse_validate_report(report, rule_fixes(rules_dir))


def python_check_findings(templates: list[Path]) -> tuple[list[Finding], list[Suppression]]:
    findings: list[Finding] = []
    suppressions: list[Suppression] = []
    for path in templates:
        try:
            template = load_template(path)
        except (OSError, ValueError) as error:
            findings.append(Finding(path.name, "-", "TEMPLATE_PARSE", str(error)))
            continue
        valid, invalid = read_suppressions(path.name, template)
        suppressions += valid
        findings += invalid
        for check in EXTRA_CHECKS:
            findings += [f for f in check(path.name, template)
                         if not is_suppressed(valid, path.name, f.resource, f.rule)]
    return findings, suppressions


def gate(guard: str, rules_dir: Path, templates_dir: Path) -> tuple[list[Finding], list[Suppression], dict[str, int]]:
    templates = template_files(templates_dir)
    findings = test_coverage_findings(rules_dir)
    findings += guard_test_findings(guard, rules_dir)
    findings += guard_validate_findings(guard, rules_dir, templates)
    extra, suppressions = python_check_findings(templates)
    findings += extra
    rule_files = sorted(rules_dir.glob("*.guard"))
    rule_names = [name for f in rule_files for name in defined_rules(f.read_text(encoding="utf-8"))]
    counts = {"rule_files": len(list(rules_dir.glob("*.guard"))), "guard_rules": len(rule_names),
              "python_checks": len(PYTHON_RULES), "templates": len(templates)}
    return sorted(set(findings)), sorted(set(suppressions)), counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", default=str(TOOLS / "bin" / "cfn-guard"))
    parser.add_argument("--rules", default=RULES, type=Path)
    parser.add_argument("--templates", default=TEMPLATES, type=Path)
    args = parser.parse_args(argv)

    if not Path(args.guard).is_file():
        print(f"FAIL - - GUARD_BINARY: cfn-guard not found at {args.guard}. Fix: run `make install` "
              "(it installs cfn-guard into .tools/bin) or pass --guard <path>.")
        return 1
    findings, suppressions, counts = gate(args.guard, args.rules, args.templates)
    for suppression in suppressions:
        print(suppression.line())
    for finding in findings:
        print(finding.line())
    print(f"guard: {counts['guard_rules']} guard rules in {counts['rule_files']} files + "
          f"{counts['python_checks']} Python rules, {counts['templates']} templates, "
          f"{len(suppressions)} suppressions, {len(findings)} failures")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
