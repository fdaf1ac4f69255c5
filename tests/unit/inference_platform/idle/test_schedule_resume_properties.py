"""Suspended schedules are never left suspended past a business-hours start, over any sequence of hours.

The scan decides with ``resume_reason`` (give back?) and ``may_suspend`` (take?) exactly as
``inference_platform.idle.scan.run_scan`` does; here an hourly scan runs over two random weeks of random
traffic, business days, start hour, time zone and minute of the hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from inference_platform.idle.schedules import BusinessHours, Suspension, may_suspend, resume_reason

LEAD = timedelta(hours=1)  # one scan interval: the default SCHEDULE_RESUME_LEAD_MINUTES
HOURS = 24 * 14


def business_starts(hours: BusinessHours, start: datetime, end: datetime) -> list[datetime]:
    found, at = [], start
    while (at := hours.next_start(at)) <= end:
        found.append(at)
    return found


@settings(max_examples=60, deadline=None)
@given(
    timezone=st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"]),
    days=st.sets(st.integers(0, 6), min_size=1).map(lambda d: tuple(sorted(d))),
    start_hour=st.integers(0, 23),
    first_scan=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)),
    traffic=st.lists(st.booleans(), min_size=HOURS, max_size=HOURS),
)
def test_no_suspension_outlives_the_next_business_start_or_new_traffic(timezone, days, start_hour, first_scan,
                                                                       traffic):
    """Invariants, in words: (1) at every business-hours start, the schedules are not suspended (they were
    given back by the scan in the hour before it); (2) a scan that sees traffic leaves them not suspended;
    (3) every suspension ends, at the latest at the first scan within the lead of the next business start."""
    hours = BusinessHours(timezone, days, start_hour)
    suspended_at: datetime | None = None
    suspended_intervals: list[tuple[datetime, datetime]] = []
    now = first_scan
    for active in traffic:
        given_back = False
        if suspended_at is not None:
            record = Suspension("e", "idle-detector", suspended_at, "idle")
            if resume_reason(record, now=now, active=active, hours=hours, resume_lead=LEAD) is not None:
                suspended_intervals.append((suspended_at, now))
                suspended_at, given_back = None, True
        if suspended_at is None and not given_back and not active and may_suspend(now, hours, LEAD):
            suspended_at = now
        assert not (active and suspended_at is not None)  # (2)
        if suspended_at is not None:
            assert now < hours.next_start(suspended_at)  # (3): never still suspended at its next start
        now += timedelta(hours=1)
    last_scan = now - timedelta(hours=1)
    if suspended_at is not None:
        suspended_intervals.append((suspended_at, last_scan + timedelta(hours=1)))
    for start in business_starts(hours, first_scan, last_scan):  # (1)
        assert not any(taken <= start < given for taken, given in suspended_intervals), start
