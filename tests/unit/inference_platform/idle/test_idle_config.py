"""Idle detector settings: defaults, and a clear error naming the bad variable."""

from __future__ import annotations

import dataclasses

import pytest

from inference_platform.idle.config import AutoStopAction, ConfigError, IdleDetectorSettings


def test_defaults_are_safe():
    settings = IdleDetectorSettings.from_env({"ENVIRONMENT": "staging"})

    assert settings.auto_stop_action is AutoStopAction.SCALE_DOWN
    assert settings.dry_run is True
    assert settings.idle_window_hours == 24
    assert settings.protection_tag_key == "ProtectionLevel"
    assert settings.protected_values == frozenset({"critical"})
    assert settings.summary_topic_arn == ""


def test_everything_read_from_env():
    settings = IdleDetectorSettings.from_env(
        {
            "ENVIRONMENT": "production",
            "AUTO_STOP_ACTION": "disable_schedules",
            "DRY_RUN": "False",
            "IDLE_WINDOW_HOURS": " 72 ",
            "PROTECTION_TAG_KEY": "Tier",
            "PROTECTED_VALUES": "Critical, regulated ,,",
            "SUMMARY_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:idle",
        }
    )

    assert settings.is_production
    assert settings.auto_stop_action is AutoStopAction.DISABLE_SCHEDULES
    assert settings.dry_run is False
    assert settings.idle_window_hours == 72
    assert settings.protected_values == frozenset({"critical", "regulated"})
    assert settings.is_protected_value(" REGULATED")
    assert not settings.is_protected_value(None)


def test_settings_are_frozen():
    settings = IdleDetectorSettings.from_env({"ENVIRONMENT": "dev"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.dry_run = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "ENVIRONMENT"),
        ({"ENVIRONMENT": "prod"}, "ENVIRONMENT"),
        ({"AUTO_STOP_ACTION": "stop"}, "AUTO_STOP_ACTION"),
        ({"DRY_RUN": "maybe"}, "DRY_RUN"),
        ({"IDLE_WINDOW_HOURS": "1.5"}, "IDLE_WINDOW_HOURS"),
        ({"IDLE_WINDOW_HOURS": "0"}, "IDLE_WINDOW_HOURS"),
        ({"IDLE_WINDOW_HOURS": "5000"}, "IDLE_WINDOW_HOURS"),
        ({"PROTECTION_TAG_KEY": " "}, "PROTECTION_TAG_KEY"),
        ({"PROTECTED_VALUES": " , "}, "PROTECTED_VALUES"),
        ({"SUMMARY_TOPIC_ARN": "my-topic"}, "SUMMARY_TOPIC_ARN"),
    ],
)
def test_bad_setting_named_in_the_error(env, variable):
    full = {"ENVIRONMENT": "dev", **env} if variable != "ENVIRONMENT" else env
    with pytest.raises(ConfigError, match=variable):
        IdleDetectorSettings.from_env(full)


def test_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "local")
    monkeypatch.setenv("DRY_RUN", "false")
    assert IdleDetectorSettings.from_env().dry_run is False


def test_handler_fails_fast_naming_the_bad_variable(monkeypatch):
    from inference_platform.handlers import idle_detector

    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.setenv("AUTO_STOP_ACTION", "terminate")
    with pytest.raises(ConfigError, match="AUTO_STOP_ACTION must be one of scale_down, disable_schedules, delete"):
        idle_detector.handler({}, None)


def test_business_hours_and_resume_lead_come_from_the_environment():
    from inference_platform.idle.schedules import BusinessHours

    settings = IdleDetectorSettings.from_env({
        "ENVIRONMENT": "dev", "BUSINESS_TIMEZONE": "Europe/Berlin", "BUSINESS_DAYS": "MON,WED-FRI",
        "BUSINESS_START_HOUR": "7", "SCHEDULE_RESUME_LEAD_MINUTES": "90",
        "AWS_LAMBDA_FUNCTION_NAME": "ml-inference-dev-idle-detector"})

    assert settings.business_hours == BusinessHours("Europe/Berlin", (0, 2, 3, 4), 7)
    assert settings.resume_lead_minutes == 90
    assert settings.detector_name == "ml-inference-dev-idle-detector"


@pytest.mark.parametrize(("name", "value"), [
    ("BUSINESS_TIMEZONE", "Mars/Olympus"), ("BUSINESS_DAYS", "MON-FUN"), ("BUSINESS_START_HOUR", "25"),
    ("SCHEDULE_RESUME_LEAD_MINUTES", "-5"),
])
def test_bad_business_hours_setting_names_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        IdleDetectorSettings.from_env({"ENVIRONMENT": "dev", name: value})
