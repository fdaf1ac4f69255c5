"""templates/cost-controls.yaml: the contract other stacks rely on, least privilege, and a moto deploy."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from moto import mock_aws

from inference_platform_ops.emulator.compat import patched as emulator_patches
from tests.helpers.template_loader import TEMPLATES, load_template

TEMPLATE = load_template("cost-controls.yaml")
RESOURCES = TEMPLATE["Resources"]


def of_type(kind: str) -> dict:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def role_statements() -> list[dict]:
    role = RESOURCES["IdleDetectorRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    statements += RESOURCES["IdleDetectorSummaryPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_parameters_match_the_shared_contract():
    params = TEMPLATE["Parameters"]
    assert set(params) == {
        "Environment", "ProjectName", "ArtifactBucket", "LambdaCodeKey", "AutoStopAction", "DryRun",
        "IdleWindowHours", "ProtectionTagKey", "ProtectedValues", "ScheduleExpression", "NotificationEmail",
        "LogRetentionDays", "LogsKmsKeyArn", "AlarmTopicArn", "VpcSubnetIds", "VpcSecurityGroupIds",
        "BusinessTimezone", "BusinessDays", "BusinessStartHour",
    }  # fmt: skip
    # main.yaml must pass the log key and the alarm topic: no default lets a stack go without them.
    assert "Default" not in params["LogsKmsKeyArn"] and "Default" not in params["AlarmTopicArn"]
    defaults = {name: str(p.get("Default")) for name, p in params.items() if "Default" in p}
    assert defaults["AutoStopAction"] == "scale_down"
    assert defaults["DryRun"] == "true"
    assert defaults["IdleWindowHours"] == "24"
    assert defaults["ProtectionTagKey"] == "ProtectionLevel"
    assert defaults["ProtectedValues"] == "critical"
    assert defaults["ScheduleExpression"] == "rate(1 hour)"
    assert defaults["NotificationEmail"] == ""
    assert defaults["LogRetentionDays"] == "30"
    for name, p in params.items():
        assert {"AllowedValues", "AllowedPattern", "MinValue"} & set(p), f"{name} is unconstrained"
        assert p.get("ConstraintDescription"), f"{name} has no ConstraintDescription"


def test_outputs_match_the_shared_contract():
    assert set(TEMPLATE["Outputs"]) == {"IdleDetectorFunctionName", "IdleDetectorFunctionArn", "SummaryTopicArn"}


def test_lambda_runs_the_idle_detector_with_settings_from_parameters():
    props = RESOURCES["IdleDetectorFunction"]["Properties"]
    assert props["Handler"] == "inference_platform.handlers.idle_detector.handler"
    assert props["Runtime"] == "python3.12"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Code"] == {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "LambdaCodeKey"}}
    env = props["Environment"]["Variables"]
    assert env["ENVIRONMENT"] == {"Ref": "Environment"}
    assert env["AUTO_STOP_ACTION"] == {"Ref": "AutoStopAction"}
    assert env["DRY_RUN"] == {"Ref": "DryRun"}
    assert env["IDLE_WINDOW_HOURS"] == {"Ref": "IdleWindowHours"}
    assert env["PROTECTION_TAG_KEY"] == {"Ref": "ProtectionTagKey"}
    assert env["PROTECTED_VALUES"] == {"Ref": "ProtectedValues"}
    assert env["SUMMARY_TOPIC_ARN"] == {"Ref": "SummaryTopic"}
    # The same business hours as the router and the scaling schedule: suspended schedules come back before them.
    for variable, parameter in [("BUSINESS_TIMEZONE", "BusinessTimezone"), ("BUSINESS_DAYS", "BusinessDays"),
                                ("BUSINESS_START_HOUR", "BusinessStartHour")]:
        assert env[variable] == {"Ref": parameter}
        assert load_template("main.yaml")["Resources"]["CostControlsStack"]["Properties"]["Parameters"][parameter] \
            == {"Ref": parameter}
    log_group = RESOURCES["IdleDetectorLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${ProjectName}-${Environment}-idle-detector"}
    assert props["FunctionName"] == {"Fn::Sub": "${ProjectName}-${Environment}-idle-detector"}


def test_schedule_invokes_the_function_and_may_do_so():
    rule = RESOURCES["IdleDetectorSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["IdleDetectorFunction", "Arn"]}
    permission = RESOURCES["IdleDetectorSchedulePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["IdleDetectorSchedule", "Arn"]}


def test_summary_topic_is_encrypted_with_a_key_the_function_may_use():
    topic = RESOURCES["SummaryTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "SummaryTopicKey"}
    # The key policy's root statement delegates to IAM; the function's own policy grants the key's use.
    key_statements = RESOURCES["SummaryTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert not any("IdleDetectorRole" in str(s.get("Principal")) for s in key_statements)
    assert "AccountAdministration" in [s["Sid"] for s in key_statements]
    grants = RESOURCES["IdleDetectorSummaryPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    encrypt = next(s for s in grants if s["Sid"] == "EncryptSummary")
    assert "kms:GenerateDataKey*" in encrypt["Action"]
    assert encrypt["Resource"] == {"Fn::GetAtt": ["SummaryTopicKey", "Arn"]}
    subscription = RESOURCES["SummaryEmailSubscription"]
    assert subscription["Condition"] == "HasNotificationEmail"


def test_role_grants_exactly_the_calls_the_code_makes():
    granted = set()
    for statement in role_statements():
        s = statement["Fn::If"][1] if "Fn::If" in statement else statement
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        granted |= set(actions)
    assert granted == {
        "sagemaker:Search", "sagemaker:DescribeEndpointConfig", "sagemaker:UpdateEndpointWeightsAndCapacities",
        "sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint", "cloudwatch:GetMetricData",
        "application-autoscaling:DescribeScalableTargets", "application-autoscaling:RegisterScalableTarget",
        "sns:Publish", "kms:GenerateDataKey*", "kms:Decrypt",
        "logs:CreateLogStream", "logs:PutLogEvents",
        # recording who suspended an endpoint's schedules (tags on it), and failed runs to the queue
        "sagemaker:AddTags", "sagemaker:DeleteTags", "sqs:SendMessage",
    }  # fmt: skip
    assert not any(a.split(":")[-1] == "*" for a in granted)


def test_writes_are_scoped_and_delete_exists_only_for_the_delete_action():
    for s in role_statements():
        if "Fn::If" in s:
            condition, delete, otherwise = s["Fn::If"]
            assert condition == "CanDelete"
            assert otherwise == {"Ref": "AWS::NoValue"}
            assert delete["Action"] == "sagemaker:DeleteEndpoint"
            assert delete["Condition"]["StringNotEqualsIgnoreCase"] == {"aws:ResourceTag/Environment": "production"}
            assert delete["Condition"]["Null"] == {"aws:ResourceTag/aws:cloudformation:stack-name": "true"}
            continue
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if s["Resource"] == "*":
            read_only = ("Describe", "List", "Get", "Search")
            assert all(a.split(":")[1].startswith(read_only) for a in actions), actions
    assert TEMPLATE["Conditions"]["CanDelete"] == {"Fn::Equals": [{"Ref": "AutoStopAction"}, "delete"]}
    assert "Reasons" in RESOURCES["IdleDetectorRole"]["Metadata"]


def test_delete_is_impossible_in_production():
    rule = TEMPLATE["Rules"]["NoDeleteInProduction"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Environment"}, "production"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AutoStopAction"}, "delete"]}]}


def test_every_taggable_resource_has_an_environment_tag():
    untaggable = {"AWS::KMS::Alias", "AWS::SNS::Subscription", "AWS::Lambda::Permission", "AWS::IAM::Policy",
                  "AWS::Events::Rule", "AWS::SQS::QueuePolicy", "AWS::Lambda::EventInvokeConfig"}  # fmt: skip
    for name, resource in RESOURCES.items():
        if resource["Type"] in untaggable:
            continue
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        assert tags.get("Environment") == {"Ref": "Environment"}, f"{name} lacks the Environment tag"


@pytest.fixture
def code_in_s3():
    """The local emulator as `make deploy` uses it: moto plus the project's CloudFormation patches."""
    with mock_aws(), emulator_patches():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts-bucket")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("inference_platform/__init__.py", "")
        s3.put_object(Bucket="artifacts-bucket", Key="lambda/code.zip", Body=buffer.getvalue())
        yield


