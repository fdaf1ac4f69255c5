"""Settings of the workflow Lambdas, read once per invocation from the environment the template sets.

Each Lambda has a frozen dataclass with ``from_env()``; a missing or malformed variable raises
``ValueError`` naming the variable, so a broken deployment fails on its first request with a
message that says what to fix instead of half-working.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ValueError(f"environment variable {name} is required and is empty or missing")
    return value


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ValueError(f"environment variable {name} must be between {low} and {high}, got {value}")
    return value


def parse_business_days(spec: str) -> tuple[int, ...]:
    """``"MON-FRI"``, ``"MON,WED,FRI"`` or ``"SAT-SUN,WED"`` -> Python weekday numbers (Monday=0)."""
    days: set[int] = set()
    for part in spec.upper().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"BUSINESS_DAYS: {part!r} is not a day or range of {', '.join(DAY_NAMES)}")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        if end < start:
            raise ValueError(f"BUSINESS_DAYS: range {part!r} runs backwards")
        days.update(range(start, end + 1))
    return tuple(sorted(days))


def _prefix(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if value.startswith("/"):
        raise ValueError(f"environment variable {name} must not start with '/', got {value!r}")
    return value


def _prefixes(env: Mapping[str, str]) -> tuple[str, str]:
    """INPUT_PREFIX and OUTPUT_PREFIX; outputs inside the input would be read back as new inputs (and fed
    to the next batch transform job over the input prefix)."""
    input_prefix, output_prefix = _prefix(env, "INPUT_PREFIX"), _prefix(env, "OUTPUT_PREFIX")
    if output_prefix.startswith(input_prefix):
        raise ValueError(f"OUTPUT_PREFIX {output_prefix!r} must not be inside INPUT_PREFIX {input_prefix!r}: "
                         "results would be read back as inputs")
    return input_prefix, output_prefix


@dataclass(frozen=True)
class RouteConfig:
    input_location: str
    input_prefix: str
    output_prefix: str
    batch_threshold: int
    timezone: str
    business_start_hour: int
    business_end_hour: int
    business_days: tuple[int, ...]
    provisioned_endpoint: str
    serverless_endpoint: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RouteConfig:
        timezone = env.get("BUSINESS_TIMEZONE", "").strip() or "America/New_York"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"environment variable BUSINESS_TIMEZONE: unknown timezone {timezone!r}") from exc
        start = _integer(env, "BUSINESS_START_HOUR", 9, 0, 23)
        end = _integer(env, "BUSINESS_END_HOUR", 18, 1, 24)
        if end <= start:
            raise ValueError(f"BUSINESS_END_HOUR ({end}) must be after BUSINESS_START_HOUR ({start})")
        input_prefix, output_prefix = _prefixes(env)
        return cls(
            input_location=_required(env, "INPUT_LOCATION"),
            input_prefix=input_prefix,
            output_prefix=output_prefix,
            batch_threshold=_integer(env, "BATCH_THRESHOLD", 1000, 1, 100_000),
            timezone=timezone,
            business_start_hour=start,
            business_end_hour=end,
            business_days=parse_business_days(env.get("BUSINESS_DAYS", "").strip() or "MON-FRI"),
            provisioned_endpoint=env.get("PROVISIONED_ENDPOINT_NAME", "").strip(),
            serverless_endpoint=env.get("SERVERLESS_ENDPOINT_NAME", "").strip(),
        )


@dataclass(frozen=True)
class InvokeConfig:
    input_location: str
    input_prefix: str
    output_prefix: str
    endpoints: Mapping[str, str]  # target ("provisioned" | "serverless") -> endpoint name
    secondary_region: str
    secondary_endpoints: Mapping[str, str]
    content_type: str
    read_timeout_s: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> InvokeConfig:
        input_prefix, output_prefix = _prefixes(env)
        return cls(
            input_location=_required(env, "INPUT_LOCATION"),
            input_prefix=input_prefix,
            output_prefix=output_prefix,
            endpoints={
                "provisioned": env.get("PROVISIONED_ENDPOINT_NAME", "").strip(),
                "serverless": env.get("SERVERLESS_ENDPOINT_NAME", "").strip(),
            },
            secondary_region=env.get("SECONDARY_REGION", "").strip(),
            secondary_endpoints={
                "provisioned": env.get("SECONDARY_PROVISIONED_ENDPOINT_NAME", "").strip(),
                "serverless": env.get("SECONDARY_SERVERLESS_ENDPOINT_NAME", "").strip(),
            },
            content_type=env.get("CONTENT_TYPE", "").strip() or "application/json",
            read_timeout_s=_integer(env, "ENDPOINT_READ_TIMEOUT_SECONDS", 65, 1, 900),
        )


@dataclass(frozen=True)
class StartBatchConfig:
    input_location: str
    input_prefix: str
    output_prefix: str
    model_name: str
    instance_type: str
    instance_count: int
    content_type: str
    state_table: str
    job_name_prefix: str
    token_ttl_days: int
    environment: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> StartBatchConfig:
        input_prefix, output_prefix = _prefixes(env)
        return cls(
            input_location=_required(env, "INPUT_LOCATION"),
            input_prefix=input_prefix,
            output_prefix=output_prefix,
            model_name=_required(env, "MODEL_NAME"),
            instance_type=_required(env, "TRANSFORM_INSTANCE_TYPE"),
            instance_count=_integer(env, "TRANSFORM_INSTANCE_COUNT", 1, 1, 100),
            content_type=env.get("CONTENT_TYPE", "").strip() or "application/json",
            state_table=_required(env, "STATE_TABLE_NAME"),
            job_name_prefix=_required(env, "JOB_NAME_PREFIX"),
            token_ttl_days=_integer(env, "TOKEN_TTL_DAYS", 7, 1, 365),
            environment=_required(env, "ENVIRONMENT"),
        )


@dataclass(frozen=True)
class CallbackConfig:
    state_table: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> CallbackConfig:
        return cls(state_table=_required(env, "STATE_TABLE_NAME"))
