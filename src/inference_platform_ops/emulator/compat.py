"""CloudFormation compatibility patches for moto 5.2.5, used ONLY by the local emulator and its tests.

moto is close enough to CloudFormation for a local deploy, but these gaps would make the deploy
script lie or crash (measured; the list is also in docs/deploy.md):

1. ``!GetAtt Child.Outputs.X`` on a nested stack answers 500: moto's ``Stack`` has no
   ``get_cfn_attribute``. Patched to read the child's outputs, as CloudFormation does.
2. Stacks created through a change set have no Outputs: moto builds the output map from the empty
   template of the ``REVIEW_IN_PROGRESS`` stack and never rebuilds it; and it keeps the first change
   set's parameters, so after an update an identical redeploy is not recognised as "no changes".
   Patched to rebuild the outputs and record the parameters after each change set.
3. A resource that fails during ``ExecuteChangeSet`` makes the API call itself fail with a 500 and
   leaves the stack half-made. CloudFormation instead accepts the call, records a ``CREATE_FAILED``
   event naming the resource and the reason, and rolls back (``ROLLBACK_COMPLETE`` for a new stack,
   ``UPDATE_ROLLBACK_COMPLETE`` for an update). Patched to behave that way, so the deploy script's
   failure path is the one it takes against AWS.
4. Unsupported resource types (ScalableTarget, Alarm, GlobalTable, OIDC provider, Budget ...) are
   skipped with an anonymous empty row in ``DescribeStackResources``, indistinguishable from a
   resource whose Condition is false. Patched so the row names the logical id and type and has no
   physical id (the deploy script reports those as "not created by the emulator"), and resources
   switched off by a Condition are left out, as in CloudFormation.
5. ``AWS::KMS::Key`` with CloudFormation-style ``Tags`` (Key/Value) fails with ``KeyError: 'TagKey'``
   and ``!GetAtt Key.KeyId`` is refused. Patched to translate the tags and answer ``KeyId``.
6. Change sets list resources whose Condition is false as "Add", and do not list resources that
   change only because a parameter they use changed. Patched to match CloudFormation on both.
7. ``AWS::DynamoDB::GlobalTable`` is skipped, so nothing that uses the state table works. Emulated
   as a regional ``AWS::DynamoDB::Table`` with the same name, keys and TTL (no replicas), and said so
   in the stack event.
8. ``AWS::StepFunctions::StateMachine`` ignores ``Definition``/``DefinitionSubstitutions`` and lands
   in a backend the API no longer serves once ``execute_state_machine`` is on (the machine exists in
   the stack but ``StartExecution`` says it does not). Patched to build the definition as
   CloudFormation does and to create it where executions run.
9. ``UpdateTerminationProtection`` does not exist (500). Added, and ``DeleteStack`` refuses a
   protected stack as CloudFormation does.
10. The list form ``!GetAtt [Resource, Arn]`` reaches moto as YAML nodes, not strings ("references
   undefined resource ScalarNode(...)"). The templates use that form (Control Tower's rules resolve
   local references only in it), so the YAML constructor is patched to build the two strings.
11. Resource types moto's CloudFormation skips (scaling, backup, alarms, permissions, policies, OIDC
   provider ...) are created through the emulator's own APIs: ``inference_platform_ops.emulator.cfn_resources``.
   The emulated GlobalTable gets its replica's point-in-time recovery.
12. S3 bucket policies are evaluated without request context, so bootstrap.yaml's TLS-only Deny
   (``aws:SecureTransport: false``) refused every request; the loopback emulator now counts as TLS.
13. ``AWS::Logs::LogGroup`` drops ``KmsKeyId`` (moto reads the API's ``kmsKeyId``); kept.
14. ``AWS::SageMaker::Model``, ``EndpointConfig`` and ``Endpoint`` ignore ``ModelName``,
   ``EndpointConfigName`` and ``EndpointName`` (moto declares no name property for them) and get generated
   names. Patched to use the explicit name, as CloudFormation does: the IAM policies are built from it.
15. Application Auto Scaling refuses the scalable dimensions ``sagemaker:inference-component:DesiredCopyCount``
   and ``sagemaker:variant:DesiredProvisionedConcurrency`` (botocore's model has them; moto's list predates
   them), so a scale-to-zero component could not be scaled or scheduled. Added to the accepted dimensions.
16. moto reads every template (each change set, stack and nested stack) with PyYAML's pure-Python parser:
   a tenth of a deploy's time. It now uses libyaml's parser with the same constructors (same documents).

Also adds per-resource ``*_IN_PROGRESS``/``*_COMPLETE`` events (moto only records stack-level ones)
so event streaming shows progress locally.

``install()`` applies the patches for the life of the process (the emulator server); ``patched()``
applies them for a ``with`` block and restores moto afterwards (tests). Nothing here is imported by
the Lambda package or by real deploys.
"""

