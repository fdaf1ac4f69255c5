"""The guard gate (inference_platform_ops.guard.gate) against small fixture rules and templates in tmp_path.

These run the real cfn-guard binary: what is asserted is what a reader of the gate's output sees.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from inference_platform_ops.guard import gate as run_guard
from inference_platform_ops.paths import RULES, TOOLS

GUARD = str(TOOLS / "bin" / "cfn-guard")

TOPIC_RULE = textwrap.dedent("""\
    #
    # Rule: TOPIC_KMS
    # Fix:  set KmsMasterKeyId.
    #
    let topics = Resources.*[
        Type == "AWS::SNS::Topic"
        Metadata.guard.SuppressedRules not exists or
        Metadata.guard.Reason not exists or
        Metadata.guard.Reason !is_string or
        Metadata.guard.Reason == /^\\s*$/ or
        Metadata.guard.SuppressedRules[*] != "TOPIC_KMS"
    ]
    rule TOPIC_KMS when %topics !empty {
        %topics.Properties.KmsMasterKeyId exists
        <<
        Violation: the topic is not encrypted.
        Fix: set KmsMasterKeyId.
        >>
    }
    """)

TOPIC_TESTS = textwrap.dedent("""\
    - name: skip
      input: { Resources: { B: { Type: AWS::S3::Bucket } } }
      expectations: { rules: { TOPIC_KMS: SKIP } }
    - name: pass
      input: { Resources: { T: { Type: AWS::SNS::Topic, Properties: { KmsMasterKeyId: k } } } }
      expectations: { rules: { TOPIC_KMS: PASS } }
    - name: fail
      input: { Resources: { T: { Type: AWS::SNS::Topic, Properties: {} } } }
      expectations: { rules: { TOPIC_KMS: FAIL } }
    """)


def make_repo(tmp_path: Path, templates: dict[str, str], tests: str | None = TOPIC_TESTS) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    (rules / "tests").mkdir(parents=True)
    (rules / "topic_kms.guard").write_text(TOPIC_RULE)
    if tests is not None:
        (rules / "tests" / "topic_kms_tests.yaml").write_text(tests)
    template_dir = tmp_path / "templates"
    template_dir.mkdir()
    for name, text in templates.items():
        (template_dir / name).write_text(textwrap.dedent(text))
    return rules, template_dir


def run_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: Path, templates: Path) -> tuple[int, list[str]]:
    code = run_guard.main(["--guard", GUARD, "--rules", str(rules), "--templates", str(templates)])
    return code, capsys.readouterr().out.splitlines()


CLEAN = """\
    Resources:
      Topic:
        Type: AWS::SNS::Topic
        Properties: { KmsMasterKeyId: alias/aws/sns }
    """


def test_clean_repository_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, templates = make_repo(tmp_path, {"clean.yaml": CLEAN})
    code, lines = run_gate(tmp_path, capsys, rules, templates)
    assert code == 0, lines
    assert lines[-1].endswith("0 suppressions, 0 failures")


def test_failure_line_names_template_resource_rule_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, templates = make_repo(tmp_path, {"clean.yaml": CLEAN, "alerts.yaml": """\
        Resources:
          AlertTopic:
            Type: AWS::SNS::Topic
            Properties: { TopicName: alerts }
        """})
    code, lines = run_gate(tmp_path, capsys, rules, templates)
    assert code == 1
    failures = [line for line in lines if line.startswith("FAIL ")]
    assert failures == ["FAIL alerts.yaml AlertTopic TOPIC_KMS: the topic is not encrypted. Fix: set KmsMasterKeyId."]


def test_rule_without_test_file_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, templates = make_repo(tmp_path, {"clean.yaml": CLEAN}, tests=None)
    code, lines = run_gate(tmp_path, capsys, rules, templates)
    assert code == 1
    assert any(line.startswith("FAIL rules/topic_kms.guard - GUARD_RULE_TESTS: no test file") for line in lines), lines


def test_test_file_without_a_fail_case_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    only_skip_and_pass = "\n".join(TOPIC_TESTS.splitlines()[:6]) + "\n"
    rules, templates = make_repo(tmp_path, {"clean.yaml": CLEAN}, tests=only_skip_and_pass)
    code, lines = run_gate(tmp_path, capsys, rules, templates)
    assert code == 1
    assert "FAIL rules/topic_kms_tests.yaml - TOPIC_KMS: no test case expects FAIL." in " ".join(lines)


def test_wrong_expectation_in_rule_tests_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = TOPIC_TESTS.replace("TOPIC_KMS: FAIL", "TOPIC_KMS: PASS") + textwrap.dedent("""\
        - name: real fail
          input: { Resources: { T: { Type: AWS::SNS::Topic } } }
          expectations: { rules: { TOPIC_KMS: FAIL } }
        """)
    rules, templates = make_repo(tmp_path, {"clean.yaml": CLEAN}, tests=wrong)
    code, lines = run_gate(tmp_path, capsys, rules, templates)
    assert code == 1
    assert "FAIL rules/topic_kms.guard - TOPIC_KMS: test case 'fail' expected PASS, got ['FAIL']" in lines


def test_suppression_with_reason_is_honoured_and_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, templates = make_repo(tmp_path, {"legacy.yaml": """\
        Resources:
          LegacyTopic:
            Type: AWS::SNS::Topic
            Metadata:
              guard:
                SuppressedRules: [TOPIC_KMS]
                Reason: >-
                  Subscribed by a partner account
                  that cannot use our key.
        """})
    code, lines = run_gate(tmp_path, capsys, rules, templates)
    assert code == 0, lines
    assert ("SUPPRESSED legacy.yaml LegacyTopic TOPIC_KMS: Subscribed by a partner account that cannot use our key."
            in lines)


def test_suppression_without_reason_fails_and_does_not_suppress(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    rules, templates = make_repo(tmp_path, {"legacy.yaml": """\
        Resources:
          LegacyTopic:
            Type: AWS::SNS::Topic
            Metadata:
              guard:
                SuppressedRules: [TOPIC_KMS]
                Reason: "   "
        """})
    code, lines = run_gate(tmp_path, capsys, rules, templates)
    assert code == 1
    failures = [line for line in lines if line.startswith("FAIL ")]
    assert any(line.startswith("FAIL legacy.yaml LegacyTopic SUPPRESSION_REASON: suppression of TOPIC_KMS has no "
                               "written Reason") for line in failures), failures
    assert any(line.startswith("FAIL legacy.yaml LegacyTopic TOPIC_KMS:") for line in failures), failures
    assert not any(line.startswith("SUPPRESSED") for line in lines)


def test_python_check_failures_share_the_format_and_one_bad_template_does_not_hide_others(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, templates = make_repo(tmp_path, {
        "broken.yaml": "Resources: [unclosed\n",
        "bucket.yaml": """\
            Resources:
              Data:
                Type: AWS::S3::Bucket
            """,
    })
    code, lines = run_gate(tmp_path, capsys, rules, templates)
    assert code == 1
    assert any(line.startswith("FAIL broken.yaml - TEMPLATE_PARSE: broken.yaml: not valid YAML") for line in lines)
    assert any(line.startswith("FAIL bucket.yaml Data S3_BUCKET_TLS_ONLY: the bucket has no policy denying")
               for line in lines), lines


def test_repository_rule_files_all_define_rules_with_a_fix() -> None:
    """Every shipped rule file defines at least one rule and states its fix in the header."""
    fixes = run_guard.rule_fixes(RULES)
    names = [name for path in sorted((RULES).glob("*.guard"))
             for name in run_guard.defined_rules(path.read_text())]
    assert len(names) >= 15
    assert set(names) == set(fixes)
    assert all(fix and not fix.startswith("see the header") for fix in fixes.values())


def test_missing_cfn_guard_binary_is_a_clear_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, templates = make_repo(tmp_path, {"clean.yaml": CLEAN})
    code = run_guard.main(["--guard", str(tmp_path / "nowhere/cfn-guard"), "--rules", str(rules),
                           "--templates", str(templates)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("FAIL - - GUARD_BINARY: cfn-guard not found at ") and "make install" in out
