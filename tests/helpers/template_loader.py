"""Load CloudFormation YAML (with !Ref, !Sub, !GetAtt ... short forms) as plain dicts.

Uses the project's reader (cfn-lint's own decoder), so tests read templates exactly as the linter and
the deploy do: short-form tags come back in long form (``{"Ref": "X"}``, ``{"Fn::Sub": "..."}``).
"""

from __future__ import annotations

import re

from inference_platform_ops.paths import ROOT
from inference_platform_ops.templates import load_template as read_template

TEMPLATES = ROOT / "templates"


def load_template(name: str) -> dict:
    path = TEMPLATES / name
    if not path.is_file():
        raise FileNotFoundError(f"template {path} does not exist")
    return read_template(path)


# --- evaluating a template offline --------------------------------------------------------------
# Enough of CloudFormation's intrinsic functions to answer "which resources exist for these
# parameters" and "what does this value resolve to" for values built from parameters only.


NO_VALUE = {"Ref": "AWS::NoValue"}


def parameter_values(template: dict, overrides: dict | None = None) -> dict[str, str]:
    """Every parameter's value: the override if given, else its Default (as CloudFormation text)."""
    values = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if "Default" in spec:
            values[name] = _text(spec["Default"])
    values.update(overrides or {})
    return values


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve(template: dict, expr, values: dict[str, str], region: str = "us-east-1"):
    """Resolve Ref/Fn::Sub/Fn::Select/Fn::Split/Fn::Join/Fn::FindInMap/Fn::If over parameters."""
    context = {**values, "AWS::Region": region, "AWS::Partition": "aws", "AWS::AccountId": "123456789012",
               "AWS::StackName": "stack"}
    if isinstance(expr, list):
        items = [resolve(template, item, values, region) for item in expr]
        return [item for item in items if item != NO_VALUE]
    if not isinstance(expr, dict):
        return expr
    if len(expr) != 1:
        items = {key: resolve(template, value, values, region) for key, value in expr.items()}
        return {key: value for key, value in items.items() if value != NO_VALUE}
    (key, arg), = expr.items()
    if key == "Ref":
        # Resources, AWS::NoValue and unknown pseudo parameters stay as they are.
        return context.get(arg, expr)
    if key == "Fn::Sub":
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {**context, **{k: _text(resolve(template, v, values, region)) for k, v in extra.items()}}

        def substitute(match):
            name = match.group(1)
            return _text(local[name]) if name in local else match.group(0)  # e.g. ${Bucket.Arn}

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    if key == "Fn::Select":
        index, items = arg
        return resolve(template, items, values, region)[int(index)]
    if key == "Fn::Split":
        sep, text = arg
        return resolve(template, text, values, region).split(sep)
    if key == "Fn::Join":
        sep, items = arg
        return sep.join(_text(item) for item in resolve(template, items, values, region))
    if key == "Fn::FindInMap":
        name, top, second = (resolve(template, part, values, region) for part in arg)
        return template["Mappings"][name][top][second]
    if key == "Fn::If":
        name, when_true, when_false = arg
        chosen = when_true if conditions(template, values, region)[name] else when_false
        return resolve(template, chosen, values, region)
    return {key: resolve(template, arg, values, region)}


def conditions(template: dict, values: dict[str, str], region: str = "us-east-1") -> dict[str, bool]:
    """Evaluate every Condition of the template for the given parameter values."""
    defined = template.get("Conditions") or {}
    cache: dict[str, bool] = {}

    def truth(expr) -> bool:
        (key, arg), = expr.items()
        if key == "Condition":
            return named(arg)
        if key == "Fn::Equals":
            left, right = (_text(resolve(template, part, values, region)) for part in arg)
            return left == right
        if key == "Fn::Not":
            return not truth(arg[0])
        if key == "Fn::And":
            return all(truth(part) for part in arg)
        if key == "Fn::Or":
            return any(truth(part) for part in arg)
        raise ValueError(f"unsupported condition function {key}")

    def named(name: str) -> bool:
        if name not in cache:
            cache[name] = truth(defined[name])
        return cache[name]

    return {name: named(name) for name in defined}


def active_resources(template: dict, overrides: dict | None = None, region: str = "us-east-1") -> dict[str, dict]:
    """Resources CloudFormation would create for these parameter overrides (defaults elsewhere)."""
    values = parameter_values(template, overrides)
    evaluated = conditions(template, values, region)
    return {name: resource for name, resource in template["Resources"].items()
            if "Condition" not in resource or evaluated[resource["Condition"]]}
