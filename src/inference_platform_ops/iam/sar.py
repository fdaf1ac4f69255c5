"""The Service Authorization Reference (IAM actions, their resource types and ARN formats), as parliament ships it.

One read of parliament's ``iam_definition.json`` per process; every IAM check in the project asks here instead
of keeping its own table of which action takes which resource.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ResourceType:
    name: str  # e.g. "endpoint"
    required: bool  # "endpoint*" in the reference: the action always acts on this resource type
    arn_format: str  # e.g. arn:${Partition}:sagemaker:${Region}:${Account}:endpoint/${EndpointName}


@dataclass(frozen=True)
class Action:
    prefix: str
    name: str
    resource_types: tuple[ResourceType, ...]  # empty: the action supports no resource type (Resource "*" only)
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.prefix}:{self.name}"


@functools.cache
def _definition() -> dict[str, dict]:
    # Located without importing parliament (its __init__ imports pkg_resources, deprecated and slow).
    spec = importlib.util.find_spec("parliament")
    if spec is None or spec.origin is None:
        raise RuntimeError("parliament is not installed: run make install")
    text = (Path(spec.origin).parent / "iam_definition.json").read_text(encoding="utf-8")
    services: dict[str, dict] = {}
    for service in json.loads(text):
        # Some prefixes appear under two service names; merge their privileges and resources.
        merged = services.setdefault(service["prefix"], {"privileges": {}, "resources": {}})
        merged["privileges"].update({p["privilege"].lower(): p for p in service["privileges"]})
        merged["resources"].update({r["resource"].lower(): r for r in service["resources"]})
    return services


def prefixes() -> set[str]:
    return set(_definition())


def action(full_name: str) -> Action | None:
    """The action named ``prefix:Name`` (case-insensitive, as IAM matches actions), or None if unknown."""
    prefix, _, name = full_name.partition(":")
    service = _definition().get(prefix.lower())
    if not service:
        return None
    privilege = service["privileges"].get(name.lower())
    if not privilege:
        return None
    types: list[ResourceType] = []
    keys: list[str] = []
    for entry in privilege["resource_types"]:
        keys.extend(entry.get("condition_keys") or [])
        raw = entry["resource_type"]
        if not raw:
            continue
        type_name = raw.rstrip("*")
        resource = service["resources"].get(type_name.lower())
        if resource:
            types.append(ResourceType(type_name, raw.endswith("*"), resource["arn"]))
    return Action(prefix.lower(), privilege["privilege"], tuple(types), tuple(keys))


def matching_actions(pattern: str) -> list[Action]:
    """Every action an Action element such as ``sagemaker:Describe*`` grants (IAM wildcards * and ?)."""
    prefix, _, name = pattern.partition(":")
    regex = re.compile("^" + re.escape(name.lower()).replace(r"\*", ".*").replace(r"\?", ".") + "$")
    found = []
    for service_prefix, service in _definition().items():
        if not re.fullmatch(re.escape(prefix.lower()).replace(r"\*", ".*"), service_prefix):
            continue
        for key in service["privileges"]:
            if regex.match(key):
                found.append(action(f"{service_prefix}:{key}"))
    return [a for a in found if a]


def arn_pattern(arn_format: str) -> re.Pattern[str]:
    """A regex for ARNs of one resource type: each ${Placeholder} matches one or more characters."""
    parts = re.split(r"\$\{[^}]+\}", arn_format)
    return re.compile("^" + "(.+?)".join(re.escape(part) for part in parts) + "$")


def resource_type_of(act: Action, arn: str) -> ResourceType | None:
    """The resource type of ``act`` that ``arn`` has, by the reference's ARN formats."""
    for resource_type in act.resource_types:
        if arn_pattern(resource_type.arn_format).match(arn):
            return resource_type
    return None
