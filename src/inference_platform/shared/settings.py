"""Reading settings: one error type, and one parser per kind of value, shared by every Lambda and the deploy.

Each parser takes the value's *name* as the user knows it (``BUSINESS_TIMEZONE`` in a Lambda's environment,
``templates/params/staging.json: Parameters.BusinessTimezone`` in the deploy pre-check) so the same check
gives each reader a message that names what to fix. ``ConfigError`` is a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inference_platform.shared.constants import WEEKDAY_NAMES

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message is one line and names the setting."""


def text(env: Mapping[str, str], name: str, default: str = "") -> str:
    """The stripped value of ``name``, or ``default`` when it is unset or blank."""
    return env.get(name, "").strip() or default


def required(env: Mapping[str, str], name: str) -> str:
    value = text(env, name)
    if not value:
        raise ConfigError(f"{name} is required and is empty or missing")
    return value


def parse_integer(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return parse_integer(name, text(env, name, str(default)), low, high)


def boolean(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = text(env, name).lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def one_of(name: str, raw: str, allowed: Iterable[str]) -> str:
    choices = tuple(allowed)
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def parse_timezone(name: str, raw: str) -> str:
    """An IANA time zone name that this Python (and its tzdata) knows."""
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}: unknown time zone {raw!r} (use an IANA name such as America/New_York)") from None
    return raw


def parse_business_days(name: str, raw: str) -> tuple[int, ...]:
    """``"MON-FRI"``, ``"MON,WED,FRI"`` or ``"SAT-SUN,WED"`` -> Python weekday numbers (Monday=0)."""
    days: set[int] = set()
    for part in raw.upper().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAY_NAMES or (last and last not in WEEKDAY_NAMES):
            raise ConfigError(f"{name}: {part!r} is not a day or range of {', '.join(WEEKDAY_NAMES)}")
        start, end = WEEKDAY_NAMES.index(first), WEEKDAY_NAMES.index(last or first)
        if end < start:
            raise ConfigError(f"{name}: range {part!r} runs backwards")
        days.update(range(start, end + 1))
    return tuple(sorted(days))


def parse_business_hours(start_name: str, start_raw: str, end_name: str, end_raw: str) -> tuple[int, int]:
    """[start, end) local hours: start 0-23, end 1-24 and after start."""
    start = parse_integer(start_name, start_raw, 0, 23)
    end = parse_integer(end_name, end_raw, 1, 24)
    if end <= start:
        raise ConfigError(f"{end_name} ({end}) must be after {start_name} ({start})")
    return start, end


def parse_prefix(name: str, raw: str) -> str:
    value = raw.strip()
    if value.startswith("/"):
        raise ConfigError(f"{name} must not start with '/', got {value!r}")
    return value


def parse_prefixes(input_name: str, input_raw: str, output_name: str, output_raw: str) -> tuple[str, str]:
    """Input and output prefixes; outputs inside the input would be read back as new inputs (and fed to the
    next batch transform job over the input prefix)."""
    input_prefix, output_prefix = parse_prefix(input_name, input_raw), parse_prefix(output_name, output_raw)
    if output_prefix.startswith(input_prefix):
        raise ConfigError(f"{output_name} {output_prefix!r} must not be inside {input_name} {input_prefix!r}: "
                          "results would be read back as inputs")
    return input_prefix, output_prefix
