"""Settings of the idle-endpoint detector, read once from the Lambda's environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from inference_platform.idle.schedules import BusinessHours
from inference_platform.shared import settings as parse
from inference_platform.shared.constants import ENVIRONMENTS
from inference_platform.shared.settings import ConfigError, boolean, integer, one_of, required, text

__all__ = ["MAX_IDLE_WINDOW_HOURS", "AutoStopAction", "ConfigError", "IdleDetectorSettings"]

# 63 days: beyond that CloudWatch keeps only hourly rollups and nobody means "idle for a quarter".
MAX_IDLE_WINDOW_HOURS = 24 * 63


class AutoStopAction(StrEnum):
    SCALE_DOWN = "scale_down"
    DISABLE_SCHEDULES = "disable_schedules"
    DELETE = "delete"


@dataclass(frozen=True)
class IdleDetectorSettings:
    environment: str
    auto_stop_action: AutoStopAction
    dry_run: bool = True
    idle_window_hours: int = 24
    protection_tag_key: str = "ProtectionLevel"
    protected_values: frozenset[str] = frozenset({"critical"})
    summary_topic_arn: str = ""
    # Schedules suspended by the detector come back this long before business hours start (one scan interval).
    business_hours: BusinessHours = BusinessHours()
    resume_lead_minutes: int = 60
    detector_name: str = "idle-detector"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def is_protected_value(self, value: str | None) -> bool:
        return value is not None and value.strip().casefold() in self.protected_values

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IdleDetectorSettings:
        env = os.environ if env is None else env
        environment = one_of("ENVIRONMENT", required(env, "ENVIRONMENT"), ENVIRONMENTS)
        action = AutoStopAction(one_of("AUTO_STOP_ACTION", text(env, "AUTO_STOP_ACTION", AutoStopAction.SCALE_DOWN),
                                       (a.value for a in AutoStopAction)))
        window = integer(env, "IDLE_WINDOW_HOURS", 24, 1, MAX_IDLE_WINDOW_HOURS)
        tag_key = env.get("PROTECTION_TAG_KEY", "ProtectionLevel").strip()
        if not tag_key:
            raise ConfigError("PROTECTION_TAG_KEY must not be empty")
        raw_values = env.get("PROTECTED_VALUES", "critical").split(",")
        values = frozenset(v.strip().casefold() for v in raw_values if v.strip())
        if not values:
            raise ConfigError("PROTECTED_VALUES must list at least one value (comma-separated), got an empty string")
        topic = text(env, "SUMMARY_TOPIC_ARN")
        if topic and not topic.startswith("arn:"):
            raise ConfigError(f"SUMMARY_TOPIC_ARN must be an SNS topic ARN or empty, got {topic!r}")
        return cls(
            environment=environment,
            auto_stop_action=action,
            dry_run=boolean(env, "DRY_RUN", default=True),
            idle_window_hours=window,
            protection_tag_key=tag_key,
            protected_values=values,
            summary_topic_arn=topic,
            business_hours=BusinessHours(
                timezone=parse.parse_timezone("BUSINESS_TIMEZONE", text(env, "BUSINESS_TIMEZONE", "America/New_York")),
                days=parse.parse_business_days("BUSINESS_DAYS", text(env, "BUSINESS_DAYS", "MON-FRI")),
                start_hour=integer(env, "BUSINESS_START_HOUR", 9, 0, 23),
            ),
            resume_lead_minutes=integer(env, "SCHEDULE_RESUME_LEAD_MINUTES", 60, 0, 24 * 60),
            # Lambda sets it; it names who suspended a schedule in the endpoint's tags.
            detector_name=text(env, "AWS_LAMBDA_FUNCTION_NAME", "idle-detector"),
        )

