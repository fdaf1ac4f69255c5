"""Guard checks that need a join between two resources, which cfn-guard 3.1 cannot express.

S3_BUCKET_TLS_ONLY           every bucket has a bucket policy denying requests without TLS.
LAMBDA_LOG_GROUP_RETENTION   every Lambda function has its log group, with RetentionInDays, in the
                             same template.
"""

from __future__ import annotations

from typing import Any

from inference_platform_ops.guard.findings import Finding
from inference_platform_ops.templates import declared_parameters, properties, resources_of_type

TLS_RULE = "S3_BUCKET_TLS_ONLY"
LOG_GROUP_RULE = "LAMBDA_LOG_GROUP_RETENTION"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _denies_plain_http(statement: Any) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))):
        return False
    if not any(action in ("s3:*", "*") for action in _as_list(statement.get("Action"))):
        return False
    condition = statement.get("Condition")
    bool_condition = condition.get("Bool") if isinstance(condition, dict) else None
    secure = bool_condition.get("aws:SecureTransport") if isinstance(bool_condition, dict) else None
    return secure is False or (isinstance(secure, str) and secure.lower() == "false")


def _policy_bucket(policy: dict[str, Any]) -> str | None:
    """Logical id of the bucket a BucketPolicy applies to (Ref form), else None."""
    bucket = properties(policy).get("Bucket")
    if isinstance(bucket, dict) and isinstance(bucket.get("Ref"), str):
        return bucket["Ref"]
    return None


def check_bucket_tls(template_name: str, template: dict[str, Any]) -> list[Finding]:
    policies = resources_of_type(template, "AWS::S3::BucketPolicy").values()
    tls_buckets = set()
    for policy in policies:
        document = properties(policy).get("PolicyDocument")
        statements = _as_list(document.get("Statement")) if isinstance(document, dict) else []
        bucket = _policy_bucket(policy)
        if bucket and any(_denies_plain_http(statement) for statement in statements):
            tls_buckets.add(bucket)
    return [
        Finding(template_name, name, TLS_RULE,
                "the bucket has no policy denying requests without TLS (aws:SecureTransport false). "
                "Fix: add an AWS::S3::BucketPolicy with Bucket: !Ref " + name + " and a statement "
                "{Effect: Deny, Principal: \"*\", Action: s3:*, Resource: [bucket ARN, bucket ARN/*], "
                "Condition: {Bool: {aws:SecureTransport: false}}}.")
        for name in resources_of_type(template, "AWS::S3::Bucket")
        if name not in tls_buckets
    ]


def _lambda_name_key(value: Any, logical_id: str) -> set[str]:
    """The strings a function's log group name can end with after /aws/lambda/."""
    keys = {"${" + logical_id + "}"}
    if isinstance(value, str):
        keys.add(value)
    elif isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        keys.add(value["Fn::Sub"])
    return keys


def _log_group_suffix(log_group: dict[str, Any]) -> str | None:
    name = properties(log_group).get("LogGroupName")
    text = name if isinstance(name, str) else name.get("Fn::Sub") if isinstance(name, dict) else None
    if isinstance(text, str) and text.startswith("/aws/lambda/"):
        return text.removeprefix("/aws/lambda/")
    return None


def check_lambda_log_groups(template_name: str, template: dict[str, Any]) -> list[Finding]:
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    findings = []
    for name, function in resources_of_type(template, "AWS::Lambda::Function").items():
        props = properties(function)
        logging = props.get("LoggingConfig")
        target = logging.get("LogGroup") if isinstance(logging, dict) else None
        matches = []
        if isinstance(target, dict) and target.get("Ref") in log_groups:
            matches.append(target["Ref"])
        keys = _lambda_name_key(props.get("FunctionName"), name)
        matches += [group for group, body in log_groups.items() if _log_group_suffix(body) in keys]
        if not matches:
            findings.append(Finding(
                template_name, name, LOG_GROUP_RULE,
                "no AWS::Logs::LogGroup for this function in the template; Lambda would create "
                "/aws/lambda/<name> itself with no retention (logs kept and billed forever, left behind on delete). "
                "Fix: add a LogGroup named !Sub /aws/lambda/<FunctionName> with RetentionInDays and point "
                "LoggingConfig.LogGroup at it."))
            continue
        if not any("RetentionInDays" in properties(log_groups[group]) for group in matches):
            findings.append(Finding(
                template_name, name, LOG_GROUP_RULE,
                f"log group {matches[0]} has no RetentionInDays, so logs are kept and billed forever. "
                "Fix: set RetentionInDays (e.g. !Ref LogRetentionDays)."))
    return findings


LOG_KEY_RULE = "LOG_GROUP_KMS_KEY"
LOG_KEY_PARAMETER = "LogsKmsKeyArn"


def _local_key(value: Any, template: dict[str, Any]) -> bool:
    """True when ``value`` is a Ref or GetAtt (Arn) of an AWS::KMS::Key declared in ``template``."""
    keys = resources_of_type(template, "AWS::KMS::Key")
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"] in keys
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        target = target.split(".", 1) if isinstance(target, str) else target
        return isinstance(target, list) and len(target) == 2 and target[0] in keys and target[1] == "Arn"
    return False


def check_log_group_keys(template_name: str, template: dict[str, Any]) -> list[Finding]:
    """Every log group is encrypted with a customer managed key: one declared in the template, or the
    required parameter LogsKmsKeyArn (no Default, so the parent must pass it; cfn-lint E3043 checks that),
    which every nested stack that takes it receives from a key declared in the parent."""
    findings = []
    parameters = declared_parameters(template)
    key_parameter = parameters.get(LOG_KEY_PARAMETER)
    required = isinstance(key_parameter, dict) and "Default" not in key_parameter
    fix = (f"set KmsKeyId to a local AWS::KMS::Key (GetAtt Arn) or Ref the required parameter {LOG_KEY_PARAMETER} "
           "(no Default) that main.yaml fills with LogsKey's ARN")
    for name, group in resources_of_type(template, "AWS::Logs::LogGroup").items():
        key = properties(group).get("KmsKeyId")
        if _local_key(key, template) or (required and key == {"Ref": LOG_KEY_PARAMETER}):
            continue
        findings.append(Finding(template_name, name, LOG_KEY_RULE, f"[value {key!r}] the log group is not "
                                f"encrypted with a customer managed key. Fix: {fix}."))
    for name, stack in resources_of_type(template, "AWS::CloudFormation::Stack").items():
        passed = properties(stack).get("Parameters")
        if isinstance(passed, dict) and LOG_KEY_PARAMETER in passed and not _local_key(passed[LOG_KEY_PARAMETER],
                                                                                           template):
            findings.append(Finding(template_name, name, LOG_KEY_RULE,
                                    f"{LOG_KEY_PARAMETER} is not the ARN of a key declared here. Fix: pass "
                                    f"!GetAtt [LogsKey, Arn] (an AWS::KMS::Key of this template)."))
    return findings
