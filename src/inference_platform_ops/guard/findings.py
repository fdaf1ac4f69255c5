"""What the guard gate's Python checks share: template loading, findings and suppressions.

A suppression is ``Metadata: {guard: {SuppressedRules: [RULE, ...], Reason: "<why>"}}`` on a resource.
It skips RULE for that resource only when Reason is a non-empty string; the gate fails a suppression
without one (rule SUPPRESSION_REASON) and lists every suppression it honoured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SUPPRESSION_RULE = "SUPPRESSION_REASON"


@dataclass(frozen=True, order=True)
class Finding:
    """One failure: which template, which resource (or Parameters/<name>, or -), which rule, what to do."""

    template: str
    resource: str
    rule: str
    message: str

    def line(self) -> str:
        return f"FAIL {self.template} {self.resource} {self.rule}: {self.message}"


@dataclass(frozen=True, order=True)
class Suppression:
    template: str
    resource: str
    rule: str
    reason: str

    def line(self) -> str:
        return f"SUPPRESSED {self.template} {self.resource} {self.rule}: {self.reason}"


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the libyaml loader is ~10x faster when present


class _CfnLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that turns CloudFormation short-form tags (!Ref, !Sub ...) into their long form."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML/JSON template; raise ValueError naming the file when it is not one."""
    loader = _CfnLoader(path.read_text(encoding="utf-8"))
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as error:
        raise ValueError(f"{path.name}: not valid YAML: {error}") from error
    finally:
        loader.dispose()
    if not isinstance(document, dict):
        raise ValueError(f"{path.name}: a template must be a mapping, got {type(document).__name__}")
    return document


def resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = template.get("Resources")
    if not isinstance(found, dict):
        return {}
    return {name: body for name, body in found.items() if isinstance(body, dict)}


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in resources(template).items() if body.get("Type") == type_name}


def properties(resource: dict[str, Any]) -> dict[str, Any]:
    found = resource.get("Properties")
    return found if isinstance(found, dict) else {}


def read_suppressions(template_name: str, template: dict[str, Any]) -> tuple[list[Suppression], list[Finding]]:
    """Valid suppressions, and a SUPPRESSION_REASON finding for each malformed or unexplained one."""
    valid: list[Suppression] = []
    invalid: list[Finding] = []
    for name, resource in resources(template).items():
        metadata = resource.get("Metadata")
        guard = metadata.get("guard") if isinstance(metadata, dict) else None
        if guard is None:
            continue
        rules = guard.get("SuppressedRules") if isinstance(guard, dict) else None
        if not isinstance(rules, list) or not rules or not all(isinstance(rule, str) for rule in rules):
            invalid.append(Finding(template_name, name, SUPPRESSION_RULE,
                                   "Metadata.guard.SuppressedRules must be a non-empty list of rule names. "
                                   "Fix: SuppressedRules: [RULE_NAME] with Reason: \"<why>\"."))
            continue
        reason = guard.get("Reason")
        if not isinstance(reason, str) or not reason.strip():
            invalid.append(Finding(template_name, name, SUPPRESSION_RULE,
                                   f"suppression of {', '.join(rules)} has no written Reason, so it is not honoured. "
                                   "Fix: add Metadata.guard.Reason: \"<why this exception is justified>\"."))
            continue
        valid.extend(Suppression(template_name, name, rule, " ".join(reason.split())) for rule in rules)
    return valid, invalid


def is_suppressed(suppressions: list[Suppression], template_name: str, resource: str, rule: str) -> bool:
    return any(s.template == template_name and s.resource == resource and s.rule == rule for s in suppressions)
