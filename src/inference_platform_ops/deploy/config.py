"""Read and check templates/params/<env>.json before anything is built or uploaded.

Every problem becomes a ``ConfigError`` whose message is one line naming the file, the field and
what is valid, so ``make deploy`` fails in the first second instead of halfway through a rollout.
"""

from __future__ import annotations

import json
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
    config["_path"] = _display(path)
    return config


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
