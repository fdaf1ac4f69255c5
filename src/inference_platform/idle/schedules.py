"""Suspended scheduled scaling is never forgotten: who suspended it, when and why, and when it comes back.

When the idle detector suspends an endpoint's scheduled scaling, it records the suspension as tags on the
endpoint (``SUSPENDED_BY_TAG``, ``SUSPENDED_AT_TAG``, ``SUSPENDED_WHY_TAG``; visible in the console and in
``ListTags``). Every later scan resumes the schedules it suspended, and only those, as soon as

- the endpoint is active again (it had invocations within the idle window), or
- the next business-hours start after the suspension is less than ``resume_lead`` away, so the business
  hours' scale-out action (Application Auto Scaling does not replay a missed action) runs as planned.

Around every business-hours start (``resume_lead`` before it to ``resume_lead`` after it) the detector
suspends nothing, so a schedule it just gave back is not taken again before the scale-out has happened.
With an hourly scan and a lead of one hour, no suspension lasts past the next business-hours start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SUSPENDED_BY_TAG = "idle-detector:schedules-suspended-by"
SUSPENDED_AT_TAG = "idle-detector:schedules-suspended-at"
SUSPENDED_WHY_TAG = "idle-detector:schedules-suspended-why"
RECORD_TAGS = (SUSPENDED_BY_TAG, SUSPENDED_AT_TAG, SUSPENDED_WHY_TAG)
_TAG_UNSAFE = re.compile(r"[^\w .:/=+\-@]")  # SageMaker tag values: letters, digits, spaces and _ . : / = + - @


@dataclass(frozen=True)
class BusinessHours:
    """When business hours start: local hour ``start_hour`` on ``days`` (Monday=0) in ``timezone``."""

    timezone: str = "America/New_York"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start_hour: int = 9

    def next_start(self, after: datetime) -> datetime:
        """The first business-hours start strictly after ``after`` (an aware datetime), in UTC."""
        zone = ZoneInfo(self.timezone)
        local = after.astimezone(zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            start = datetime(day.year, day.month, day.day, self.start_hour, tzinfo=zone)
            if day.weekday() in self.days and start > local:
                return start.astimezone(UTC)
        raise ValueError(f"no business day in {self.days!r}")  # the settings parser refuses an empty list


@dataclass(frozen=True)
class Suspension:
    endpoint: str
    suspended_by: str
    suspended_at: datetime
    why: str

    def tags(self) -> list[dict[str, str]]:
        return [
            {"Key": SUSPENDED_BY_TAG, "Value": _tag_value(self.suspended_by)},
            {"Key": SUSPENDED_AT_TAG, "Value": self.suspended_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
            {"Key": SUSPENDED_WHY_TAG, "Value": _tag_value(self.why)},
        ]


def _tag_value(text: str) -> str:
    return _TAG_UNSAFE.sub("-", text)[:256]


def recorded_suspension(endpoint: str, tags: Mapping[str, str]) -> Suspension | None:
    """The suspension this detector recorded on the endpoint, or None (none, or one it cannot read: then
    ``suspended_at`` is taken as long ago, so the schedules are given back at once)."""
    if SUSPENDED_AT_TAG not in tags:
        return None
    try:
        at = datetime.strptime(tags[SUSPENDED_AT_TAG], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        at = datetime(2000, 1, 1, tzinfo=UTC)
    return Suspension(endpoint, tags.get(SUSPENDED_BY_TAG, "unknown"), at, tags.get(SUSPENDED_WHY_TAG, ""))


def resume_reason(suspension: Suspension, *, now: datetime, active: bool, hours: BusinessHours,
                  resume_lead: timedelta) -> str | None:
    """Why the suspended schedules must come back now, or None to keep them suspended."""
    if active:
        return "the endpoint is active again"
    start = hours.next_start(suspension.suspended_at)
    if now >= start - resume_lead:
        return f"business hours start at {start.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return None


def may_suspend(now: datetime, hours: BusinessHours, resume_lead: timedelta) -> bool:
    """False within ``resume_lead`` of a business-hours start (before or after it)."""
    upcoming = hours.next_start(now - resume_lead)
    return not upcoming - resume_lead <= now < upcoming + resume_lead
