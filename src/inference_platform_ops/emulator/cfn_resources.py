"""CloudFormation resource types moto 5.2.5 skips, created locally through the emulator's own service APIs.

moto's CloudFormation layer has no model for Application Auto Scaling targets and policies, AWS Backup
vaults, plans and selections, CloudWatch alarms, SNS topic policies and subscriptions, S3 bucket
policies, the IAM OIDC provider, Lambda event invoke configs or SQS queue policies, and its
``AWS::Lambda::Permission`` adds the statement but reports no physical id. Without these the local
deploy lists them as "could NOT create", ``make dr-validate`` cannot find a backup plan, and
EventBridge has no permission to invoke anything.

Each type here is one :class:`ResourceType`: which API calls create and delete it (the same calls
CloudFormation's resource handlers make, sent to the emulator through boto3, so botocore validates
every request against the service model exactly as it would for AWS), what ``Ref`` returns and which
``Fn::GetAtt`` attributes exist. Property values are converted to the API's types from the botocore
input shape (``"2"`` -> 2 for an integer member), as CloudFormation converts them from its schema.

Adding a type = one ``_register(ResourceType(...))``. ``emulated_types()`` lists them;
``tests/unit/inference_platform_ops/emulator/test_emulator_resource_types.py`` fails when a template
uses a type that neither moto nor this module creates, so a new type cannot slip in as "not created".

Applied by ``inference_platform_ops.emulator.compat.install()``; never used against AWS.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name

CreateFn = Callable[["Context", dict[str, Any]], tuple[str, dict[str, str]]]
DeleteFn = Callable[["Context", str, dict[str, Any], dict[str, str]], None]

_CLIENTS: dict[tuple[str, str, str], Any] = {}
_CLIENTS_LOCK = threading.Lock()
# Local keys only: in the emulator process AWS_ENDPOINT_URL points every client back at the emulator
# (local_aws.handler_environment); under mock_aws the calls never leave the process.
_KEYS = dict.fromkeys(("aws_access_key_id", "aws_secret_access_key"), "local")


def client(service: str, region: str) -> Any:
    """A cached boto3 client for the emulator this process serves (or the active mock_aws)."""
    import os

    key = (service, region, os.environ.get("AWS_ENDPOINT_URL", ""))  # one emulator's client never calls another
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            import boto3

            _CLIENTS[key] = boto3.Session(**_KEYS).client(service, region_name=region)
        return _CLIENTS[key]


def _coerce(shape: Any, value: Any) -> Any:
    """A template value converted to what the API member ``shape`` takes (CloudFormation does the same)."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _coerce(shape.members.get(k), v) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_coerce(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {str(k): _coerce(shape.value, v) for k, v in value.items()}
    if kind in ("integer", "long") and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if kind in ("float", "double") and isinstance(value, str | int) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            return float(value)
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "string" and isinstance(value, int | float):
        return str(value)
    return value