@pytest.mark.usefixtures("code_in_s3")
def test_stack_deploys_in_moto_and_wires_the_function():
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    logs_key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    alarm_topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="ml-inference-dev-alarms")["TopicArn"]
    parameters = {"Environment": "dev", "ProjectName": "ml-inference", "ArtifactBucket": "artifacts-bucket",
                  "LambdaCodeKey": "lambda/code.zip", "AutoStopAction": "delete", "DryRun": "false",
                  "NotificationEmail": "ops@example.com", "LogsKmsKeyArn": logs_key,
                  "AlarmTopicArn": alarm_topic}  # fmt: skip
    cfn.create_stack(
        StackName="cost-controls",
        TemplateBody=(TEMPLATES / "cost-controls.yaml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName="cost-controls")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    function = boto3.client("lambda", region_name="us-east-1").get_function(
        FunctionName=outputs["IdleDetectorFunctionName"]
    )["Configuration"]
    assert function["Handler"] == "inference_platform.handlers.idle_detector.handler"
    env = function["Environment"]["Variables"]
    assert env["AUTO_STOP_ACTION"] == "delete"
    assert env["DRY_RUN"] == "false"
    assert env["SUMMARY_TOPIC_ARN"] == outputs["SummaryTopicArn"]
    attrs = boto3.client("sns", region_name="us-east-1").get_topic_attributes(TopicArn=outputs["SummaryTopicArn"])
    assert attrs["Attributes"].get("KmsMasterKeyId")
    log_group = boto3.client("logs", region_name="us-east-1").describe_log_groups(
        logGroupNamePrefix="/aws/lambda/ml-inference-dev-idle-detector")["logGroups"][0]
    assert log_group["kmsKeyId"] == logs_key
    # Failed runs have somewhere to go: the encrypted queue exists (moto skips alarms and event invoke
    # configs; the template tests cover those).
    queues = boto3.client("sqs", region_name="us-east-1").list_queues()["QueueUrls"]
    assert [q for q in queues if "IdleDetectorFailures" in q]

    assert json.loads(json.dumps(outputs))
