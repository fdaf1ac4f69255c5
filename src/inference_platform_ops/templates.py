"""Reading CloudFormation templates: the one loader, resource look-ups, and parameter checks.

``load_template`` is cfn-lint's own decoder (the linter, the guard gate, the deploy and the tests read a
template the same way: short-form tags in long form, duplicate keys refused).

``validate_parameters`` checks parameter values before a change set is created. CloudFormation would
refuse a bad value too, but only one at a time and only after packaging and uploading. This reads the
template's own constraints (AllowedValues, AllowedPattern, MinLength, MaxLength, MinValue, MaxValue), its
``Rules`` assertions (evaluated by :mod:`inference_platform_ops.intrinsics`) and the numeric comparisons
that Rules cannot express (template ``Metadata.ParameterComparisons``), and reports every problem at once.
"""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from cfnlint.decode import cfn_yaml

from inference_platform_ops.intrinsics import Evaluator, UnresolvableError, as_text

__all__ = ["load_template", "properties", "resources", "resources_of_type", "validate_parameters"]

_NUMBER_TYPES = {"Number"}
_LIST_TYPES = {"CommaDelimitedList", "List<Number>"}


def load_template(path: str | Path) -> dict[str, Any]:
    """A YAML or JSON template as dicts (short-form tags in long form); ValueError naming the file if it is not one.

    Each call returns its own copy: callers may edit it. The parse is cached per file content (the gate reads
    the same templates hundreds of times); keyed by a digest, not the modification time, whose granularity
    (a clock tick) would hand back the old parse after a same-size rewrite.
    """
    path = Path(path)
    if not path.is_file():
        return _decode(path)  # the decoder's own error names the file
    digest = hashlib.sha256(path.read_bytes()).digest()
    return copy.deepcopy(_decode_content(path.resolve(), digest))


@functools.lru_cache(maxsize=256)
def _decode_content(path: Path, digest: bytes) -> dict[str, Any]:
    del digest  # part of the cache key only
    return _decode(path)


def _decode(path: Path) -> dict[str, Any]:
    try:
        document = cfn_yaml.load(str(path))
    except yaml.YAMLError as error:
        raise ValueError(f"{path.name}: not valid YAML: {' '.join(str(error).split())}") from error
    if not isinstance(document, dict):
        raise ValueError(f"{path.name}: a template must be a mapping, got {type(document).__name__}")
    return document


def resources(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found = template.get("Resources")
    if not isinstance(found, dict):
        return {}
    return {name: body for name, body in found.items() if isinstance(body, dict)}


def resources_of_type(template: Mapping[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in resources(template).items() if body.get("Type") == type_name}


def properties(resource: Mapping[str, Any]) -> dict[str, Any]:
    found = resource.get("Properties")
    return found if isinstance(found, dict) else {}


def declared_parameters(template: Mapping[str, Any]) -> dict[str, Any]:
    found = template.get("Parameters")
    return found if isinstance(found, dict) else {}


def validate_parameters(template: dict, values: Mapping[str, Any], region: str | None = None) -> list[str]:
    """Return human-readable problems with ``values`` for ``template``; an empty list means valid.

    ``values`` are CloudFormation parameter values (strings). Parameters left out take their
    Default. Rules that reference ``AWS::Region`` are checked only when ``region`` is given.
    """
    declared: dict[str, dict] = template.get("Parameters") or {}
    problems: list[str] = []
    for name, value in values.items():
        if name not in declared:
            hint = difflib.get_close_matches(name, list(declared), n=1)
            suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(f"{name}: not a parameter of this template{suffix}")
        elif not isinstance(value, str):
            problems.append(f"{name}: value {value!r} must be a string (CloudFormation parameter values are strings)")

    effective: dict[str, str] = {}
    for name, spec in declared.items():
        if name in values and isinstance(values[name], str):
            effective[name] = values[name]
            problems.extend(f"{name}: {msg}" for msg in _constraint_problems(spec, values[name]))
        elif name in values:
            continue  # already reported as not a string
        elif "Default" in spec:
            effective[name] = as_text(spec["Default"])
        else:
            problems.append(f"{name}: required (the template gives it no Default)")

    problems.extend(_rule_problems(template, effective, region))
    problems.extend(_comparison_problems(template, effective))
    return problems


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _constraint_problems(spec: dict, value: str) -> list[str]:
    kind = spec.get("Type", "String")
    why = spec.get("ConstraintDescription")
    because = f" ({why})" if why else ""
    items = [item.strip() for item in value.split(",")] if kind in _LIST_TYPES else [value]
    problems: list[str] = []
    for item in items:
        problems.extend(_item_problems(spec, kind, item, because))
    return problems


def _item_problems(spec: dict, kind: str, value: str, because: str) -> list[str]:
    numeric = kind in _NUMBER_TYPES or kind == "List<Number>"
    if numeric:
        number = _number(value)
        if number is None:
            return [f"{value!r} is not a number{because}"]
        if "AllowedValues" in spec and number not in {_number(as_text(v)) for v in spec["AllowedValues"]}:
            allowed = ", ".join(as_text(v) for v in spec["AllowedValues"])
            return [f"{value!r} is not one of {allowed}{because}"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return [f"{value!r} is below MinValue {as_text(spec['MinValue'])}{because}"]
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return [f"{value!r} is above MaxValue {as_text(spec['MaxValue'])}{because}"]
        return []
    problems = []
    if "AllowedValues" in spec and value not in [as_text(v) for v in spec["AllowedValues"]]:
        allowed = ", ".join(repr(as_text(v)) for v in spec["AllowedValues"])
        problems.append(f"{value!r} is not one of {allowed}{because}")
    # CloudFormation matches AllowedPattern against the whole value.
    if "AllowedPattern" in spec and re.fullmatch(spec["AllowedPattern"], value) is None:
        problems.append(f"{value!r} does not match AllowedPattern {spec['AllowedPattern']}{because}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problems.append(f"{value!r} is shorter than MinLength {spec['MinLength']}{because}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problems.append(f"{value!r} is longer than MaxLength {spec['MaxLength']}{because}")
    return problems


def _rule_problems(template: Mapping[str, Any], values: dict[str, str], region: str | None) -> list[str]:
    evaluator = Evaluator(template, values, region=region, strict=True)
    problems = []
    for rule_name, rule in (template.get("Rules") or {}).items():
        try:
            if "RuleCondition" in rule and not evaluator.truth(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not evaluator.truth(assertion["Assert"]):
                    detail = assertion.get("AssertDescription", "assertion failed")
                    problems.append(f"Rules.{rule_name}: {' '.join(str(detail).split())}")
        except UnresolvableError:
            continue  # e.g. AWS::Region without a region: CloudFormation checks it at deploy time
    return problems


def _comparison_problems(template: dict, values: dict[str, str]) -> list[str]:
    comparisons = (template.get("Metadata") or {}).get("ParameterComparisons") or []
    problems = []
    for comparison in comparisons:
        lower_name, higher_name = comparison["Lower"], comparison["Higher"]
        lower, higher = _number(values.get(lower_name, "")), _number(values.get(higher_name, ""))
        if lower is None or higher is None:
            continue  # a missing or non-numeric value is already reported above
        or_equal = comparison.get("OrEqual", True)
        if lower > higher or (lower == higher and not or_equal):
            relation = "at most" if or_equal else "below"
            problems.append(f"{lower_name}={values[lower_name]} must be {relation} "
                            f"{higher_name}={values[higher_name]}")
    return problems

