"""Settings of the workflow Lambdas, read once per invocation from the environment the template sets.

Each Lambda has a frozen dataclass with ``from_env()``; a missing or malformed variable raises
``ConfigError`` (a ``ValueError``, from :mod:`inference_platform.shared.settings`) naming the variable, so a
broken deployment fails on its first request with a message that says what to fix instead of half-working.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from inference_platform.shared import settings
from inference_platform.shared.settings import integer, required, text


def _prefixes(env: Mapping[str, str]) -> tuple[str, str]:
    return settings.parse_prefixes("INPUT_PREFIX", env.get("INPUT_PREFIX", ""),
                                   "OUTPUT_PREFIX", env.get("OUTPUT_PREFIX", ""))


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
    provisioned_inference_component: str = ""  # scale to zero: route there only while it has a copy
    routing_policy: str = "business-hours"  # or "cost": the hour-of-week plan in the state table
    state_table: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RouteConfig:
        timezone = settings.parse_timezone("BUSINESS_TIMEZONE", text(env, "BUSINESS_TIMEZONE", "America/New_York"))
        start, end = settings.parse_business_hours("BUSINESS_START_HOUR", text(env, "BUSINESS_START_HOUR", "9"),
                                                   "BUSINESS_END_HOUR", text(env, "BUSINESS_END_HOUR", "18"))
        input_prefix, output_prefix = _prefixes(env)
        return cls(
            input_location=required(env, "INPUT_LOCATION"),
            input_prefix=input_prefix,
            output_prefix=output_prefix,
            batch_threshold=integer(env, "BATCH_THRESHOLD", 1000, 1, 100_000),
            timezone=timezone,
            business_start_hour=start,
            business_end_hour=end,
            business_days=settings.parse_business_days("BUSINESS_DAYS", text(env, "BUSINESS_DAYS", "MON-FRI")),
            provisioned_endpoint=text(env, "PROVISIONED_ENDPOINT_NAME"),
            serverless_endpoint=text(env, "SERVERLESS_ENDPOINT_NAME"),
            provisioned_inference_component=text(env, "PROVISIONED_INFERENCE_COMPONENT_NAME"),
            routing_policy=_routing_policy(env),
            state_table=_state_table_for_policy(env),
        )


ROUTING_POLICIES = ("business-hours", "cost")


def _routing_policy(env: Mapping[str, str]) -> str:
    return settings.one_of("ROUTING_POLICY", text(env, "ROUTING_POLICY", "business-hours"), ROUTING_POLICIES)


def _state_table_for_policy(env: Mapping[str, str]) -> str:
    if _routing_policy(env) == "cost":
        return required(env, "STATE_TABLE_NAME")  # the plan lives there
    return text(env, "STATE_TABLE_NAME")


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
    inference_components: Mapping[str, str] = field(default_factory=dict)  # target -> component ("" = none)
    state_table: str = ""  # where a fallback marks a request cancelled
    connect_timeout_s: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> InvokeConfig:
        input_prefix, output_prefix = _prefixes(env)
        return cls(
            input_location=required(env, "INPUT_LOCATION"),
            input_prefix=input_prefix,
            output_prefix=output_prefix,
            endpoints={
                "provisioned": text(env, "PROVISIONED_ENDPOINT_NAME"),
                "serverless": text(env, "SERVERLESS_ENDPOINT_NAME"),
            },
            secondary_region=text(env, "SECONDARY_REGION"),
            secondary_endpoints={
                "provisioned": text(env, "SECONDARY_PROVISIONED_ENDPOINT_NAME"),
                "serverless": text(env, "SECONDARY_SERVERLESS_ENDPOINT_NAME"),
            },
            content_type=text(env, "CONTENT_TYPE", "application/json"),
            read_timeout_s=integer(env, "ENDPOINT_READ_TIMEOUT_SECONDS", 35, 1, 900),
            connect_timeout_s=integer(env, "ENDPOINT_CONNECT_TIMEOUT_SECONDS", 2, 1, 60),
            inference_components={"provisioned": text(env, "PROVISIONED_INFERENCE_COMPONENT_NAME"), "serverless": ""},
            state_table=text(env, "STATE_TABLE_NAME"),
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
    invoke_files_execution_prefix: str = ""  # arn:...:execution:<invoke-files state machine>

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> StartBatchConfig:
        input_prefix, output_prefix = _prefixes(env)
        location = required(env, "INPUT_LOCATION")
        if location.startswith("arn:"):
            raise ValueError(f"INPUT_LOCATION {location!r} is an access point ARN: batch transform's S3Uri needs the "
                             "bucket name or the access point alias")
        return cls(
            input_location=location,
            input_prefix=input_prefix,
            output_prefix=output_prefix,
            model_name=required(env, "MODEL_NAME"),
            instance_type=required(env, "TRANSFORM_INSTANCE_TYPE"),
            instance_count=integer(env, "TRANSFORM_INSTANCE_COUNT", 1, 1, 100),
            content_type=text(env, "CONTENT_TYPE", "application/json"),
            state_table=required(env, "STATE_TABLE_NAME"),
            job_name_prefix=required(env, "JOB_NAME_PREFIX"),
            token_ttl_days=integer(env, "TOKEN_TTL_DAYS", 7, 1, 365),
            environment=required(env, "ENVIRONMENT"),
            invoke_files_execution_prefix=text(env, "INVOKE_FILES_EXECUTION_PREFIX"),
        )


@dataclass(frozen=True)
class CallbackConfig:
    state_table: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> CallbackConfig:
        return cls(state_table=required(env, "STATE_TABLE_NAME"))