from __future__ import annotations

import contextlib
import json
import types
from collections.abc import Iterator
from typing import Any, cast

_ORIGINALS: list[tuple[Any, str, Any]] = []  # (owner, attribute, original value) in patch order
_MISSING = object()


def _set(owner: Any, name: str, value: Any) -> None:
    _ORIGINALS.append((owner, name, vars(owner).get(name, _MISSING)))
    setattr(owner, name, value)


_FAILED_RESOURCE = "_emulator_failed_resource"  # set on an exception raised while creating/updating a resource


def _failure_attribution(exc: BaseException) -> tuple[str, str] | None:
    return getattr(exc, _FAILED_RESOURCE, None)


def _attribute_failure(exc: BaseException, logical_id: str, resource_type: str) -> None:
    """Name the resource an exception came from, unless a nested one already did."""
    if _failure_attribution(exc) is None:
        setattr(exc, _FAILED_RESOURCE, (logical_id, resource_type))


def _find_stack(stack_id: str) -> Any | None:
    from moto.cloudformation.models import cloudformation_backends

    for account_backends in cloudformation_backends.values():
        for backend in account_backends.values():
            stack = backend.stacks.get(stack_id)
            if stack is not None:
                return stack
    return None


def _resource_event(stack: Any, logical_id: str, resource_type: str, status: str, reason: str | None, *,
                    physical_id: str = "") -> None:
    from moto.cloudformation.models import Event

    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id, resource_type=resource_type, resource_status=status,
        resource_status_reason=reason, resource_properties=None,
    ))


def _patch_nested_stack_outputs() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.cloudformation.models import Stack

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name.startswith("Outputs."):
            key = attribute_name[len("Outputs."):]
            for output in self.outputs or []:
                if output["OutputKey"] == key:
                    return output["OutputValue"]
        raise UnformattedGetAttTemplateException()

    _set(Stack, "get_cfn_attribute", get_cfn_attribute)


_GLOBAL_TABLE_AS_TABLE = "EMULATOR: GlobalTable emulated as a single-region DynamoDB table (no replicas)"


