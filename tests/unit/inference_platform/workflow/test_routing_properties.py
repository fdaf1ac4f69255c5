"""Property tests for the routing contract (docs/workflow.md): every invariant is stated in words first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inference_platform.workflow.routing import (
    VALID_MODES,
    InferenceStrategy,
    RoutingContext,
    is_business_hours,
    resolve_inference_strategy,
)

EXAMPLES = settings(max_examples=150)
FORCED = {
    "batch": InferenceStrategy.BATCH_TRANSFORM,
    "provisioned": InferenceStrategy.PROVISIONED_ENDPOINT,
    "serverless": InferenceStrategy.SERVERLESS_INFERENCE,
}
KNOWN_TIMEZONES = frozenset(available_timezones())
TIMEZONES = sorted(tz for tz in KNOWN_TIMEZONES if tz.count("/") <= 2)[:400] or ["UTC"]

ANY_MODE = st.sampled_from(VALID_MODES)


@st.composite
def valid_contexts(draw, mode=ANY_MODE) -> RoutingContext:
    return RoutingContext(
        file_count=draw(st.integers(min_value=0, max_value=10_000_000)),
        batch_threshold=draw(st.integers(min_value=1, max_value=10_000_000)),
        requested_mode=draw(mode),
        current_hour=draw(st.integers(min_value=0, max_value=23)),
        is_business_hours=draw(st.booleans()),
        provisioned_enabled=draw(st.booleans()),
        serverless_enabled=draw(st.booleans()),
    )


def enabled(ctx: RoutingContext, strategy: InferenceStrategy) -> bool:
    return {
        InferenceStrategy.BATCH_TRANSFORM: True,
        InferenceStrategy.PROVISIONED_ENDPOINT: ctx.provisioned_enabled,
        InferenceStrategy.SERVERLESS_INFERENCE: ctx.serverless_enabled,
    }[strategy]


@EXAMPLES
@given(valid_contexts())
def test_total_over_valid_inputs(ctx):
    """Totality: every valid context yields one of the three strategies, never an exception."""
    assert resolve_inference_strategy(ctx) in set(InferenceStrategy)


@EXAMPLES
@given(valid_contexts())
def test_deterministic(ctx):
    """Determinism: the same context (even rebuilt field by field) always yields the same strategy."""
    rebuilt = RoutingContext(**{name: getattr(ctx, name) for name in ctx.__dataclass_fields__})
    assert resolve_inference_strategy(ctx) is resolve_inference_strategy(rebuilt) is resolve_inference_strategy(ctx)


@EXAMPLES
@given(valid_contexts(mode=st.sampled_from(sorted(FORCED))))
def test_forced_modes_win(ctx):
    """Forced modes win: a requested batch/provisioned/serverless path is used whatever the file count,
    threshold or hour, as long as the deployment has it; otherwise the request goes to batch."""
    wanted = FORCED[ctx.requested_mode]
    expected = wanted if enabled(ctx, wanted) else InferenceStrategy.BATCH_TRANSFORM
    assert resolve_inference_strategy(ctx) is expected


@EXAMPLES
@given(valid_contexts(mode=st.just("auto")), st.integers(min_value=0, max_value=10_000_000))
def test_auto_mode_uses_batch_at_or_above_threshold(ctx, extra):
    """Batch at/above threshold: in auto mode, file_count >= batch_threshold always means batch transform."""
    at_or_above = RoutingContext(**{**ctx.__dict__, "file_count": ctx.batch_threshold + extra})
    assert resolve_inference_strategy(at_or_above) is InferenceStrategy.BATCH_TRANSFORM


@EXAMPLES
@given(valid_contexts(mode=st.just("auto")))
def test_auto_mode_below_threshold_prefers_real_time(ctx):
    """Below the threshold, auto mode picks the path for the hour (provisioned in business hours,
    serverless outside) when it is enabled, the other real-time path next, and batch only when
    neither real-time path exists."""
    below = RoutingContext(**{**ctx.__dict__, "file_count": min(ctx.file_count, ctx.batch_threshold - 1)})
    preferred, other = (
        (InferenceStrategy.PROVISIONED_ENDPOINT, InferenceStrategy.SERVERLESS_INFERENCE)
        if below.is_business_hours
        else (InferenceStrategy.SERVERLESS_INFERENCE, InferenceStrategy.PROVISIONED_ENDPOINT)
    )
    expected = next((s for s in (preferred, other) if enabled(below, s)), InferenceStrategy.BATCH_TRANSFORM)
    assert resolve_inference_strategy(below) is expected


@EXAMPLES
@given(valid_contexts())
def test_never_a_disabled_path(ctx):
    """Never a disabled path: whatever is requested, a path this deployment does not have is never returned
    (batch transform needs no standing endpoint and is always available)."""
    assert enabled(ctx, resolve_inference_strategy(ctx))


@EXAMPLES
@given(valid_contexts(mode=st.just("auto")), st.integers(min_value=0, max_value=1000))
def test_more_files_never_leave_batch(ctx, more):
    """Monotonic in file count: once auto mode chooses batch, more files never bring it back to real time."""
    if resolve_inference_strategy(ctx) is InferenceStrategy.BATCH_TRANSFORM and ctx.file_count >= ctx.batch_threshold:
        bigger = RoutingContext(**{**ctx.__dict__, "file_count": ctx.file_count + more})
        assert resolve_inference_strategy(bigger) is InferenceStrategy.BATCH_TRANSFORM


INVALID_FIELDS = st.one_of(
    st.tuples(st.just("file_count"), st.integers(max_value=-1)),
    st.tuples(st.just("file_count"), st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.booleans())),
    st.tuples(st.just("batch_threshold"), st.integers(max_value=0)),
    st.tuples(st.just("batch_threshold"), st.one_of(st.floats(), st.none(), st.booleans())),
    st.tuples(st.just("current_hour"), st.one_of(st.integers(max_value=-1), st.integers(min_value=24))),
    st.tuples(st.just("current_hour"), st.one_of(st.floats(), st.text(max_size=2))),
    st.tuples(st.just("requested_mode"), st.text(max_size=12).filter(lambda m: m not in VALID_MODES)),
    st.tuples(st.just("requested_mode"), st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2))),
    st.tuples(st.just("is_business_hours"), st.one_of(st.integers(), st.text(max_size=3), st.none())),
    st.tuples(st.just("provisioned_enabled"), st.one_of(st.integers(), st.text(max_size=3), st.none())),
    st.tuples(st.just("serverless_enabled"), st.one_of(st.integers(), st.text(max_size=3), st.none())),
)


@EXAMPLES
@given(valid_contexts(), INVALID_FIELDS)
def test_invalid_input_raises_value_error_naming_the_field(ctx, bad):
    """ValueError over invalid inputs: one bad field in an otherwise valid context raises ValueError, and
    the message names that field, so the caller knows what to fix."""
    field, value = bad
    broken = RoutingContext(**{**ctx.__dict__, field: value})
    with pytest.raises(ValueError, match=field):
        resolve_inference_strategy(broken)


# --- business hours ---------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
weekday_sets = st.sets(st.integers(min_value=0, max_value=6), max_size=7).map(lambda s: tuple(sorted(s)))
hour_windows = st.tuples(st.integers(0, 23), st.integers(1, 24)).filter(lambda w: w[0] < w[1])


@EXAMPLES
@given(instants, st.sampled_from(TIMEZONES), weekday_sets, hour_windows, st.sampled_from(TIMEZONES))
def test_business_hours_depend_only_on_the_instant(now, zone, days, window, other_zone):
    """The same instant written in any timezone gets the same answer, and a True answer means the local
    clock of the business timezone is on a business day inside [start, end)."""
    start, end = window
    answer = is_business_hours(now, zone, days, start, end)
    assert answer == is_business_hours(now.astimezone(ZoneInfo(other_zone)), zone, days, start, end)
    local = now.astimezone(ZoneInfo(zone))
    assert answer == (local.weekday() in days and start <= local.hour < end)


@EXAMPLES
@given(instants, st.sampled_from(TIMEZONES))
def test_no_business_days_means_never_business_hours(now, zone):
    """With no business days configured, no instant is ever inside business hours."""
    assert not is_business_hours(now, zone, (), 0, 24)
    assert is_business_hours(now, zone, tuple(range(7)), 0, 24)


@EXAMPLES
@given(instants, st.text(min_size=1, max_size=20).filter(lambda z: z not in KNOWN_TIMEZONES))
def test_unknown_timezone_is_a_value_error_naming_timezone(now, zone):
    """An unknown timezone name raises ValueError that says 'timezone', never a ZoneInfo internal error."""
    with pytest.raises(ValueError, match="timezone"):
        is_business_hours(now, zone)


@EXAMPLES
@given(instants, st.one_of(st.tuples(st.integers(max_value=-1), st.integers(1, 24)),
                           st.tuples(st.integers(0, 23), st.integers(min_value=25)),
                           st.tuples(st.integers(0, 24), st.integers(0, 24)).filter(lambda w: w[0] >= w[1])))
def test_bad_hours_are_a_value_error_naming_the_hours(now, window):
    """Start/end hours outside 0-24, or a window that ends before it starts, raise ValueError naming the hours."""
    with pytest.raises(ValueError, match="start_hour"):
        is_business_hours(now, "UTC", (0,), *window)


def test_naive_datetime_is_rejected():
    """A naive datetime has no instant: refuse it rather than guess the server's timezone."""
    with pytest.raises(ValueError, match="now"):
        is_business_hours(datetime(2026, 7, 1, 12, 0), "UTC")
    assert is_business_hours(datetime(2026, 7, 1, 12, 0, tzinfo=UTC) + timedelta(0), "UTC")


@EXAMPLES
@given(instants, st.lists(st.integers(0, 6), max_size=3),
       st.one_of(st.integers(max_value=-1), st.integers(min_value=7)))
def test_weekday_outside_monday_to_sunday_is_a_value_error(now, good_days, bad_day):
    """Weekdays use Python's numbering (Monday=0 ... Sunday=6); anything else is a ValueError naming weekdays."""
    with pytest.raises(ValueError, match="weekdays"):
        is_business_hours(now, "UTC", (*good_days, bad_day))
