"""Check parameter values against a CloudFormation template before a change set is created.

CloudFormation would refuse a bad value too, but only one at a time and only after packaging and
uploading. This reads the template's own constraints (AllowedValues, AllowedPattern, MinLength,
MaxLength, MinValue, MaxValue), its ``Rules`` assertions and the numeric comparisons that Rules
cannot express (template ``Metadata.ParameterComparisons``), and reports every problem at once.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["UnresolvableError", "load_template", "validate_parameters"]

_NUMBER_TYPES = {"Number"}
_LIST_TYPES = {"CommaDelimitedList", "List<Number>"}


class UnresolvableError(Exception):
    """A Rules expression uses something this checker cannot evaluate offline."""


def load_template(path: str | Path) -> dict:
    """Load a YAML or JSON template with short-form tags (!Ref ...) as plain dicts."""
    # Imported here: cfn-lint is a dev tool, absent from the Lambda zip that also carries this package.
    from cfnlint.decode import cfn_yaml  # noqa: PLC0415

    return cfn_yaml.load(str(path))


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
            effective[name] = _as_text(spec["Default"])
        else:
            problems.append(f"{name}: required (the template gives it no Default)")

    problems.extend(_rule_problems(template.get("Rules") or {}, effective, declared, region))
    problems.extend(_comparison_problems(template, effective))
    return problems


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    return str(value)


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
        if "AllowedValues" in spec and number not in {_number(_as_text(v)) for v in spec["AllowedValues"]}:
            allowed = ", ".join(_as_text(v) for v in spec["AllowedValues"])
            return [f"{value!r} is not one of {allowed}{because}"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return [f"{value!r} is below MinValue {_as_text(spec['MinValue'])}{because}"]
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return [f"{value!r} is above MaxValue {_as_text(spec['MaxValue'])}{because}"]
        return []
    problems = []
    if "AllowedValues" in spec and value not in [_as_text(v) for v in spec["AllowedValues"]]:
        allowed = ", ".join(repr(_as_text(v)) for v in spec["AllowedValues"])
        problems.append(f"{value!r} is not one of {allowed}{because}")
    # CloudFormation matches AllowedPattern against the whole value.
    if "AllowedPattern" in spec and re.fullmatch(spec["AllowedPattern"], value) is None:
        problems.append(f"{value!r} does not match AllowedPattern {spec['AllowedPattern']}{because}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problems.append(f"{value!r} is shorter than MinLength {spec['MinLength']}{because}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problems.append(f"{value!r} is longer than MaxLength {spec['MaxLength']}{because}")
    return problems


def _rule_problems(rules: dict, values: dict[str, str], declared: dict, region: str | None) -> list[str]:
    context = dict(values)
    if region is not None:
        context["AWS::Region"] = region
    problems = []
    for rule_name, rule in rules.items():
        try:
            if "RuleCondition" in rule and not _truth(rule["RuleCondition"], context, declared):
                continue
            for assertion in rule.get("Assertions", []):
                if not _truth(assertion["Assert"], context, declared):
                    detail = assertion.get("AssertDescription", "assertion failed")
                    problems.append(f"Rules.{rule_name}: {' '.join(str(detail).split())}")
        except UnresolvableError:
            continue  # e.g. AWS::Region without a region: CloudFormation checks it at deploy time
    return problems


def _value(expr: Any, context: dict[str, str], declared: dict) -> Any:
    if isinstance(expr, dict) and len(expr) == 1:
        (key, arg), = expr.items()
        if key == "Ref":
            if arg not in context:
                raise UnresolvableError(arg)
            spec = declared.get(arg, {})
            if spec.get("Type") in _LIST_TYPES:
                return [item.strip() for item in context[arg].split(",")]
            return context[arg]
        if key.startswith("Fn::"):
            return _truth(expr, context, declared)
        raise UnresolvableError(key)
    if isinstance(expr, list):
        return [_value(item, context, declared) for item in expr]
    return _as_text(expr)


def _truth(expr: Any, context: dict[str, str], declared: dict) -> bool:
    if not (isinstance(expr, dict) and len(expr) == 1):
        raise UnresolvableError(repr(expr))
    (key, args), = expr.items()
    if key == "Fn::Equals":
        left, right = (_value(arg, context, declared) for arg in args)
        return left == right
    if key == "Fn::Not":
        return not _truth(args[0], context, declared)
    if key == "Fn::And":
        return all(_truth(arg, context, declared) for arg in args)
    if key == "Fn::Or":
        return any(_truth(arg, context, declared) for arg in args)
    if key == "Fn::Contains":
        haystack, needle = (_value(arg, context, declared) for arg in args)
        return needle in haystack
    if key == "Fn::EachMemberEquals":
        members, target = (_value(arg, context, declared) for arg in args)
        return all(member == target for member in members)
    if key == "Fn::EachMemberIn":
        members, allowed = (_value(arg, context, declared) for arg in args)
        return all(member in allowed for member in members)
    raise UnresolvableError(key)


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