def _as_regional_table(resource_json: dict[str, Any]) -> dict[str, Any]:
    """An AWS::DynamoDB::GlobalTable as the AWS::DynamoDB::Table of its first replica (moto has no GlobalTable)."""
    properties = dict(resource_json.get("Properties") or {})
    replicas = properties.pop("Replicas", None) or []
    first = replicas[0] if replicas and isinstance(replicas[0], dict) else {}
    table = {k: v for k, v in properties.items() if k in (
        "TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "StreamSpecification",
        "TimeToLiveSpecification", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")}
    if "Tags" in first:
        table["Tags"] = first["Tags"]
    return {**resource_json, "Type": "AWS::DynamoDB::Table", "Properties": table}


def _global_table_point_in_time_recovery(resource_json: dict[str, Any], resources_map: Any, region_name: str) -> None:
    """PointInTimeRecoverySpecification of the table's own replica (moto's Table ignores it)."""
    from moto.cloudformation.parsing import clean_json

    from inference_platform_ops.emulator import cfn_resources

    properties = clean_json(resource_json.get("Properties") or {}, resources_map)
    for replica in properties.get("Replicas") or []:
        if not isinstance(replica, dict) or replica.get("Region") not in (region_name, None):
            continue
        spec = replica.get("PointInTimeRecoverySpecification") or {}
        if str(spec.get("PointInTimeRecoveryEnabled", "")).lower() == "true":
            cfn_resources.enable_point_in_time_recovery(region_name, properties["TableName"])


def _patch_resource_types() -> None:
    """Resource types moto's CloudFormation skips, created through the emulator's APIs (cfn_resources)."""
    from moto.cloudformation import parsing

    from inference_platform_ops.emulator import cfn_resources

    original_class, original_name = parsing.resource_class_from_type, parsing.resource_name_property_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        return cfn_resources.model_for(resource_type) or original_class(resource_type)

    def resource_name_property_from_type(resource_type: str) -> str | None:
        if resource_type in cfn_resources.emulated_types():
            return cfn_resources.name_property_for(resource_type)
        return original_name(resource_type)

    _set(parsing, "resource_class_from_type", resource_class_from_type)
    _set(parsing, "resource_name_property_from_type", resource_name_property_from_type)


def _patch_resource_creation() -> None:
    """Record which resource failed (innermost first) and add per-resource events."""
    from moto.cloudformation import parsing

    original = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        resource_type = resource_json.get("Type", "")
        condition = resource_json.get("Condition")
        if condition and not resources_map.lazy_condition_map[condition]:
            return None
        stack = _find_stack(resources_map.stack_id)
        skipped = stack.__dict__.setdefault("_emulator_skipped", set()) if stack is not None else set()
        if logical_id in skipped:
            return None  # an unsupported resource looked up again (outputs, listings): reported once already
        if stack is not None:
            _resource_event(stack, logical_id, resource_type, "CREATE_IN_PROGRESS", None)
        substitute = _GLOBAL_TABLE_AS_TABLE if resource_type == "AWS::DynamoDB::GlobalTable" else None
        try:
            resource = original(logical_id, _as_regional_table(resource_json) if substitute else resource_json,
                                resources_map, account_id, region_name)
        except Exception as exc:
            _attribute_failure(exc, logical_id, resource_type)
            raise
        if resource is not None and substitute:
            resource.cf_resource_type = resource_type
            _global_table_point_in_time_recovery(resource_json, resources_map, region_name)
            physical = str(getattr(resource, "physical_resource_id", "") or "")
            if stack is not None:
                _resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", substitute, physical_id=physical)
        elif stack is not None:
            if resource is None:
                skipped.add(logical_id)
                reason = "EMULATOR: resource type not supported by moto; NOT created"
                _resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", reason)
            else:
                physical = str(getattr(resource, "physical_resource_id", "") or "")
                _resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", None, physical_id=physical)
        return resource

    _set(parsing, "parse_and_create_resource", parse_and_create_resource)

    original_update = parsing.parse_and_update_resource

    def parse_and_update_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        resource_type = resource_json.get("Type", "")
        stack = _find_stack(resources_map.stack_id)
        if stack is not None:
            _resource_event(stack, logical_id, resource_type, "UPDATE_IN_PROGRESS", None)
        try:
            if resource_type == "AWS::DynamoDB::GlobalTable":
                resource_json = _as_regional_table(resource_json)
            resource = original_update(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            _attribute_failure(exc, logical_id, resource_type)
            raise
        if stack is not None:
            physical = str(getattr(resource, "physical_resource_id", "") or "")
            _resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE", None, physical_id=physical)
        return resource

    _set(parsing, "parse_and_update_resource", parse_and_update_resource)


def _patch_execute_change_set() -> None:
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        try:
            original(self, change_set_name, stack_name)
        except Exception as exc:
            _record_failure(stack, change_set, exc)
            return
        # moto keeps the parameters of the first change set forever; later "no changes" checks need these.
        stack.parameters = dict(change_set.parameters)
        # Rebuild what moto built from the empty REVIEW_IN_PROGRESS template.
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        for export in stack.exports:
            self.exports[export.name] = export

    def _record_failure(stack: Any, change_set: Any, exc: Exception) -> None:
        logical_id, resource_type = _failure_attribution(exc) or (stack.name, "AWS::CloudFormation::Stack")
        reason = f"{type(exc).__name__}: {exc}"
        _resource_event(stack, logical_id, resource_type, f"{_verb(change_set)}_FAILED", reason)
        change_set.execution_status = "EXECUTE_FAILED"
        if change_set.change_set_type == "CREATE":
            stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=(
                f"The following resource(s) failed to create: [{logical_id}]. Rollback requested by user."))
            # Best-effort rollback of what was made; the ROLLBACK_COMPLETE status below tells the truth either way.
            with contextlib.suppress(Exception):
                stack.resource_map.delete()
            stack.status = "ROLLBACK_COMPLETE"
            stack._add_stack_event("ROLLBACK_COMPLETE")
        else:
            stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=(
                f"The following resource(s) failed to update: [{logical_id}]."))
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")

    _set(CloudFormationBackend, "execute_change_set", execute_change_set)


def _verb(change_set: Any) -> str:
    return "CREATE" if change_set.change_set_type == "CREATE" else "UPDATE"


def _patch_stack_resources() -> None:
    from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend

    def _rows(stack: Any) -> list[Any]:
        resource_map = stack.resource_map
        rows = []
        for logical_id, resource_json in dict(resource_map._resource_json_map).items():
            condition = resource_json.get("Condition")
            if condition and not resource_map.lazy_condition_map.get(condition, False):
                continue  # switched off by a Condition: CloudFormation lists nothing
            created = resource_map._parsed_resources.get(logical_id)
            if created is not None and not isinstance(created, str | dict):
                rows.append(created)
                continue
            resource_type = resource_json.get("Type", "")
            if stack.status.endswith("_COMPLETE") and parsing.resource_class_from_type(resource_type) is None:
                rows.append(types.SimpleNamespace(
                    logical_resource_id=logical_id, physical_resource_id=None, cf_resource_type=resource_type))
        return rows

    def describe_stack_resources(self: Any, stack_name: str, logical_resource_id: str) -> tuple[Any, list[Any]]:
        stack = self.get_stack(stack_name)
        rows = _rows(stack)
        if logical_resource_id is not None:
            rows = [r for r in rows if r.logical_resource_id == logical_resource_id]
        return stack, rows

    def list_stack_resources(self: Any, stack_name_or_id: str) -> tuple[Any, list[Any]]:
        stack = self.get_stack(stack_name_or_id)
        return stack, _rows(stack)

    _set(CloudFormationBackend, "describe_stack_resources", describe_stack_resources)
    _set(CloudFormationBackend, "list_stack_resources", list_stack_resources)


def _patch_kms_key() -> None:
    """AWS::KMS::Key: CloudFormation tags are Key/Value, moto's KMS backend wants TagKey/TagValue; add KeyId."""
    import json

    from moto.kms.models import Key

    original = cast(types.MethodType, Key.create_from_cloudformation_json).__func__  # classmethod: bound to Key
    original_get = Key.get_cfn_attribute

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        properties = dict(cloudformation_json.get("Properties") or {})
        properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} if "Key" in t else t
                              for t in properties.get("Tags") or []]
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return original(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id,
                        region_name, **kwargs)

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        return self.id if attribute_name == "KeyId" else original_get(self, attribute_name)

    _set(Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    _set(Key, "has_cfn_attr", classmethod(lambda cls, attr: attr in ("Arn", "KeyId")))
    _set(Key, "get_cfn_attribute", get_cfn_attribute)


def _patch_change_set_conditions() -> None:
    """Change sets: leave out resources whose Condition is false, as CloudFormation does."""
    from moto.cloudformation.models import Change, ChangeSet
    from moto.cloudformation.parsing import ResourceMap

    original = ChangeSet.diff

    def _switch(template: dict, parameters: dict, stack: Any):  # -> callable(name) -> bool
        resources = template.get("Resources") or {}
        resource_map = ResourceMap(stack.stack_id, stack.name, parameters, {}, region_name=stack.region_name,
                                   account_id=stack.account_id, template=template, cross_stack_resources={})
        resource_map.load()

        def is_on(name: str) -> bool:
            if name not in resources:
                return False
            condition = resources[name].get("Condition")
            return not condition or bool(resource_map.lazy_condition_map[condition])

        return is_on

    def diff(self: Any) -> list[Any]:
        original(self)  # keeps moto's own validation of the template
        # moto diffs templates only; CloudFormation also modifies resources that use a changed parameter.
        by_action = self.stack.resource_map.build_resource_diff(self.template_dict, self.parameters)
        new_resources = self.template_dict.get("Resources") or {}
        old_resources = self.stack.resource_map._resource_json_map
        try:
            new_on = _switch(self.template_dict, self.parameters, self.stack)
            old_on = _switch(self.stack.template_dict, self.stack.parameters, self.stack) \
                if self.stack.template_dict else (lambda name: False)
        except Exception:  # unresolvable parameters: fall back to moto's template-only answer
            new_on = lambda name: name in new_resources  # noqa: E731
            old_on = lambda name: name in old_resources  # noqa: E731
        changes = []
        for name in [*new_resources, *(n for n in old_resources if n not in new_resources)]:
            now, before = new_on(name), old_on(name)
            if now and before:
                action = "Modify" if name in by_action["Modify"] else None
            else:
                action = "Add" if now else ("Remove" if before else None)  # a Condition switched on or off
            if action:
                resource_type = (new_resources.get(name) or old_resources.get(name) or {}).get("Type", "?")
                changes.append(Change(action, name, resource_type))
        return changes

    _set(ChangeSet, "diff", diff)


def _definition(properties: dict[str, Any]) -> str:
    """DefinitionString, or the Definition object as JSON, with DefinitionSubstitutions applied."""
    import json

    text = properties.get("DefinitionString") or json.dumps(properties.get("Definition") or {})
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = text.replace("${" + key + "}", str(value))
    return text


def _patch_state_machines() -> None:
    """AWS::StepFunctions::StateMachine: moto reads only DefinitionString (our templates use Definition +
    DefinitionSubstitutions) and creates the machine in the backend that is invisible once
    execute_state_machine is on. Patched to build the definition and use the backend the API serves."""
    from moto.stepfunctions.models import StateMachine, cfn_to_api_tags
    from moto.stepfunctions.responses import get_backend

    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
               **kwargs: Any) -> Any:
        properties = cloudformation_json["Properties"]
        return get_backend(account_id, region_name).create_state_machine(
            name=properties.get("StateMachineName", resource_name), definition=_definition(properties),
            roleArn=properties.get("RoleArn", ""), tags=cfn_to_api_tags(properties.get("Tags", [])),
            loggingConfiguration=properties.get("LoggingConfiguration"),
            tracingConfiguration=properties.get("TracingConfiguration"),
            sm_type=properties.get("StateMachineType", "STANDARD"),
        )

    def delete(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
        backend = get_backend(account_id, region_name)
        arn = resource_name if resource_name.startswith("arn:") else next(
            (m.arn for m in backend.state_machines if m.name == resource_name), None)
        if arn:
            backend.delete_state_machine(arn)

    def update(cls: Any, *, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
               account_id: str, region_name: str) -> Any:
        properties = cloudformation_json.get("Properties", {})
        if properties.get("StateMachineName", original_resource.name) != original_resource.name:
            delete(cls, original_resource.arn, cloudformation_json, account_id, region_name)
            return create(cls, new_resource_name, cloudformation_json, account_id, region_name)
        return get_backend(account_id, region_name).update_state_machine(
            original_resource.arn, definition=_definition(properties), role_arn=properties.get("RoleArn"))

    _set(StateMachine, "create_from_cloudformation_json", classmethod(create))
    _set(StateMachine, "delete_from_cloudformation_json", classmethod(delete))
    _set(StateMachine, "update_from_cloudformation_json", classmethod(update))


def _patch_termination_protection() -> None:
    """UpdateTerminationProtection is missing from moto; add it, and refuse to delete a protected stack."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_bool_param("EnableTerminationProtection", False)
        return ActionResult({"StackId": stack.stack_id})

    original_delete = CloudFormationBackend.delete_stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        for stack in self.stacks.values():
            if name_or_stack_id in (stack.name, stack.stack_id) and stack.enable_termination_protection:
                raise ValidationError(message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection "
                                              "is enabled")
        original_delete(self, name_or_stack_id)

    _set(CloudFormationResponse, "update_termination_protection", update_termination_protection)
    _set(CloudFormationBackend, "delete_stack", delete_stack)


def _patch_yaml_get_att_list() -> None:
    from moto.cloudformation import models, responses, utils

    original = utils.yaml_tag_constructor

    def yaml_tag_constructor(loader: Any, tag: Any, node: Any) -> Any:
        if tag == "!GetAtt" and isinstance(node.value, list):
            return {"Fn::GetAtt": loader.construct_sequence(node)}
        return original(loader, tag, node)

    for module in (models, responses):
        _set(module, "yaml_tag_constructor", yaml_tag_constructor)


SUBSTITUTED_TYPES = frozenset({"AWS::DynamoDB::GlobalTable"})  # created as another type (see 7. above)


def creates(resource_type: str) -> bool:
    """True when the emulator (moto, cfn_resources or a substitution here) creates ``resource_type``.

    Only meaningful while the patches are installed.
    """
    from moto.cloudformation import parsing

    return resource_type in SUBSTITUTED_TYPES or parsing.resource_class_from_type(resource_type) is not None


def _patch_bucket_policy_transport() -> None:
    """S3 bucket policies: the emulator's loopback HTTP counts as TLS (``aws:SecureTransport`` true).

    moto evaluates a bucket policy without any request context and treats every condition operator but
    StringEquals as matching, so a Deny conditioned on ``Bool aws:SecureTransport: false`` (bootstrap.yaml's
    TLS-only policy) denied every request; on AWS it denies only plain HTTP. And a statement whose condition
    does not hold answers DENIED instead of not applying. Patched: ``Bool`` is evaluated, a statement whose
    condition does not hold is skipped, and requests to the emulator (127.0.0.1 only) count as TLS.
    """
    import json

    from moto.iam import policy_conditions
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3.models import FakeBucket

    def bool_operation(expected: Any, actual: str) -> bool:
        wanted = expected if isinstance(expected, list) else [expected]
        return str(actual).lower() in [str(value).lower() for value in wanted]

    # moto knows only StringEquals and treats any other operator as matching: add Bool.
    _set(policy_conditions, "CONDITION_OPERATIONS", {**policy_conditions.CONDITION_OPERATIONS, "Bool": bool_operation})

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        context = {"aws:SecureTransport": "true"}
        statements = json.loads(self.policy.decode())["Statement"]
        result = PermissionResult.NEUTRAL
        for raw in statements if isinstance(statements, list) else [statements]:
            statement = IAMPolicyStatement(raw)
            if raw.get("Condition") and not statement._check_conditions(context):
                continue  # moto answers DENIED here even for an Allow; a statement that does not hold is silent
            answer = statement.is_action_permitted(action, resource, incoming_condition_values=context)
            if answer == PermissionResult.DENIED:
                return answer
            if answer == PermissionResult.PERMITTED:
                result = answer
        return result

    _set(FakeBucket, "get_permission", get_permission)


def _patch_log_group_key() -> None:
    """``AWS::Logs::LogGroup``: moto reads the API's ``kmsKeyId`` but a stack passes ``KmsKeyId``; keep it."""
    from moto.logs.models import LogGroup

    original = cast(types.MethodType, LogGroup.create_from_cloudformation_json).__func__  # bound classmethod

    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
               **kwargs: Any) -> Any:
        group = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        group.kms_key_id = (cloudformation_json.get("Properties") or {}).get("KmsKeyId") or group.kms_key_id
        return group

    _set(LogGroup, "create_from_cloudformation_json", classmethod(create))


