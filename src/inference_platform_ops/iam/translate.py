"""An AWS API call (botocore service, operation, parameters) -> the IAM requests AWS authorizes for it.

The IAM action is the service's IAM prefix (the botocore model's signing name, e.g. ``states`` for
stepfunctions, ``sagemaker`` for sagemaker-runtime) plus the operation name, unless the API and IAM name it
differently (``API_TO_ACTION``: S3's ListObjectsV2 is s3:ListBucket, Lambda's Invoke is lambda:InvokeFunction).
The resource ARN is built from the Service Authorization Reference's ARN format of the action's resource type,
filled from the request's parameters; an action with no resource type is authorized against ``*``. SageMaker
lower-cases its ARNs; an S3 request through an access point ARN is authorized against the access point's
object ARN. Some services also check the caller's permissions on other resources (``DEPENDENT_CHECKS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from inference_platform_ops.iam import sar

# botocore operation -> IAM action where the names differ (Service Authorization Reference, "API operations").
API_TO_ACTION = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("sagemaker-runtime", "InvokeEndpoint"): "sagemaker:InvokeEndpoint",
    ("sagemaker-runtime", "InvokeEndpointAsync"): "sagemaker:InvokeEndpointAsync",
    ("stepfunctions", "StartSyncExecution"): "states:StartSyncExecution",
}
# Request parameter -> the ARN placeholder it fills, where their names differ.
PARAMETER_ALIASES = {"Bucket": "BucketName", "Key": "ObjectName", "StackName": "StackName",
                     "stateMachineArn": "StateMachineArn", "executionArn": "ExecutionArn"}
# Services that check the caller's permissions on the target before acting (documented permission validation):
# Application Auto Scaling calls the target service with the caller's credentials.
DEPENDENT_CHECKS = {
    ("application-autoscaling", "RegisterScalableTarget", "sagemaker"): (
        "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
        "sagemaker:UpdateEndpointWeightsAndCapacities"),
}
# Service condition keys whose value is a request parameter (the reference lists the keys per action).
CONDITION_PARAMETERS = {"application-autoscaling:service-namespace": "ServiceNamespace",
                        "application-autoscaling:scalable-dimension": "ScalableDimension"}
LOWER_CASE_ARNS = {"sagemaker"}  # SageMaker ARNs are lower case whatever the name's case


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes: action, resource ARN (or *) and the context keys we can know."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = field(default=())
    note: str = ""  # why this request exists when it is not the call itself (e.g. a dependent check)

    @property
    def context_dict(self) -> dict[str, str]:
        return dict(self.context)


def iam_action(service: str, operation: str, signing_name: str) -> str:
    """The IAM action of an API call: the signing name is the IAM prefix (states, sagemaker), unless the
    reference knows no such prefix and the service name is one (CloudWatch signs as "monitoring")."""
    if (service, operation) in API_TO_ACTION:
        return API_TO_ACTION[(service, operation)]
    known = sar.prefixes()
    prefix = signing_name if signing_name in known or service not in known else service
    return f"{prefix}:{operation}"


def _fill(arn_format: str, values: dict[str, str], region: str, account: str) -> str | None:
    def placeholder(match: re.Match) -> str:
        name = match.group(1)
        fixed = {"Partition": "aws", "Region": region, "Account": account}
        if name in fixed:
            return fixed[name]
        if name in values:
            return values[name]
        raise KeyError(name)

    try:
        return re.sub(r"\$\{([^}]+)\}", placeholder, arn_format)
    except KeyError:
        return None


def _values(params: dict) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, str):
            values[key] = value
            values[key[:1].upper() + key[1:]] = value
            if key in PARAMETER_ALIASES:
                values[PARAMETER_ALIASES[key]] = value
    return values


def _arn_from_parameters(act: sar.Action, params: dict) -> str | None:
    """An ARN passed in the request (stateMachineArn, TopicArn, ResourceArn ...) of one of the action's types."""
    for value in params.values():
        if isinstance(value, str) and value.startswith("arn:") and sar.resource_type_of(act, value):
            return value
    return None


def _s3_resource(act: sar.Action, params: dict, region: str, account: str) -> str | None:
    bucket, key = params.get("Bucket", ""), params.get("Key")
    if bucket.startswith("arn:") and ":accesspoint/" in bucket:
        return f"{bucket}/object/{key}" if key is not None else bucket
    if not bucket:
        return None
    return f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}"


def translate(service: str, operation: str, params: dict, region: str, account: str, *,
              signing_name: str) -> list[Request]:
    """The IAM requests for one API call. Unknown actions come back with resource "?" (the gate reports them)."""
    name = iam_action(service, operation, signing_name)
    act = sar.action(name)
    context = [("aws:RequestedRegion", region)]
    if act is None:
        return [Request(name, "?", tuple(context), note="action not in the Service Authorization Reference")]
    if service == "s3" and operation == "DeleteObjects":
        keys = [item.get("Key", "") for item in (params.get("Delete") or {}).get("Objects", [])]
        return [request for key in keys for request in
                translate("s3", "DeleteObject", {"Bucket": params.get("Bucket", ""), "Key": key}, region, account,
                          signing_name=signing_name)]
    if service == "s3" and name == "s3:ListBucket" and "Prefix" in params:
        context.append(("s3:prefix", str(params["Prefix"])))
    context += [(key, str(params[parameter])) for key, parameter in CONDITION_PARAMETERS.items()
                if key in act.condition_keys and parameter in params]
    resource = _resource(act, service, params, region, account)
    requests = [Request(act.full_name, resource, tuple(context))]
    dependent = DEPENDENT_CHECKS.get((service, operation, str(params.get("ServiceNamespace", ""))))
    if dependent:
        endpoint = (str(params.get("ResourceId", "")).split("/")[1:2] or ["*"])[0].lower()
        for dependent_action in dependent:
            checked = sar.action(dependent_action)
            # The endpoint by name; its endpoint config is whichever the endpoint runs (any of them).
            names = {"EndpointName": endpoint, "EndpointConfigName": "*"}
            target = next((arn for t in (checked.resource_types if checked else ())
                           if (arn := _fill(t.arn_format, names, region, account))), "*")
            requests.append(Request(dependent_action, target, tuple(context[:1]),
                                    note=f"checked by {act.full_name} with the caller's credentials"))
    return requests


def _resource(act: sar.Action, service: str, params: dict, region: str, account: str) -> str:
    if not act.resource_types:
        return "*"
    if act.prefix == "s3":
        found = _s3_resource(act, params, region, account)
        # Through an access point IAM authorizes the access point's resource (its ARN, /object/<key> for objects).
        if found and (":accesspoint/" in found or sar.resource_type_of(act, found)):
            return found
    passed = _arn_from_parameters(act, params)
    if passed:
        return passed.lower() if act.prefix in LOWER_CASE_ARNS else passed
    values = _values(params)
    for resource_type in act.resource_types:
        arn = _fill(resource_type.arn_format, values, region, account)
        if arn:
            return arn.lower() if act.prefix in LOWER_CASE_ARNS else arn
    required = [t for t in act.resource_types if t.required]
    # Nothing in the request names the resource (e.g. a scalable target's opaque id): the type's ARN with a
    # wildcard for each unknown part, which only a grant covering every such resource matches.
    chosen = required[0] if required else act.resource_types[0]
    return _fill(chosen.arn_format, {k: "*" for k in re.findall(r"\$\{([^}]+)\}", chosen.arn_format)}, region,
                 account) or "*"
