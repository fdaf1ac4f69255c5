"""TAGGING_ENVIRONMENT checks a fixed list of types; this keeps the list from going stale.

Every resource type a template uses whose CloudFormation schema (as cfn-lint ships it) has a tag
property must be in the rule's list, or be a documented exception.
"""

from __future__ import annotations

import re

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from inference_platform_ops.guard.gate import template_files
from inference_platform_ops.paths import RULES, TEMPLATES
from inference_platform_ops.templates import load_template, resources

RULE_FILE = RULES / "tagging_environment.guard"
# Nested stacks inherit the root stack's tags (set by the deploy script), as the rule header says.
NOT_CHECKED_ON_PURPOSE = {"AWS::CloudFormation::Stack"}
# Tagged per replica (ReplicaSpecification.Tags), which the rule checks replica by replica.
PER_REPLICA_TAGS = {"AWS::DynamoDB::GlobalTable"}


def types_in_rule() -> set[str]:
    return set(re.findall(r'"(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)"', RULE_FILE.read_text(encoding="utf-8")))


def has_tag_property(type_name: str) -> bool:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", type_name).schema
    return any(name == "Tags" or name.endswith("Tags") for name in schema.get("properties", {}))


def test_every_taggable_type_used_by_a_template_is_checked() -> None:
    used = {body.get("Type") for path in template_files(TEMPLATES)
            for body in resources(load_template(path)).values()}
    taggable = {t for t in used if isinstance(t, str) and t.startswith("AWS::") and has_tag_property(t)}
    unchecked = sorted(taggable - types_in_rule() - NOT_CHECKED_ON_PURPOSE)
    assert unchecked == [], f"add these taggable types to {RULE_FILE.name} (and its docs): {unchecked}"


def test_rule_lists_only_types_that_have_tags() -> None:
    untaggable = sorted(t for t in types_in_rule() - PER_REPLICA_TAGS if not has_tag_property(t))
    assert untaggable == [], f"{RULE_FILE.name} lists types without a tag property: {untaggable}"