def _patch_inference_components() -> None:
    """DescribeInferenceComponent, answered from the components the emulator created (moto has no such API)."""
    from moto.sagemaker.responses import SageMakerResponse

    from inference_platform_ops.emulator import cfn_resources

    def describe_inference_component(self: Any) -> str:
        name = json.loads(self.body or "{}").get("InferenceComponentName", "")
        component = cfn_resources.inference_component(self.region, name)
        if component is None:
            from moto.sagemaker.exceptions import ValidationError

            raise ValidationError(message=f"Could not find inference component '{name}'.")
        return json.dumps({
            "InferenceComponentName": component.name, "InferenceComponentArn": component.arn,
            "EndpointName": component.endpoint_name, "VariantName": component.variant_name,
            "InferenceComponentStatus": "InService", "Specification": {"ModelName": component.model_name},
            "RuntimeConfig": {"DesiredCopyCount": component.copies, "CurrentCopyCount": component.copies},
            "CreationTime": 0, "LastModifiedTime": 0,
        })

    _set(SageMakerResponse, "describe_inference_component", describe_inference_component)

    # An endpoint that hosts inference components has variants without a ModelName (the components name the
    # model); moto assumes every variant names one and fails with KeyError.
    from moto.sagemaker.models import SageMakerModelBackend

    shipped_validate = SageMakerModelBackend.validate_production_variants

    def validate_production_variants(self: Any, production_variants: list[dict[str, Any]]) -> None:
        shipped_validate(self, [v for v in production_variants if "ModelName" in v])

    _set(SageMakerModelBackend, "validate_production_variants", validate_production_variants)


