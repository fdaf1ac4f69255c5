"""The gate's own scripts: a rule without tests and an un-run audit must never pass quietly."""

from __future__ import annotations

from pathlib import Path

from inference_platform_ops.guard import gate as run_guard
from inference_platform_ops.tools import audit_dependencies, install_cfn_guard


def test_rule_without_test_file_is_reported(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    (rules / "tests").mkdir(parents=True)
    (rules / "tested.guard").write_text("rule a { }\n")
    (rules / "tests" / "tested_tests.yaml").write_text("[]\n")
    (rules / "untested.guard").write_text("rule b { }\n")

    assert [p.name for p in run_guard.rules_without_tests(rules)] == ["untested.guard"]


def test_offline_audit_is_counted_as_skipped_not_clean() -> None:
    report = {"dependencies": [
        {"name": "boto3", "skip_reason": "Dependency not found on PyPI and could not be audited: boto3 (1.0)"},
        {"name": "pytest", "version": "9.2.0", "vulns": []},
    ]}
    findings, skipped, audited = audit_dependencies.summarise(report)
    assert findings == [] and audited == 1
    assert skipped == ["boto3: Dependency not found on PyPI and could not be audited: boto3 (1.0)"]


def test_audit_findings_name_package_and_fix() -> None:
    report = {"dependencies": [{"name": "jinja2", "version": "3.0.0",
                                "vulns": [{"id": "GHSA-x", "fix_versions": ["3.1.6"]}]}]}
    findings, _, _ = audit_dependencies.summarise(report)
    assert findings == ["jinja2==3.0.0: GHSA-x (fix: 3.1.6)"]


def test_cfn_guard_binary_is_picked_by_machine() -> None:
    assert install_cfn_guard.binary_member("x86_64") == "package/bin/ubuntu/x86_64/cfn-guard"
    assert install_cfn_guard.binary_member("arm64") == "package/bin/ubuntu/aarch64/cfn-guard"
