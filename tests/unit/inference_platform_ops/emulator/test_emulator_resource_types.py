"""inference_platform_ops.emulator.cfn_resources: what moto's CloudFormation skips is created, and deleted, locally.

Every resource type of the project's templates must be created by the emulator; a type added to a template
that neither moto nor cfn_resources creates fails here, naming it (register it in cfn_resources). The
round trip creates each emulated type through a stack and checks it through the service's own API, then
deletes the stack and checks it is gone.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from inference_platform_ops.emulator import cfn_resources
from inference_platform_ops.emulator import compat as emulator_compat
from inference_platform_ops.paths import ROOT
from inference_platform_ops.templates import load_template

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/any"
ZIP = "def handler(event, context):\n    return event\n"


def template_types() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for path in sorted((ROOT / "templates").glob("*.yaml")):
        for resource in (load_template(path).get("Resources") or {}).values():
            used.setdefault(resource["Type"], []).append(path.name)
    return used


def test_every_resource_type_of_the_templates_is_created_by_the_emulator():
    with emulator_compat.patched():
        missing = {t: files for t, files in template_types().items() if not emulator_compat.creates(t)}
    assert missing == {}, "register these in inference_platform_ops/emulator/cfn_resources.py"


def test_the_registry_only_adds_types_moto_lacks_or_mis_creates():
    """A type moto creates well must stay moto's (Lambda::Permission is re-done: moto gives it no physical id)."""
    from moto.cloudformation import parsing

    shipped = {t for t in cfn_resources.emulated_types() if parsing.get_model_map().get(t) is not None}
    assert shipped == {"AWS::Lambda::Permission"}