_SAGEMAKER_NAME_PROPERTIES = {"FakeEndpoint": "EndpointName", "FakeEndpointConfig": "EndpointConfigName",
                               "Model": "ModelName"}


def _patch_sagemaker_names() -> None:
    from moto.sagemaker import models as sagemaker_models

    for class_name, name_property in _SAGEMAKER_NAME_PROPERTIES.items():
        model_class = getattr(sagemaker_models, class_name)
        _set(model_class, "cloudformation_name_type", staticmethod(lambda name=name_property: name))


def _patch_scalable_dimensions() -> None:
    """The scalable dimensions botocore's Application Auto Scaling model has and moto 5.2.5 refuses."""
    from enum import Enum

    from moto.applicationautoscaling import models, responses

    shipped = models.ScalableDimensionValueSet
    # mypy reads Enum() members only from literals; these are moto's members plus two, known at run time.
    extended = Enum("ScalableDimensionValueSet", {  # type: ignore[misc]
        **{member.name: member.value for member in shipped},
        "SAGEMAKER_INFERENCE_COMPONENT_DESIRED_COPY_COUNT": "sagemaker:inference-component:DesiredCopyCount",
        "SAGEMAKER_VARIANT_DESIRED_PROVISIONED_CONCURRENCY": "sagemaker:variant:DesiredProvisionedConcurrency",
    })
    for module in (models, responses):
        _set(module, "ScalableDimensionValueSet", extended)


