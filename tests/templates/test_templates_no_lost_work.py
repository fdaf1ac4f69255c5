"""No work lost: every asynchronously invoked Lambda keeps its failures somewhere a person is told about.

Invariants, in words, for every Lambda an EventBridge rule invokes (the batch callback, the idle detector):
- the rule's target has a dead-letter queue and the function an on-failure destination, both an SQS queue
  of the same template that is encrypted and alarmed on (depth >= 1 notifies the alarm topic);
- the queue accepts EventBridge's messages only from that rule, and the function's role may send to it;
- the function's invoke permission names the rule and the account.
And the idle detector never runs twice at once and alarms on its own errors.
"""

from __future__ import annotations

import pytest

from tests.helpers.template_loader import load_template

TEMPLATES = ["workflow.yaml", "cost-controls.yaml"]


def of_type(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def arn_of(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def event_targets(template: dict) -> list[tuple[str, str, dict]]:
    """(rule, function, target) for every rule target that is a Lambda of this template."""
    functions = of_type(template, "AWS::Lambda::Function")
    found = []
    for rule_name, rule in of_type(template, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            function = next((f for f in functions if target["Arn"] == arn_of(f)), None)
            if function:
                found.append((rule_name, function, target))
    return found


def queue_of(template: dict, arn: dict) -> str:
    queue = arn["Fn::GetAtt"][0]
    assert template["Resources"][queue]["Type"] == "AWS::SQS::Queue"
    return queue


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_async_lambda_keeps_and_alarms_on_its_failures(name):
    template = load_template(name)
    targets = event_targets(template)
    assert targets, f"{name} has no EventBridge-invoked Lambda"
    for rule, function, target in targets:
        dead_letters = queue_of(template, target["DeadLetterConfig"]["Arn"])
        configs = [c["Properties"] for c in of_type(template, "AWS::Lambda::EventInvokeConfig").values()
                   if c["Properties"]["FunctionName"] == {"Ref": function}]
        assert len(configs) == 1, f"{function} has no event invoke config"
        assert queue_of(template, configs[0]["DestinationConfig"]["OnFailure"]["Destination"]) == dead_letters

        queue = template["Resources"][dead_letters]["Properties"]
        assert queue.get("SqsManagedSseEnabled") is True or queue.get("KmsMasterKeyId")
        assert queue["MessageRetentionPeriod"] == 1209600  # 14 days, the SQS maximum
        alarms = [a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()
                  if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letters, "QueueName"]}}
                  in a["Properties"].get("Dimensions", [])]
        assert len(alarms) == 1, f"no alarm on {dead_letters}"
        assert alarms[0]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarms[0]["Threshold"], alarms[0]["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert alarms[0]["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]

        policies = [p["Properties"] for p in of_type(template, "AWS::SQS::QueuePolicy").values()
                    if p["Properties"]["Queues"] == [{"Ref": dead_letters}]]
        (statement,) = policies[0]["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": arn_of(rule)}}

        role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
        role_statements = [s for p in template["Resources"][role]["Properties"]["Policies"]
                           for s in p["PolicyDocument"]["Statement"]]
        assert any(s.get("Action") == "sqs:SendMessage" and s["Resource"] == arn_of(dead_letters)
                   for s in role_statements), f"{role} may not send {function}'s failures to {dead_letters}"

        permissions = [p["Properties"] for p in of_type(template, "AWS::Lambda::Permission").values()
                       if p["Properties"]["FunctionName"] == {"Ref": function}]
        account = {"Ref": "AWS::AccountId"}
        assert [(p["SourceArn"], p["SourceAccount"]) for p in permissions] == [(arn_of(rule), account)]


def test_idle_detector_runs_alone_and_alarms_on_its_own_errors():
    template = load_template("cost-controls.yaml")
    function = template["Resources"]["IdleDetectorFunction"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == 1
    errors = [a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"]["MetricName"] == "Errors"]
    assert errors and errors[0]["Namespace"] == "AWS/Lambda"
    assert errors[0]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "IdleDetectorFunction"}}]
    assert errors[0]["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