@dataclass
class Context:
    """What a create/delete function gets: where it runs and a typed API call into the emulator."""

    region: str
    account_id: str
    logical_id: str
    generated_name: str  # the name CloudFormation would generate (<stack>-<logical id>-<suffix>)

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` in boto3's snake_case; ``params`` coerced to the operation's input shape."""
        api = client(service, self.region)
        names = {xform_name(name): name for name in api.meta.service_model.operation_names}
        shape = api.meta.service_model.operation_model(names[operation]).input_shape
        clean = {k: v for k, v in params.items() if v is not None}
        return getattr(api, operation)(**_coerce(shape, clean))


@dataclass(frozen=True)
class ResourceType:
    type_name: str
    create: CreateFn  # -> (physical id, attributes for Fn::GetAtt)
    delete: DeleteFn
    name_property: str | None = None  # the property that names the resource (generated when absent)
    attributes: tuple[str, ...] = ()


_REGISTRY: dict[str, ResourceType] = {}


def _register(resource_type: ResourceType) -> None:
    _REGISTRY[resource_type.type_name] = resource_type


def emulated_types() -> frozenset[str]:
    return frozenset(_REGISTRY)


class _Created:
    """A created resource as moto's ResourceMap sees it (duck-typed like moto's CloudFormationModel)."""

    def __init__(self, spec: ResourceType, context: Context, properties: dict[str, Any], physical_id: str,
                 attributes: dict[str, str]):
        self.spec = spec
        self.context = context
        self.properties = properties
        self.physical_resource_id = physical_id
        self.attributes = attributes
        self.cf_resource_type = spec.type_name

    def is_created(self) -> bool:
        return True  # the API calls above returned: the resource exists (moto waits on this for custom resources)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return self.attributes[attribute_name]

    def delete(self, account_id: str, region_name: str) -> None:
        self.spec.delete(self.context, self.physical_resource_id, self.properties, self.attributes)


class _Model:
    """The class-level interface moto's parsing calls (create/update/delete_from_cloudformation_json)."""

    def __init__(self, spec: ResourceType):
        self.spec = spec

    def has_cfn_attr(self, attribute: str) -> bool:
        return attribute in self.spec.attributes

    def cloudformation_name_type(self) -> str | None:
        return self.spec.name_property

    def create_from_cloudformation_json(self, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> _Created:
        properties = dict(cloudformation_json.get("Properties") or {})
        context = Context(region_name, account_id, kwargs.get("LogicalId", resource_name), resource_name)
        physical_id, attributes = self.spec.create(context, properties)
        return _Created(self.spec, context, properties, physical_id, attributes)

    def update_from_cloudformation_json(self, original_resource: _Created, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> _Created:
        # Replacement semantics: delete, then create with the new properties (the APIs here are cheap puts).
        original_resource.delete(account_id, region_name)
        return self.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                    region_name, LogicalId=original_resource.context.logical_id)

    def delete_from_cloudformation_json(self, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str) -> None:
        """moto deletes through the created object's ``delete``; nothing is known here by name alone."""


def model_for(type_name: str) -> _Model | None:
    spec = _REGISTRY.get(type_name)
    return _Model(spec) if spec else None


def name_property_for(type_name: str) -> str | None:
    spec = _REGISTRY.get(type_name)
    return spec.name_property if spec else None


def _ignore_missing(call: Callable[[], Any]) -> None:
    """Deleting something already gone is success, as in CloudFormation."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if "NotFound" not in code and code not in ("ValidationException", "NoSuchEntity", "NoSuchBucketPolicy"):
            raise


# --- Application Auto Scaling ----------------------------------------------------------------------

def _target_key(properties: dict[str, Any]) -> dict[str, str]:
    return {"ServiceNamespace": properties["ServiceNamespace"], "ResourceId": properties["ResourceId"],
            "ScalableDimension": properties["ScalableDimension"]}


def _create_scalable_target(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    key = _target_key(properties)
    ctx.call("application-autoscaling", "register_scalable_target", **key,
             MinCapacity=properties.get("MinCapacity"), MaxCapacity=properties.get("MaxCapacity"),
             RoleARN=properties.get("RoleARN"), SuspendedState=properties.get("SuspendedState"))
    for action in properties.get("ScheduledActions") or []:
        ctx.call("application-autoscaling", "put_scheduled_action", **key,
                 ScheduledActionName=action["ScheduledActionName"], Schedule=action["Schedule"],
                 Timezone=action.get("Timezone"), StartTime=action.get("StartTime"), EndTime=action.get("EndTime"),
                 ScalableTargetAction=action.get("ScalableTargetAction"))
    # CloudFormation's id of a scalable target: resource id|scalable dimension|service namespace.
    physical = f"{key['ResourceId']}|{key['ScalableDimension']}|{key['ServiceNamespace']}"
    return physical, {"Id": physical}


def _delete_scalable_target(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    key = _target_key(properties)
    for action in properties.get("ScheduledActions") or []:
        _ignore_missing(functools.partial(ctx.call, "application-autoscaling", "delete_scheduled_action", **key,
                                          ScheduledActionName=action["ScheduledActionName"]))
    _ignore_missing(lambda: ctx.call("application-autoscaling", "deregister_scalable_target", **key))


def _policy_target(properties: dict[str, Any]) -> dict[str, str]:
    if properties.get("ScalingTargetId"):
        resource_id, dimension, namespace = properties["ScalingTargetId"].split("|")
        return {"ServiceNamespace": namespace, "ResourceId": resource_id, "ScalableDimension": dimension}
    return _target_key(properties)


def _create_scaling_policy(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    created = ctx.call(
        "application-autoscaling", "put_scaling_policy", **_policy_target(properties),
        PolicyName=properties["PolicyName"], PolicyType=properties["PolicyType"],
        StepScalingPolicyConfiguration=properties.get("StepScalingPolicyConfiguration"),
        TargetTrackingScalingPolicyConfiguration=properties.get("TargetTrackingScalingPolicyConfiguration"),
        PredictiveScalingPolicyConfiguration=properties.get("PredictiveScalingPolicyConfiguration"))
    return created["PolicyARN"], {"Arn": created["PolicyARN"]}


def _delete_scaling_policy(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _ignore_missing(lambda: ctx.call("application-autoscaling", "delete_scaling_policy",
                                     PolicyName=properties["PolicyName"], **_policy_target(properties)))


_register(ResourceType("AWS::ApplicationAutoScaling::ScalableTarget", _create_scalable_target,
                       _delete_scalable_target, attributes=("Id",)))
_register(ResourceType("AWS::ApplicationAutoScaling::ScalingPolicy", _create_scaling_policy, _delete_scaling_policy,
                       attributes=("Arn",)))


# --- AWS Backup ------------------------------------------------------------------------------------

def _create_backup_vault(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    name = properties.get("BackupVaultName") or ctx.generated_name
    created = ctx.call("backup", "create_backup_vault", BackupVaultName=name,
                       BackupVaultTags=properties.get("BackupVaultTags"),
                       EncryptionKeyArn=properties.get("EncryptionKeyArn"))
    return name, {"BackupVaultName": name, "BackupVaultArn": created["BackupVaultArn"]}


def _delete_backup_vault(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _ignore_missing(lambda: ctx.call("backup", "delete_backup_vault", BackupVaultName=physical))


_PLAN_RULE_NAMES = {"TargetBackupVault": "TargetBackupVaultName"}  # CloudFormation name -> API name


def _create_backup_plan(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    plan = dict(properties["BackupPlan"])
    rules = plan.pop("BackupPlanRule", [])
    plan["Rules"] = [{_PLAN_RULE_NAMES.get(k, k): v for k, v in rule.items()} for rule in rules]
    created = ctx.call("backup", "create_backup_plan", BackupPlan=plan,
                       BackupPlanTags=properties.get("BackupPlanTags"))
    return created["BackupPlanId"], {"BackupPlanId": created["BackupPlanId"],
                                     "BackupPlanArn": created["BackupPlanArn"], "VersionId": created["VersionId"]}


def _delete_backup_plan(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _ignore_missing(lambda: ctx.call("backup", "delete_backup_plan", BackupPlanId=physical))
    # moto keeps deleted plans and then refuses a new plan of the same name; AWS accepts it.
    from moto.backup.models import backup_backends

    backup_backends[ctx.account_id][ctx.region].plans.pop(physical, None)


@dataclass
class BackupSelection:
    """moto's Backup API has no selections; the emulator keeps them here (listed by ``selections()``)."""

    selection_id: str
    plan_id: str
    name: str
    iam_role_arn: str
    resources: list[str] = field(default_factory=list)


_SELECTIONS: dict[str, BackupSelection] = {}


def selections() -> list[BackupSelection]:
    return list(_SELECTIONS.values())


def _create_backup_selection(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    plan_id = properties["BackupPlanId"]
    ctx.call("backup", "get_backup_plan", BackupPlanId=plan_id)  # AWS refuses a selection of an unknown plan
    body = properties["BackupSelection"]
    selection = BackupSelection(str(uuid.uuid4()), plan_id, body["SelectionName"], body["IamRoleArn"],
                                [str(r) for r in body.get("Resources") or []])
    _SELECTIONS[selection.selection_id] = selection
    return selection.selection_id, {"SelectionId": selection.selection_id, "BackupPlanId": plan_id,
                                    "Id": f"{plan_id}_{selection.selection_id}"}


def _delete_backup_selection(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _SELECTIONS.pop(physical, None)


_register(ResourceType("AWS::Backup::BackupVault", _create_backup_vault, _delete_backup_vault,
                       name_property="BackupVaultName", attributes=("BackupVaultName", "BackupVaultArn")))
_register(ResourceType("AWS::Backup::BackupPlan", _create_backup_plan, _delete_backup_plan,
                       attributes=("BackupPlanId", "BackupPlanArn", "VersionId")))
_register(ResourceType("AWS::Backup::BackupSelection", _create_backup_selection, _delete_backup_selection,
                       attributes=("SelectionId", "BackupPlanId", "Id")))


# --- SageMaker inference components ----------------------------------------------------------------

@dataclass
class InferenceComponent:
    """moto has no inference components (no API, no CloudFormation type); the emulator keeps them here and
    answers DescribeInferenceComponent from it (``compat``), so the router can read a component's copies."""

    name: str
    arn: str
    endpoint_name: str
    variant_name: str
    model_name: str
    copies: int


_COMPONENTS: dict[tuple[str, str], InferenceComponent] = {}


def inference_component(region: str, name: str) -> InferenceComponent | None:
    return _COMPONENTS.get((region, name))


def _create_inference_component(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    name = properties.get("InferenceComponentName") or ctx.generated_name[:63]
    spec = properties.get("Specification") or {}
    endpoint = properties["EndpointName"]
    ctx.call("sagemaker", "describe_endpoint", EndpointName=endpoint)  # AWS refuses an unknown endpoint
    if spec.get("ModelName"):
        ctx.call("sagemaker", "describe_model", ModelName=spec["ModelName"])
    arn = f"arn:aws:sagemaker:{ctx.region}:{ctx.account_id or '123456789012'}:inference-component/{name}"
    copies = int((properties.get("RuntimeConfig") or {}).get("CopyCount", 1))
    _COMPONENTS[(ctx.region, name)] = InferenceComponent(name, arn, endpoint, str(properties.get("VariantName", "")),
                                                         str(spec.get("ModelName", "")), copies)
    return arn, {"InferenceComponentArn": arn}


def _delete_inference_component(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _COMPONENTS.pop((ctx.region, physical.rsplit("/", 1)[-1]), None)


_register(ResourceType("AWS::SageMaker::InferenceComponent", _create_inference_component,
                       _delete_inference_component, name_property="InferenceComponentName",
                       attributes=("InferenceComponentArn",)))


# --- Lambda ----------------------------------------------------------------------------------------

def _create_permission(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    statement_id = ctx.generated_name[:100]
    ctx.call("lambda", "add_permission", StatementId=statement_id, FunctionName=properties["FunctionName"],
             Action=properties["Action"], Principal=properties["Principal"], SourceArn=properties.get("SourceArn"),
             SourceAccount=properties.get("SourceAccount"), EventSourceToken=properties.get("EventSourceToken"),
             PrincipalOrgID=properties.get("PrincipalOrgID"),
             FunctionUrlAuthType=properties.get("FunctionUrlAuthType"))
    return statement_id, {}


def _delete_permission(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _ignore_missing(lambda: ctx.call("lambda", "remove_permission", FunctionName=properties["FunctionName"],
                                     StatementId=physical))


def _create_event_invoke_config(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    ctx.call("lambda", "put_function_event_invoke_config", FunctionName=properties["FunctionName"],
             Qualifier=properties.get("Qualifier"), MaximumRetryAttempts=properties.get("MaximumRetryAttempts"),
             MaximumEventAgeInSeconds=properties.get("MaximumEventAgeInSeconds"),
             DestinationConfig=properties.get("DestinationConfig"))
    return f"{properties['FunctionName']}:{properties.get('Qualifier', '$LATEST')}", {}


def _delete_event_invoke_config(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _ignore_missing(lambda: ctx.call("lambda", "delete_function_event_invoke_config",
                                     FunctionName=properties["FunctionName"], Qualifier=properties.get("Qualifier")))


_register(ResourceType("AWS::Lambda::Permission", _create_permission, _delete_permission))
_register(ResourceType("AWS::Lambda::EventInvokeConfig", _create_event_invoke_config, _delete_event_invoke_config))


# --- CloudWatch, SNS, SQS, S3, IAM ------------------------------------------------------------------

_ALARM_FIELDS = ("AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
                 "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
                 "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                 "EvaluateLowSampleCountPercentile", "Metrics", "Tags", "ThresholdMetricId")


def _create_alarm(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    name = properties.get("AlarmName") or ctx.generated_name
    ctx.call("cloudwatch", "put_metric_alarm", AlarmName=name, **{k: properties.get(k) for k in _ALARM_FIELDS})
    arn = ctx.call("cloudwatch", "describe_alarms", AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    return name, {"Arn": arn}


def _delete_alarm(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    ctx.call("cloudwatch", "delete_alarms", AlarmNames=[physical])


def _policy_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _create_topic_policy(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    for topic in properties["Topics"]:
        ctx.call("sns", "set_topic_attributes", TopicArn=topic, AttributeName="Policy",
                 AttributeValue=_policy_text(properties["PolicyDocument"]))
    return ctx.generated_name, {"Id": ctx.generated_name}


def _keep_policy(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    """The topic or queue keeps its last policy until it is deleted itself (the stack deletes it right after)."""


def _create_subscription(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    attributes = {k: _policy_text(properties[k]) if k in ("FilterPolicy", "RedrivePolicy") else str(properties[k])
                  for k in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")
                  if k in properties}
    created = ctx.call("sns", "subscribe", TopicArn=properties["TopicArn"], Protocol=properties["Protocol"],
                       Endpoint=properties.get("Endpoint"), Attributes=attributes or None,
                       ReturnSubscriptionArn=True)
    return created["SubscriptionArn"], {"Arn": created["SubscriptionArn"]}


def _delete_subscription(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _ignore_missing(lambda: ctx.call("sns", "unsubscribe", SubscriptionArn=physical))


def _create_queue_policy(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    for queue_url in properties["Queues"]:
        ctx.call("sqs", "set_queue_attributes", QueueUrl=queue_url,
                 Attributes={"Policy": _policy_text(properties["PolicyDocument"])})
    return ctx.generated_name, {"Id": ctx.generated_name}


def _create_bucket_policy(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    ctx.call("s3", "put_bucket_policy", Bucket=properties["Bucket"],
             Policy=_policy_text(properties["PolicyDocument"]))
    return properties["Bucket"], {}


def _delete_bucket_policy(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _ignore_missing(lambda: ctx.call("s3", "delete_bucket_policy", Bucket=physical))


def _create_oidc_provider(ctx: Context, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    created = ctx.call("iam", "create_open_id_connect_provider", Url=properties["Url"],
                       ClientIDList=properties.get("ClientIdList"), ThumbprintList=properties.get("ThumbprintList"),
                       Tags=properties.get("Tags"))
    arn = created["OpenIDConnectProviderArn"]
    return arn, {"Arn": arn}


def _delete_oidc_provider(ctx: Context, physical: str, properties: dict[str, Any], _: dict[str, str]) -> None:
    _ignore_missing(lambda: ctx.call("iam", "delete_open_id_connect_provider", OpenIDConnectProviderArn=physical))


_register(ResourceType("AWS::CloudWatch::Alarm", _create_alarm, _delete_alarm, name_property="AlarmName",
                       attributes=("Arn",)))
_register(ResourceType("AWS::SNS::TopicPolicy", _create_topic_policy, _keep_policy, attributes=("Id",)))
_register(ResourceType("AWS::SNS::Subscription", _create_subscription, _delete_subscription, attributes=("Arn",)))
_register(ResourceType("AWS::SQS::QueuePolicy", _create_queue_policy, _keep_policy, attributes=("Id",)))
_register(ResourceType("AWS::S3::BucketPolicy", _create_bucket_policy, _delete_bucket_policy))
_register(ResourceType("AWS::IAM::OIDCProvider", _create_oidc_provider, _delete_oidc_provider, attributes=("Arn",)))


# --- DynamoDB point-in-time recovery (used by compat for the emulated GlobalTable) --------------------

def enable_point_in_time_recovery(region: str, table_name: str) -> None:
    Context(region, "", table_name, table_name).call(
        "dynamodb", "update_continuous_backups", TableName=table_name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def forget_clients() -> None:
    """Drop cached clients and stored selections (the emulator restarts, a test ends)."""
    with _CLIENTS_LOCK:
        _CLIENTS.clear()
    _SELECTIONS.clear()