def _patch_template_parser_speed() -> None:
    import yaml
    from moto.cloudformation import models, responses

    if not yaml.__with_libyaml__:
        return

    class TemplateLoader(yaml.CLoader):  # libyaml's scanner and parser; PyYAML's constructors and resolver
        pass

    def add_multi_constructor(tag_prefix: str, multi_constructor: Any, Loader: Any = None) -> None:  # noqa: N803
        TemplateLoader.add_multi_constructor(tag_prefix, multi_constructor)

    fast_yaml = types.ModuleType("yaml")
    fast_yaml.__dict__.update(vars(yaml))
    fast_yaml.__dict__.update(Loader=TemplateLoader, add_multi_constructor=add_multi_constructor)
    for module in (models, responses):
        _set(module, "yaml", fast_yaml)


def install() -> None:
    """Apply every patch once, for the rest of the process (safe to call again)."""
    if _ORIGINALS:
        return
    _patch_nested_stack_outputs()
    _patch_resource_types()
    _patch_resource_creation()
    _patch_execute_change_set()
    _patch_stack_resources()
    _patch_kms_key()
    _patch_change_set_conditions()
    _patch_state_machines()
    _patch_termination_protection()
    _patch_yaml_get_att_list()
    _patch_bucket_policy_transport()
    _patch_log_group_key()
    _patch_inference_components()
    _patch_sagemaker_names()
    _patch_scalable_dimensions()
    _patch_template_parser_speed()


def uninstall() -> None:
    """Put moto back as it was (tests share one process with other moto users)."""
    from inference_platform_ops.emulator import cfn_resources

    cfn_resources.forget_clients()
    while _ORIGINALS:
        owner, name, original = _ORIGINALS.pop()
        if original is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


@contextlib.contextmanager
def patched() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()
