"""parliament over every policy of every template and params file: the gate for unknown actions and actions
scoped to resources they cannot take (inference_platform_ops.iam.policy_lint)."""

from __future__ import annotations

from inference_platform_ops.iam import policy_lint
from inference_platform_ops.stacks import ResolvedStack
from tests.helpers.template_loader import TEMPLATES


def test_every_template_policy_passes_parliament_or_is_accepted_with_a_reason():
    findings = policy_lint.analyze(TEMPLATES)
    assert policy_lint.problems(findings, policy_lint.accepted()) == []


def test_a_state_machine_arn_on_send_task_success_is_a_blocking_finding(tmp_path):
    """The batch callback's old grant: SendTaskSuccess on a state machine ARN (RESOURCE_MISMATCH)."""
    template = tmp_path / "t.yaml"
    template.write_text("""
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
      Policies:
        - PolicyName: callback
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: states:SendTaskSuccess
                Resource: arn:aws:states:us-east-1:123456789012:stateMachine:x
              - Effect: Allow
                Action: lambda:InvokeFunctionn
                Resource: "*"
""")
    stack = ResolvedStack(template)
    parliament = policy_lint._parliament()
    (where, document), = policy_lint.documents(stack)
    issues = {f.issue for f in parliament.analyze_policy_string(__import__("json").dumps(document)).findings}
    assert where == "Role/callback"
    assert {"RESOURCE_MISMATCH", "UNKNOWN_ACTION"} <= issues & policy_lint.BLOCKING
    findings = [policy_lint.PolicyFinding(issue, "t.yaml", where, "") for issue in issues]
    assert len(policy_lint.problems(findings, {})) == len(issues)
