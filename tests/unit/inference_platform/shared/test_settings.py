"""The one settings parser: each bad value is one ConfigError naming the setting the reader knows."""

from __future__ import annotations

import pytest

from inference_platform.shared import settings
from inference_platform.shared.settings import ConfigError


def test_business_days_accept_lists_and_ranges():
    assert settings.parse_business_days("BUSINESS_DAYS", "MON-FRI") == (0, 1, 2, 3, 4)
    assert settings.parse_business_days("BUSINESS_DAYS", "sat-sun,wed") == (2, 5, 6)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: settings.parse_business_days("Parameters.BusinessDays", "FRI-MON"), "Parameters.BusinessDays: range"),
    (lambda: settings.parse_business_days("BUSINESS_DAYS", "MON-FRY"), "BUSINESS_DAYS: 'MON-FRY' is not a day"),
    (lambda: settings.parse_timezone("BusinessTimezone", "Mars/Olympus"), "BusinessTimezone: unknown time zone"),
    (lambda: settings.parse_integer("Capacity", "4.5", 1, 10), "Capacity must be a whole number, got '4.5'"),
    (lambda: settings.parse_integer("Capacity", "11", 1, 10), "Capacity must be between 1 and 10, got 11"),
    (lambda: settings.parse_business_hours("Start", "18", "End", "9"), r"End \(9\) must be after Start \(18\)"),
    (lambda: settings.parse_prefix("InputPrefix", "/abs/"), "InputPrefix must not start with '/'"),
    (lambda: settings.parse_prefixes("In", "", "Out", "output/"), "Out 'output/' must not be inside In ''"),
    (lambda: settings.one_of("Mode", "fast", ("a", "b")), "Mode must be one of a, b, got 'fast'"),
])
def test_bad_values_name_the_setting(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_environment_readers_apply_defaults_and_refuse_blanks_where_required():
    env = {"SET": " value ", "BLANK": "  ", "FLAG": "Yes", "N": "7"}
    assert settings.text(env, "SET") == "value"
    assert settings.text(env, "BLANK", "fallback") == "fallback"
    assert settings.boolean(env, "FLAG", default=False) is True
    assert settings.boolean(env, "MISSING", default=True) is True
    assert settings.integer(env, "N", 1, 0, 10) == 7
    assert settings.integer(env, "MISSING", 3, 0, 10) == 3
    with pytest.raises(ConfigError, match="BLANK is required"):
        settings.required(env, "BLANK")
    with pytest.raises(ConfigError, match="SET must be true or false"):
        settings.boolean(env, "SET", default=True)


def test_config_error_is_a_value_error_so_callers_catching_value_error_still_do():
    assert issubclass(ConfigError, ValueError)