ROUND_TRIP = {
    "Resources": {
        "Target": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
            "ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ResourceId": "endpoint/demo/variant/AllTraffic", "MinCapacity": "1", "MaxCapacity": "3",
            "ScheduledActions": [{"ScheduledActionName": "night", "Schedule": "cron(0 20 ? * MON-FRI *)",
                                  "Timezone": "Europe/Berlin", "ScalableTargetAction": {"MaxCapacity": "1"}}]}},
        "Policy": {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
            "PolicyName": "per-instance", "PolicyType": "TargetTrackingScaling", "ScalingTargetId": {"Ref": "Target"},
            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": "70", "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}},
        "Vault": {"Type": "AWS::Backup::BackupVault", "Properties": {"BackupVaultName": "demo-vault"}},
        "Plan": {"Type": "AWS::Backup::BackupPlan", "Properties": {"BackupPlan": {
            "BackupPlanName": "demo-daily", "BackupPlanRule": [
                {"RuleName": "daily", "TargetBackupVault": {"Ref": "Vault"}, "Lifecycle": {"DeleteAfterDays": "7"}}]}}},
        "Selection": {"Type": "AWS::Backup::BackupSelection", "Properties": {
            "BackupPlanId": {"Ref": "Plan"},
            "BackupSelection": {"SelectionName": "table", "IamRoleArn": ROLE, "Resources": ["arn:aws:dynamodb:x"]}}},
        "Topic": {"Type": "AWS::SNS::Topic"},
        "TopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": "Topic"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "budgets.amazonaws.com"}, "Action": "sns:Publish",
                "Resource": {"Ref": "Topic"}}]}}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": "demo-alarm", "Namespace": "AWS/Billing", "MetricName": "EstimatedCharges",
            "Statistic": "Maximum", "Period": "21600", "EvaluationPeriods": "1", "Threshold": "10",
            "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [{"Ref": "Topic"}]}},
        "FunctionRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}}},
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
            "Code": {"ZipFile": ZIP}}},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "Function"}, "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com", "SourceArn": "arn:aws:events:us-east-1:123456789012:rule/demo"}},
        "Provider": {"Type": "AWS::IAM::OIDCProvider", "Properties": {
            "Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]}},
    },
    "Outputs": {"TargetId": {"Value": {"Ref": "Target"}},
                "PlanArn": {"Value": {"Fn::GetAtt": ["Plan", "BackupPlanArn"]}},
                "AlarmArn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}}},
}


@pytest.fixture
def aws():
    with mock_aws(), emulator_compat.patched():
        yield lambda service: boto3.client(service, region_name=REGION)


def test_emulated_types_are_created_with_their_stack_and_deleted_with_it(aws):
    cfn = aws("cloudformation")
    cfn.create_stack(StackName="round-trip", TemplateBody=json.dumps(ROUND_TRIP))

    stack = cfn.describe_stacks(StackName="round-trip")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert out["TargetId"] == "endpoint/demo/variant/AllTraffic|sagemaker:variant:DesiredInstanceCount|sagemaker"
    assert out["PlanArn"].startswith("arn:aws:backup:") and out["AlarmArn"].endswith(":alarm:demo-alarm")
    rows = cfn.describe_stack_resources(StackName="round-trip")["StackResources"]
    assert all(r.get("PhysicalResourceId") for r in rows), rows
    scaling = aws("application-autoscaling")
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)  # "1"/"3" typed as the API's integers
    (action,) = scaling.describe_scheduled_actions(ServiceNamespace="sagemaker")["ScheduledActions"]
    assert (action["Timezone"], action["ScalableTargetAction"]["MaxCapacity"]) == ("Europe/Berlin", 1)
    assert scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]["PolicyName"] == \
        "per-instance"
    (plan,) = aws("backup").list_backup_plans()["BackupPlansList"]
    rules = aws("backup").get_backup_plan(BackupPlanId=plan["BackupPlanId"])["BackupPlan"]["Rules"]
    assert rules[0]["TargetBackupVaultName"] == "demo-vault"
    assert [s.name for s in cfn_resources.selections()] == ["table"]
    assert aws("cloudwatch").describe_alarms(AlarmNames=["demo-alarm"])["MetricAlarms"][0]["Threshold"] == 10.0
    function = [r["PhysicalResourceId"] for r in rows if r["LogicalResourceId"] == "Function"][0]
    statement = json.loads(aws("lambda").get_policy(FunctionName=function)["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert len(aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1

    cfn.delete_stack(StackName="round-trip")

    assert aws("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")[
        "ScalableTargets"] == []
    assert aws("backup").list_backup_plans()["BackupPlansList"] == []
    assert aws("backup").list_backup_vaults()["BackupVaultList"] == []
    assert cfn_resources.selections() == []
    assert aws("cloudwatch").describe_alarms(AlarmNames=["demo-alarm"])["MetricAlarms"] == []
    assert aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    cfn.create_stack(StackName="again", TemplateBody=json.dumps(ROUND_TRIP))  # names are free again
    assert cfn.describe_stacks(StackName="again")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_a_bad_property_fails_the_resource_with_the_apis_own_message(aws):
    cfn = aws("cloudformation")
    bad = {"Resources": {"Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": "broken", "EvaluationPeriods": "one", "Threshold": "1",
        "ComparisonOperator": "GreaterThanThreshold"}}}}
    change_set = cfn.create_change_set(StackName="bad", ChangeSetName="c1", ChangeSetType="CREATE",
                                       TemplateBody=json.dumps(bad))
    cfn.execute_change_set(ChangeSetName=change_set["Id"])

    assert cfn.describe_stacks(StackName="bad")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in cfn.describe_stack_events(StackName="bad")["StackEvents"]
               if e["LogicalResourceId"] == "Alarm" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert reasons and "EvaluationPeriods" in reasons[0]  # botocore's validation against the service model


def test_deleting_what_is_already_gone_is_not_an_error(aws):
    cfn = aws("cloudformation")
    cfn.create_stack(StackName="gone", TemplateBody=json.dumps({"Resources": {
        "Vault": {"Type": "AWS::Backup::BackupVault", "Properties": {"BackupVaultName": "v"}}}}))
    aws("backup").delete_backup_vault(BackupVaultName="v")

    cfn.delete_stack(StackName="gone")

    with pytest.raises(ClientError):
        cfn.describe_stacks(StackName="gone")


def test_a_log_group_keeps_its_kms_key(aws):
    key = aws("kms").create_key()["KeyMetadata"]["Arn"]
    aws("cloudformation").create_stack(StackName="logs", TemplateBody=json.dumps({"Resources": {"Group": {
        "Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/demo/encrypted", "KmsKeyId": key,
                                                      "RetentionInDays": 7}}}}))

    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix="/demo/encrypted")["logGroups"]
    assert (group["kmsKeyId"], group["retentionInDays"]) == (key, 7)
