"""Settings of the idle-endpoint detector, read once from the Lambda's environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

ENVIRONMENTS = ("local", "dev", "staging", "production")
# 63 days: beyond that CloudWatch keeps only hourly rollups and nobody means "idle for a quarter".
MAX_IDLE_WINDOW_HOURS = 24 * 63


class AutoStopAction(StrEnum):
    SCALE_DOWN = "scale_down"
    DISABLE_SCHEDULES = "disable_schedules"
    DELETE = "delete"


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


@dataclass(frozen=True)
class IdleDetectorSettings:
    environment: str
    auto_stop_action: AutoStopAction
    dry_run: bool = True
    idle_window_hours: int = 24
    protection_tag_key: str = "ProtectionLevel"
    protected_values: frozenset[str] = frozenset({"critical"})
    summary_topic_arn: str = ""

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def is_protected_value(self, value: str | None) -> bool:
        return value is not None and value.strip().casefold() in self.protected_values

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IdleDetectorSettings:
        env = os.environ if env is None else env
        environment = _required(env, "ENVIRONMENT")
        if environment not in ENVIRONMENTS:
            raise ConfigError(f"ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
        action_raw = env.get("AUTO_STOP_ACTION", AutoStopAction.SCALE_DOWN.value).strip()
        try:
            action = AutoStopAction(action_raw)
        except ValueError:
            allowed = ", ".join(a.value for a in AutoStopAction)
            raise ConfigError(f"AUTO_STOP_ACTION must be one of {allowed}, got {action_raw!r}") from None
        window_raw = env.get("IDLE_WINDOW_HOURS", "24").strip()
        try:
            window = int(window_raw)
        except ValueError:
            raise ConfigError(f"IDLE_WINDOW_HOURS must be a whole number of hours, got {window_raw!r}") from None
        if not 1 <= window <= MAX_IDLE_WINDOW_HOURS:
            raise ConfigError(f"IDLE_WINDOW_HOURS must be between 1 and {MAX_IDLE_WINDOW_HOURS}, got {window}")
        tag_key = env.get("PROTECTION_TAG_KEY", "ProtectionLevel").strip()
        if not tag_key:
            raise ConfigError("PROTECTION_TAG_KEY must not be empty")
        raw_values = env.get("PROTECTED_VALUES", "critical").split(",")
        values = frozenset(v.strip().casefold() for v in raw_values if v.strip())
        if not values:
            raise ConfigError("PROTECTED_VALUES must list at least one value (comma-separated), got an empty string")
        topic = env.get("SUMMARY_TOPIC_ARN", "").strip()
        if topic and not topic.startswith("arn:"):
            raise ConfigError(f"SUMMARY_TOPIC_ARN must be an SNS topic ARN or empty, got {topic!r}")
        return cls(
            environment=environment,
            auto_stop_action=action,
            dry_run=_boolean(env, "DRY_RUN", default=True),
            idle_window_hours=window,
            protection_tag_key=tag_key,
            protected_values=values,
            summary_topic_arn=topic,
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required but not set")
    return value


def _boolean(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")
