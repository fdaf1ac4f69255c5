"""make compliance (inference_platform_ops.guard.compliance) against a two-control catalog and small templates.

The real cfn-guard binary runs the catalog; what is asserted is what the reader of the table sees:
which row fails, which is excepted and why, and which exception-file line is wrong.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path

import pytest

from inference_platform_ops.guard import compliance as gate
from inference_platform_ops.guard.compliance import ExceptionsFileError, compliance, load_exceptions

GUARD = str(gate.TOOLS / "bin" / "cfn-guard")
TODAY = date(2027, 1, 15)

QUEUE_RULE = textwrap.dedent("""\
    let queues = Resources.*[ Type == "AWS::SQS::Queue" ]
    rule sqs_queue_encrypted_check when %queues not empty {
        %queues.Properties.SqsManagedSseEnabled == true
        <<
        [CT.SQS.PR.2]: Require any Amazon SQS queue to have encryption at rest configured
        >>
    }
    """)
TOPIC_RULE = textwrap.dedent("""\
    let topics = Resources.*[ Type == "AWS::SNS::Topic" ]
    rule sns_topic_kms_check when %topics not empty {
        %topics.Properties.KmsMasterKeyId exists
    }
    """)


def catalog(root: Path) -> Path:
    ct = root / "control-tower"
    for service, stem, control, fix, rule in [
        ("sqs", "ct-sqs-pr-2", "CT.SQS.PR.2", "Set 'SqsManagedSseEnabled' to 'true'.", QUEUE_RULE),
        ("sns", "ct-sns-pr-1", "CT.SNS.PR.1", "Set 'KmsMasterKeyId'.", TOPIC_RULE),
    ]:
        (ct / "cfn-guard" / service).mkdir(parents=True)
        (ct / "metadata" / service).mkdir(parents=True)
        (ct / "cfn-guard" / service / f"{stem}.guard").write_text(rule)
        (ct / "metadata" / service / f"{stem}.metadata.json").write_text(json.dumps(
            {"Id": control, "DisplayName": f"title of {control}", "RemediationMessage": fix, "Severity": "MEDIUM"}))
    return ct


def repo(tmp_path: Path, exceptions: str) -> dict:
    rules = tmp_path / "rules"
    (rules / "tests").mkdir(parents=True)
    (rules / "exceptions.yaml").write_text(textwrap.dedent(exceptions))
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "queues.yaml").write_text(textwrap.dedent("""\
        Resources:
          Plain: {Type: AWS::SQS::Queue, Properties: {}}
          Sealed: {Type: AWS::SQS::Queue, Properties: {SqsManagedSseEnabled: true}}
        """))
    return {"ct_dir": catalog(tmp_path), "rules_dir": rules, "templates_dir": templates,
            "exceptions_file": rules / "exceptions.yaml"}


def rows(result) -> dict[tuple[str, str], str]:
    return {(r.control, r.resource): r.result for r in result.rows}


EXCEPTION_FOR_PLAIN = """\
    exceptions:
      - control: CT.SQS.PR.2
        template: queues.yaml
        resource: Plain
        reason: a test queue without data
        owner: ml-platform
        review_by: 2027-06-30
    """


def test_unlisted_control_tower_failure_fails_the_gate_with_the_fix(tmp_path):
    result = compliance(GUARD, **repo(tmp_path, "exceptions: []\n"), today=TODAY)
    assert result.failed
    failing = [r for r in result.rows if r.result == "FAIL"]
    assert [(r.control, r.template, r.resource) for r in failing] == [("CT.SQS.PR.2", "queues.yaml", "Plain")]
    assert "Fix: Set 'SqsManagedSseEnabled' to 'true'." in failing[0].text
    assert result.failures_before_exceptions == 1


def test_listed_exception_turns_the_failure_into_an_exception_row_with_its_reason(tmp_path):
    result = compliance(GUARD, **repo(tmp_path, EXCEPTION_FOR_PLAIN), today=TODAY)
    assert not result.failed
    excepted = next(r for r in result.rows if r.result == "EXCEPTION")
    assert (excepted.control, excepted.resource) == ("CT.SQS.PR.2", "Plain")
    assert excepted.text == "a test queue without data (owner ml-platform, review by 2027-06-30)"


def test_exception_past_its_review_date_fails_naming_the_line(tmp_path):
    result = compliance(GUARD, **repo(tmp_path, EXCEPTION_FOR_PLAIN), today=date(2027, 7, 1))
    assert result.failed
    assert result.problems == [
        "rules/exceptions.yaml:2: exception CT.SQS.PR.2 queues.yaml Plain was due for review on 2027-06-30 "
        "(today 2027-07-01): review it with ml-platform, then move review_by or fix the template"]


def test_exception_that_matches_nothing_fails(tmp_path):
    stale = EXCEPTION_FOR_PLAIN.replace("resource: Plain", "resource: [Plain, Sealed]")
    result = compliance(GUARD, **repo(tmp_path, stale), today=TODAY)
    assert result.failed
    assert result.problems == ["rules/exceptions.yaml:2: exception CT.SQS.PR.2 queues.yaml Sealed matches no "
                               "failure: remove it (the template complies now)"]


@pytest.mark.parametrize(("change", "message"), [
    (("CT.SQS.PR.2", "CT.SQS.PR.22"), "rules/exceptions.yaml:2: 'CT.SQS.PR.22' is not a Control Tower control id"),
    (("CT.SQS.PR.2", "SQS_ENCRYPTED"), "rules/exceptions.yaml:2: 'SQS_ENCRYPTED' is not a Control Tower control id"),
    (("    reason: a test queue without data\n", ""), "rules/exceptions.yaml:2: exception has no reason"),
    (("reason: a test queue without data", "reason: ''"), "rules/exceptions.yaml:5: exception has no reason"),
    (("queues.yaml", "queue.yaml"), "rules/exceptions.yaml:3: template 'queue.yaml' is not in templates/"),
    (("2027-06-30", "next summer"), "rules/exceptions.yaml:7: review_by 'next summer' is not a date"),
    (("owner: ml-platform", "owners: ml-platform"), "rules/exceptions.yaml:6: unknown field 'owners'"),
])
def test_bad_exception_entry_is_refused_naming_the_line(tmp_path, change, message):
    text = textwrap.dedent(EXCEPTION_FOR_PLAIN).replace(*change)
    paths = repo(tmp_path, text)
    with pytest.raises(ExceptionsFileError) as refused:
        load_exceptions(paths["exceptions_file"], ["CT.SQS.PR.2", "CT.SNS.PR.1"], ["queues.yaml"])
    assert str(refused.value).startswith(message)


def test_the_same_resource_excepted_twice_is_refused(tmp_path):
    entry = textwrap.dedent(EXCEPTION_FOR_PLAIN).split("\n", 1)[1]
    paths = repo(tmp_path, "exceptions:\n" + entry + entry)
    with pytest.raises(ExceptionsFileError, match=r"exceptions.yaml:8: Plain is already excepted from CT.SQS.PR.2 "
                                                  r"by the entry on line 2"):
        load_exceptions(paths["exceptions_file"], ["CT.SQS.PR.2"], ["queues.yaml"])


def test_command_prints_one_table_and_exits_non_zero_on_a_failure(tmp_path, capsys):
    paths = repo(tmp_path, "exceptions: []\n")
    code = gate.main(["--guard", GUARD, "--control-tower", str(paths["ct_dir"]), "--rules", str(paths["rules_dir"]),
                      "--templates", str(paths["templates_dir"]), "--exceptions", str(paths["exceptions_file"]),
                      "--today", "2027-01-15"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].split() == ["RESULT", "CONTROL", "TEMPLATE", "RESOURCE", "FIX", "/", "REASON"]
    assert any(line.split()[:4] == ["FAIL", "CT.SQS.PR.2", "queues.yaml", "Plain"] for line in out)
    assert "Control Tower failures 1 before exceptions, 1 after" in out[-1]


def test_command_names_the_line_of_a_bad_exceptions_file(tmp_path, capsys):
    paths = repo(tmp_path, EXCEPTION_FOR_PLAIN.replace("CT.SQS.PR.2", "CT.SQS.PR.9"))
    code = gate.main(["--guard", GUARD, "--control-tower", str(paths["ct_dir"]), "--rules", str(paths["rules_dir"]),
                      "--templates", str(paths["templates_dir"]), "--exceptions", str(paths["exceptions_file"])])
    assert code == 1
    assert capsys.readouterr().out.startswith("compliance: rules/exceptions.yaml:2: 'CT.SQS.PR.9' is not a Control")
