"""Read and check templates/params/<env>.json before anything is built or uploaded.

Every problem becomes a ``ConfigError`` whose message is one line naming the file, the field and
what is valid, so ``make deploy`` fails in the first second instead of halfway through a rollout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from inference_platform.shared.constants import ENVIRONMENTS
from inference_platform.shared.settings import ConfigError

__all__ = ["BILLING_REGION", "ConfigError", "StackTarget", "load_config"]

BILLING_REGION = "us-east-1"  # AWS/Billing EstimatedCharges exists only there
PLACEHOLDER_CODE_KEY = f"lambda/{'0' * 64}.zip"  # same shape as the real key, for validation before the build


@dataclass(frozen=True)
class StackTarget:
    """One stack to deploy: where, what, with which parameters."""

    role: str  # primary | secondary | billing
    region: str
    stack_name: str
    template_path: Path
    parameters: dict[str, str]
    tags: dict[str, str]


def check_env(env: str) -> None:
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown ENV {env!r}: valid environments are {', '.join(ENVIRONMENTS)}")


def load_config(env: str, params_dir: Path) -> dict:
    check_env(env)
    path = params_dir / f"{env}.json"
    if not path.is_file():
        raise ConfigError(f"params file {path} does not exist (every ENV needs templates/params/<env>.json)")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"params file {path} is not valid JSON: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"params file {path}: the top level must be a JSON object")
    _require(config, path, "StackName", str)
    _require(config, path, "Parameters", dict)
    _require(config, path, "Regions", dict)
    if not isinstance(config["Regions"].get("Primary"), str) or not config["Regions"]["Primary"]:
        raise ConfigError(f"params file {path}: Regions.Primary must be a region name such as us-east-1")
    if config.get("Environment", env) != env:
        raise ConfigError(f"params file {path}: Environment is {config.get('Environment')!r} but ENV is {env!r}")
    for key, value in config["Parameters"].items():
        if not isinstance(value, str):
            raise ConfigError(f"params file {path}: Parameters.{key} must be a string (CloudFormation "
                              f"parameters are strings), got {json.dumps(value)}")
    _check_stack_name(config["StackName"], path)
    _check_tags(config.get("Tags"), path)
    config["_path"] = _display(path)
    return config


# CloudFormation stack names: a letter, then letters, digits and hyphens, 128 at most; "-billing" is appended.
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_MAX_STACK_NAME = 128 - len("-billing")


def _check_stack_name(name: str, path: Path) -> None:
    if not _STACK_NAME.fullmatch(name) or len(name) > _MAX_STACK_NAME:
        raise ConfigError(f"params file {path}: StackName {name!r} is not a CloudFormation stack name (a letter, "
                          f"then letters, digits and hyphens; at most {_MAX_STACK_NAME} characters, the billing "
                          "stack adds -billing)")


def _check_tags(tags: object, path: Path) -> None:
    """Stack tags as CloudFormation takes them (it copies them to every resource): at most 50, key 1-128 and
    value 0-256 characters, no aws: prefix."""
    if tags is None:
        return
    if not isinstance(tags, dict):
        raise ConfigError(f"params file {path}: Tags must be an object of tag name to value, like "
                          f'{{"Environment": "staging", "Owner": "ml-platform"}}, got a {type(tags).__name__}')
    if len(tags) > 50:
        raise ConfigError(f"params file {path}: Tags has {len(tags)} tags; CloudFormation takes at most 50")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise ConfigError(f"params file {path}: Tags key {key!r} must be 1-128 characters and not start "
                              "with aws:")
        if not isinstance(value, str | int | float) or isinstance(value, bool) or len(str(value)) > 256:
            raise ConfigError(f"params file {path}: Tags.{key} must be a string of at most 256 characters, "
                              f"got {json.dumps(value)}")


def _display(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _require(config: dict, path: Path, key: str, kind: type) -> None:
    if not isinstance(config.get(key), kind):
        raise ConfigError(f"params file {path}: {key} is missing or not a {kind.__name__}")


def billing_parameters(config: dict, template: dict) -> dict[str, str] | None:
    """Parameters for the billing alarm stack, or None when BillingAlarms.Enabled is false."""
    billing = config.get("BillingAlarms") or {}
    if not billing.get("Enabled"):
        return None
    candidates = {
        "Environment": config.get("Environment", ""),
        "MonthlyBudgetUsd": str(billing.get("MonthlyBudgetUsd", "")),
        "AlarmEmail": str(billing.get("AlarmEmail", "")),
        "ProjectName": config["Parameters"].get("ProjectName", ""),
    }
    declared = template.get("Parameters") or {}
    return {k: v for k, v in candidates.items() if k in declared and (v != "" or "Default" not in declared[k])}


def parameter_errors(template: dict, values: dict[str, str], region: str, where: str) -> list[str]:
    """Problems with ``values`` for ``template`` (unknown names, constraints, Rules), prefixed by where."""
    from inference_platform_ops.templates import validate_parameters

    return [f"{where}: {problem}" for problem in validate_parameters(template, values, region)]
