"""The Lambdas' own cold-start settings checks, run by the deploy before anything is uploaded.

A params value can satisfy the template's constraints and still be refused by the function that reads it
(``BusinessTimezone: Mars/Olympus`` matches the pattern; ``InputPrefix: ""`` puts every output inside the
input; a ``BatchThreshold`` above what the Route Lambda accepts): the stack deploys, then every execution
fails. So for each region's parameters this builds the environment every Lambda of the templates would get
-- main.yaml's values handed to each nested stack, that stack's ``Environment.Variables`` resolved with
them (:mod:`inference_platform_ops.intrinsics`) -- and runs the very ``from_env`` its handler runs at cold
start (:data:`SETTINGS_OF_HANDLER`). A refusal becomes one line naming the params file and the
``Parameters.<Name>`` the variable comes from.

Values known only once the stack exists (a sibling stack's output, a resource's ARN) stand in with a
placeholder; a refusal that names only such variables says nothing about the params file and is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference_platform.idle.config import IdleDetectorSettings
from inference_platform.planning.config import PlannerConfig
from inference_platform.shared.settings import ConfigError
from inference_platform.workflow.config import CallbackConfig, InvokeConfig, RouteConfig, StartBatchConfig
from inference_platform_ops.intrinsics import Evaluator
from inference_platform_ops.templates import load_template

# handler module -> the settings its handler reads at cold start (a test keeps it complete).
SETTINGS_OF_HANDLER: dict[str, Any] = {
    "inference_platform.handlers.route": RouteConfig,
    "inference_platform.handlers.invoke": InvokeConfig,
    "inference_platform.handlers.start_batch": StartBatchConfig,
    "inference_platform.handlers.batch_callback": CallbackConfig,
    "inference_platform.handlers.idle_detector": IdleDetectorSettings,
    "inference_platform.handlers.capacity_planner": PlannerConfig,
}
# What stands in for a value only the deployed stack knows (an ARN is the strictest shape asked for).
PLACEHOLDER = "arn:aws:placeholder:us-east-1:123456789012:known-after-deploy"


@dataclass
class FunctionEnvironment:
    template: str
    logical_id: str
    handler: str
    variables: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # variable -> main.yaml parameter it comes from
    placeholders: set[str] = field(default_factory=set)


def _ref_name(expr: Any) -> str | None:
    return expr["Ref"] if isinstance(expr, dict) and set(expr) == {"Ref"} and isinstance(expr["Ref"], str) else None


def environments(main_path: Path, values: Mapping[str, str], region: str) -> list[FunctionEnvironment]:
    """What every Lambda of main.yaml's active nested stacks would find in its environment."""
    main = load_template(main_path)
    outer = Evaluator(main, values, region=region)
    found: list[FunctionEnvironment] = []
    for resource in outer.active_resources().values():
        url = (resource.get("Properties") or {}).get("TemplateURL")
        if resource.get("Type") != "AWS::CloudFormation::Stack" or not isinstance(url, str) or "://" in url:
            continue
        child_values: dict[str, str] = {}
        child_sources: dict[str, str] = {}  # child parameter -> the main.yaml parameter it is a Ref to
        for name, expr in ((resource.get("Properties") or {}).get("Parameters") or {}).items():
            value = outer.resolve(expr)
            child_values[name] = value if isinstance(value, str) else PLACEHOLDER
            source = _ref_name(expr)
            if source is not None and source in (main.get("Parameters") or {}):
                child_sources[name] = source
        child = load_template(main_path.parent / url)
        inner = Evaluator(child, child_values, region=region)
        for function_id, function in inner.active_resources().items():
            if function.get("Type") != "AWS::Lambda::Function":
                continue
            props = function.get("Properties") or {}
            env = FunctionEnvironment(url, function_id, str(props.get("Handler", "")))
            declared = ((props.get("Environment") or {}).get("Variables")) or {}
            for variable, expr in declared.items():
                value = inner.resolve(expr)
                if not isinstance(value, str | int | float) or (isinstance(value, str) and "${" in value):
                    env.variables[variable] = PLACEHOLDER
                    env.placeholders.add(variable)
                else:
                    env.variables[variable] = str(value)
                name = _ref_name(expr)
                if name in child_sources:
                    env.sources[variable] = child_sources[name]
                elif name in child_values and child_values[name] == PLACEHOLDER:
                    env.placeholders.add(variable)
            found.append(env)
    return found


def problems(main_path: Path, values: Mapping[str, str], region: str, where: str) -> list[str]:
    """One line per refusal a Lambda would give at cold start, naming the params field (and the Lambdas)."""
    refusals: dict[str, list[str]] = {}  # message -> the functions that refuse it
    lines: list[str] = []
    for env in environments(main_path, values, region):
        module = env.handler.rpartition(".")[0]
        settings = SETTINGS_OF_HANDLER.get(module)
        if settings is None:
            lines.append(f"{env.template} {env.logical_id}: handler {env.handler!r} has no known settings; add its "
                         "module to inference_platform_ops.deploy.lambda_settings.SETTINGS_OF_HANDLER")
            continue
        try:
            settings.from_env({"AWS_REGION": region, **env.variables})
        except ConfigError as exc:
            message = _in_params_terms(str(exc), env)
            if message:
                refusals.setdefault(message, []).append(env.logical_id)
    for message, functions in refusals.items():
        who = f"the {functions[0]} Lambda refuses" if len(functions) == 1 else \
            f"the {', '.join(functions[:-1])} and {functions[-1]} Lambdas refuse"
        lines.append(f"{where}: {message} ({who} it at cold start)")
    return lines


def whole_number_problems(template: Mapping[str, Any], values: Mapping[str, str], where: str) -> list[str]:
    """Number parameters declared as counts (every bound, default and allowed value whole) take whole numbers:
    a capacity of "4.5" satisfies ``Type: Number`` and its range, then fails the resource that uses it."""
    from inference_platform.shared.settings import parse_integer

    lines = []
    for name, spec in (template.get("Parameters") or {}).items():
        if spec.get("Type") != "Number" or name not in values:
            continue
        declared = [spec.get(k) for k in ("Default", "MinValue", "MaxValue") if k in spec]
        declared += list(spec.get("AllowedValues") or [])
        if not declared or not all(float(v).is_integer() for v in declared):
            continue
        low = int(spec.get("MinValue", -(2**63)))
        high = int(spec.get("MaxValue", 2**63))
        try:
            parse_integer(f"Parameters.{name}", str(values[name]), low, high)
        except ConfigError as exc:
            lines.append(f"{where}: {exc}")
        except ValueError:
            continue
    return lines


def _in_params_terms(message: str, env: FunctionEnvironment) -> str | None:
    named = [v for v in env.variables if re.search(rf"\b{re.escape(v)}\b", message)]
    if named and all(v in env.placeholders for v in named):
        return None  # about a value only the deployed stack knows: nothing the params file can fix
    for variable in sorted(named, key=len, reverse=True):
        if variable in env.sources:
            message = re.sub(rf"\b{re.escape(variable)}\b", f"Parameters.{env.sources[variable]}", message)
        else:
            message = re.sub(rf"\b{re.escape(variable)}\b", f"{variable} ({env.template} {env.logical_id})", message)
    return message
