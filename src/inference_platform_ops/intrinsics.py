"""CloudFormation's intrinsic functions, evaluated offline: the one evaluator of the ops tools and the tests.

It answers "which resources exist for these parameters", "what does this value resolve to" and "does this
Rules assertion hold", for values built from parameters, pseudo parameters and (when given) the physical ids
and attributes of resources. What it cannot evaluate (Fn::GetAZs, Fn::ImportValue, a resource not given)
stays as it is, or, with ``strict=True``, raises :class:`UnresolvableError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any

NO_VALUE = {"Ref": "AWS::NoValue"}
LIST_TYPES = ("CommaDelimitedList", "List<")
_SUB = re.compile(r"\$\{([^}]+)\}")


class UnresolvableError(Exception):
    """An expression uses something that cannot be evaluated offline."""


def as_text(value: Any) -> str:
    """A template scalar as CloudFormation passes it on (booleans lower case, lists comma-joined)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(as_text(item) for item in value)
    return str(value)


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every parameter's value: the override if given, else its Default (as CloudFormation text)."""
    values = {name: as_text(spec["Default"]) for name, spec in (template.get("Parameters") or {}).items()
              if "Default" in spec}
    values.update(overrides or {})
    return values


class Evaluator:
    """Intrinsics of one template for one set of parameter values (defaults fill in what is not given).

    ``resources`` maps a logical id to its physical id (for ``Ref``) and ``"Logical.Attribute"`` to an
    attribute's value (for ``Fn::GetAtt`` and ``${Logical.Attribute}``). ``region=None`` leaves
    ``AWS::Region`` unknown (a Rules assertion on it is then unresolvable).
    """

    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, str] | None = None, *,
                 region: str | None = "us-east-1", account_id: str = "123456789012", stack_name: str = "stack",
                 resources: Mapping[str, str] | None = None, strict: bool = False) -> None:
        self.template = template
        self.declared: Mapping[str, Any] = template.get("Parameters") or {}
        self.values = parameter_values(template, overrides)
        self.pseudo = {"AWS::AccountId": account_id, "AWS::Partition": "aws", "AWS::StackName": stack_name,
                       "AWS::URLSuffix": "amazonaws.com"}
        if region is not None:
            self.pseudo["AWS::Region"] = region
        # Read only: a caller may put a lazy Mapping here (stacks.ResolvedStack computes identities on demand).
        self.resources: Mapping[str, str] = dict(resources or {})
        self.strict = strict

    # ------------------------------------------------------------------ values ----

    def resolve(self, expr: Any) -> Any:
        if isinstance(expr, list):
            return [item for item in (self.resolve(item) for item in expr) if item != NO_VALUE]
        if not isinstance(expr, dict):
            return expr
        if len(expr) == 1:
            (key, arg), = expr.items()
            function = self._FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
            if key.startswith("Fn::"):
                return self._unresolvable(expr, key)
        items = {key: self.resolve(value) for key, value in expr.items()}
        return {key: value for key, value in items.items() if value != NO_VALUE}

    def _unresolvable(self, expr: Any, what: str) -> Any:
        if self.strict:
            raise UnresolvableError(what)
        return expr

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.declared or name in self.values:
            if name not in self.values:
                return self._unresolvable({"Ref": name}, name)
            kind = str(self.declared.get(name, {}).get("Type", "String"))
            if kind.startswith(LIST_TYPES):
                return [item.strip() for item in self.values[name].split(",")] if self.values[name] else []
            return self.values[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.resources:
            return self.resources[name]
        return self._unresolvable({"Ref": name}, name)

    def _get_att(self, arg: Any) -> Any:
        logical, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        key = f"{logical}.{self.resolve(attribute)}"
        if key in self.resources:
            return self.resources[key]
        return self._unresolvable({"Fn::GetAtt": [logical, attribute]}, key)

    def _sub(self, arg: Any) -> Any:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {name: self.resolve(value) for name, value in extra.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is the literal text ${Literal}
            if name in local:
                value = local[name]
            elif "." in name:
                value = self._get_att(name)
            else:
                value = self._ref(name)
            if isinstance(value, dict):  # unresolved (lenient mode): keep the placeholder
                return match.group(0)
            return as_text(value)

        return _SUB.sub(substitute, text)

    def _select(self, arg: Any) -> Any:
        index, items = arg
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, arg: Any) -> Any:
        separator, text = arg
        return self.resolve(text).split(separator)

    def _join(self, arg: Any) -> Any:
        separator, items = arg
        return separator.join(as_text(item) for item in self.resolve(items))

    def _find_in_map(self, arg: Any) -> Any:
        name, top, second = (self.resolve(part) for part in arg)
        return self.template["Mappings"][name][top][second]

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    _FUNCTIONS = {"Ref": _ref, "Fn::GetAtt": _get_att, "Fn::Sub": _sub, "Fn::Select": _select,
                  "Fn::Split": _split, "Fn::Join": _join, "Fn::FindInMap": _find_in_map, "Fn::If": _if}

    # -------------------------------------------------------------- conditions ----

    def truth(self, expr: Any) -> bool:
        """A condition or Rules expression: Fn::Equals/Not/And/Or, Condition, and the Rules-only functions."""
        if not (isinstance(expr, dict) and len(expr) == 1):
            raise UnresolvableError(repr(expr))
        (key, args), = expr.items()
        if key == "Condition":
            return self.condition(args)
        if key == "Fn::Equals":
            left, right = (self._comparable(arg) for arg in args)
            return left == right
        if key == "Fn::Not":
            return not self.truth(args[0])
        if key == "Fn::And":
            return all(self.truth(arg) for arg in args)
        if key == "Fn::Or":
            return any(self.truth(arg) for arg in args)
        if key == "Fn::Contains":
            haystack, needle = (self._comparable(arg) for arg in args)
            return needle in haystack
        if key == "Fn::EachMemberEquals":
            members, target = (self._comparable(arg) for arg in args)
            return all(member == target for member in members)
        if key == "Fn::EachMemberIn":
            members, allowed = (self._comparable(arg) for arg in args)
            return all(member in allowed for member in members)
        raise UnresolvableError(key)

    def _comparable(self, expr: Any) -> Any:
        if isinstance(expr, dict) and len(expr) == 1 and next(iter(expr)) in ("Fn::Equals", "Fn::Not", "Fn::And",
                                                                               "Fn::Or", "Condition"):
            return self.truth(expr)
        value = self.resolve(expr)
        if isinstance(value, dict):
            raise UnresolvableError(repr(expr))
        if isinstance(value, list):
            return [as_text(item) for item in value]
        return as_text(value)

    @cached_property
    def conditions(self) -> dict[str, bool]:
        """Every Condition of the template."""
        return {name: self.condition(name) for name in self.template.get("Conditions") or {}}

    def condition(self, name: str) -> bool:
        cache = self.__dict__.setdefault("_condition_cache", {})
        if name not in cache:
            cache[name] = self.truth(self.template["Conditions"][name])
        return cache[name]

    def active_resources(self) -> dict[str, dict]:
        """Resources CloudFormation would create for these parameters."""
        return {name: resource for name, resource in (self.template.get("Resources") or {}).items()
                if "Condition" not in resource or self.condition(resource["Condition"])}


# Module-level conveniences for the common one-off questions.

def resolve(template: Mapping[str, Any], expr: Any, values: Mapping[str, str], region: str = "us-east-1") -> Any:
    return Evaluator(template, values, region=region).resolve(expr)


def conditions(template: Mapping[str, Any], values: Mapping[str, str], region: str = "us-east-1") -> dict[str, bool]:
    return Evaluator(template, values, region=region).conditions


def active_resources(template: Mapping[str, Any], overrides: Mapping[str, str] | None = None,
                     region: str = "us-east-1") -> dict[str, dict]:
    return Evaluator(template, overrides, region=region).active_resources()
