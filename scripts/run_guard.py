"""The cfn-guard gate: every rule has tests, every rule's tests pass, every template passes every rule.

cfn-guard itself silently skips a rule file that has no ``rules/tests/<name>_tests.yaml``
(exit 0), so this gate checks for the test file first.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rules_without_tests(rules_dir: Path) -> list[Path]:
    return [rule for rule in sorted(rules_dir.glob("*.guard"))
            if not (rules_dir / "tests" / f"{rule.stem}_tests.yaml").is_file()]


def template_files(templates_dir: Path) -> list[Path]:
    return sorted(p for p in templates_dir.glob("*.yaml"))


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", default=str(ROOT / ".tools/bin/cfn-guard"))
    parser.add_argument("--rules", default=str(ROOT / "rules"), type=Path)
    parser.add_argument("--templates", default=str(ROOT / "templates"), type=Path)
    args = parser.parse_args()

    failures = 0
    untested = rules_without_tests(args.rules)
    for rule in untested:
        print(f"guard: FAIL {rule.relative_to(ROOT) if rule.is_relative_to(ROOT) else rule}: "
              f"no test file {args.rules.name}/tests/{rule.stem}_tests.yaml (cfn-guard would skip it silently)")
    failures += len(untested)

    rules = sorted(args.rules.glob("*.guard"))
    for rule in rules:
        tests = args.rules / "tests" / f"{rule.stem}_tests.yaml"
        if not tests.is_file():
            continue
        result = run([args.guard, "test", "--rules-file", str(rule), "--test-data", str(tests)])
        if result.returncode != 0:
            failures += 1
            print(f"guard: FAIL rule tests {rule.name}\n{result.stdout}{result.stderr}")

    templates = template_files(args.templates)
    for template in templates:
        result = run([args.guard, "validate", "--rules", str(args.rules), "--data", str(template),
                      "--show-summary", "none", "--output-format", "single-line-summary"])
        if result.returncode != 0:
            failures += 1
            print(f"guard: FAIL {template.name}\n{result.stdout}{result.stderr}")

    print(f"guard: {len(rules)} rules, {len(rules) - len(untested)} with tests, {len(templates)} templates, "
          f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
