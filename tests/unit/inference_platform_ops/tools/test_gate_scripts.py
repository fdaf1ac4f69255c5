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


def _wheel(tmp_path: Path, members: dict[str, bytes]) -> Path:
    import io
    import tarfile
    import zipfile

    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("cdklabs/cdk_validator_cfnguard/_jsii/x.jsii.tgz", payload.getvalue())
    return wheel


def test_control_tower_rules_are_extracted_with_metadata_and_license(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(install_cfn_guard, "EXPECTED_CONTROL_TOWER_RULES", 1)
    wheel = _wheel(tmp_path, {"package/LICENSE": b"Apache-2.0",
                              "package/rules/control-tower/cfn-guard/sqs/ct-sqs-pr-1.guard": b"rule a { }",
                              "package/rules/control-tower/metadata/sqs/ct-sqs-pr-1.metadata.json": b"{}",
                              "package/bin/ubuntu/x86_64/cfn-guard": b"binary"})
    target = tmp_path / "control-tower"
    assert install_cfn_guard.extract_control_tower_rules(wheel, target) == 1
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        "LICENSE", "cfn-guard/sqs/ct-sqs-pr-1.guard", "metadata/sqs/ct-sqs-pr-1.metadata.json"]


def test_control_tower_extraction_refuses_escaping_paths_and_a_short_catalog(tmp_path: Path) -> None:
    import pytest

    escaping = _wheel(tmp_path, {"package/rules/control-tower/../../../evil.guard": b"x"})
    with pytest.raises(SystemExit, match="refusing archive member"):
        install_cfn_guard.extract_control_tower_rules(escaping, tmp_path / "ct")
    assert not (tmp_path / "evil.guard").exists()
    short = _wheel(tmp_path, {"package/rules/control-tower/cfn-guard/sqs/ct-sqs-pr-1.guard": b"rule a { }"})
    with pytest.raises(SystemExit, match="expected 237 Control Tower rules"):
        install_cfn_guard.extract_control_tower_rules(short, tmp_path / "ct")
    assert not (tmp_path / "ct").exists()
