"""Route: bounded listing, routing from the template's settings, a small result, clear config errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from inference_platform.handlers import route
from inference_platform.workflow.config import RouteConfig
from inference_platform.workflow.listing import list_keys_up_to
from inference_platform.workflow.route import decide, route_request
from inference_platform_ops.emulator.lambdas import EmulatedLambdaContext
from tests.helpers.workflow_harness import aws

BUCKET = "route-input"
ENV = {
    "INPUT_LOCATION": BUCKET, "INPUT_PREFIX": "in/", "OUTPUT_PREFIX": "out/", "BATCH_THRESHOLD": "5",
    "BUSINESS_TIMEZONE": "America/New_York", "BUSINESS_START_HOUR": "9", "BUSINESS_END_HOUR": "18",
    "BUSINESS_DAYS": "MON-FRI", "PROVISIONED_ENDPOINT_NAME": "prov", "SERVERLESS_ENDPOINT_NAME": "sls",
}
WEDNESDAY_NOON_NY = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
WEDNESDAY_NIGHT_NY = datetime(2026, 7, 2, 3, 0, tzinfo=UTC)


class CountingS3:
    """A real moto S3 client that also counts ListObjectsV2 pages and the keys they returned."""

    def __init__(self, s3):
        self._s3, self.pages, self.keys_listed = s3, 0, 0

    def list_objects_v2(self, **kwargs):
        page = self._s3.list_objects_v2(**kwargs)
        self.pages += 1
        self.keys_listed += len(page.get("Contents", []))
        return page

    def __getattr__(self, name):
        return getattr(self._s3, name)


@pytest.fixture
def s3():
    with mock_aws():
        client = aws("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def put(s3, count: int, prefix: str = "in/") -> None:
    for i in range(count):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}f{i:05d}", Body=b"{}")


def config(**overrides) -> RouteConfig:
    return RouteConfig.from_env({**ENV, **overrides})


def test_listing_stops_at_the_threshold_instead_of_counting_everything(s3):
    put(s3, 120)
    counting = CountingS3(s3)

    listing = list_keys_up_to(counting, BUCKET, "in/", 5)

    assert listing.limit_reached and len(listing.keys) == 5
    assert (counting.pages, counting.keys_listed) == (1, 5)


def test_listing_pages_through_when_the_threshold_is_above_one_page(s3):
    # 10-key pages stand in for S3's 1,000-key pages (same code path, 100x fewer objects to create).
    put(s3, 42)
    counting = CountingS3(s3)

    listing = list_keys_up_to(counting, BUCKET, "in/", 25, page_size=10)

    assert listing.limit_reached and len(listing.keys) == 25 and counting.pages == 3
    assert counting.keys_listed == 25  # the last page asked for the 5 still needed, not 10
    full = list_keys_up_to(s3, BUCKET, "in/", 500, page_size=10)
    assert not full.limit_reached and len(full.keys) == 42
    with pytest.raises(ValueError, match="page_size"):
        list_keys_up_to(s3, BUCKET, "in/", 5, page_size=5000)


def test_folder_markers_are_not_files(s3):
    s3.put_object(Bucket=BUCKET, Key="in/", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="in/sub/", Body=b"")
    put(s3, 2)
    assert list_keys_up_to(s3, BUCKET, "in/", 10).keys == ("in/f00000", "in/f00001")


@pytest.mark.parametrize(
    ("now", "mode", "overrides", "expected"),
    [
        (WEDNESDAY_NOON_NY, "auto", {}, "provisioned_endpoint"),
        (WEDNESDAY_NIGHT_NY, "auto", {}, "serverless_inference"),
        (WEDNESDAY_NOON_NY, "auto", {"PROVISIONED_ENDPOINT_NAME": ""}, "serverless_inference"),
        (WEDNESDAY_NIGHT_NY, "auto", {"SERVERLESS_ENDPOINT_NAME": ""}, "provisioned_endpoint"),
        (WEDNESDAY_NOON_NY, "serverless", {"SERVERLESS_ENDPOINT_NAME": ""}, "batch_transform"),
        (datetime(2026, 7, 4, 16, 0, tzinfo=UTC), "auto", {}, "serverless_inference"),  # Saturday
        (datetime(2026, 7, 4, 16, 0, tzinfo=UTC), "auto", {"BUSINESS_DAYS": "MON-SUN"}, "provisioned_endpoint"),
    ],
)
def test_decision_follows_template_settings(now, mode, overrides, expected):
    assert decide(config(**overrides), mode, 2, False, now).strategy.value == expected


def test_route_counts_only_up_to_the_threshold_and_never_lists_keys_into_the_state(s3):
    put(s3, 3)
    small = route_request(s3, config(), {"mode": "serverless"}, "exec-1", WEDNESDAY_NOON_NY)
    assert (small["strategy"], small["file_count"], small["file_count_is_lower_bound"]) == \
        ("serverless_inference", 3, False)

    put(s3, 10)
    big = route_request(s3, config(), {}, "exec-2", WEDNESDAY_NOON_NY)
    assert (big["strategy"], big["file_count"], big["file_count_is_lower_bound"]) == ("batch_transform", 5, True)
    assert len(json.dumps(big)) < 400  # a few fields, whatever the number of files


def test_outputs_and_folder_markers_are_not_counted_as_inputs(s3):
    s3.put_object(Bucket=BUCKET, Key="in/", Body=b"")
    put(s3, 2)
    listing = list_keys_up_to(s3, BUCKET, "", 10, exclude_prefix="out/")
    s3.put_object(Bucket=BUCKET, Key="out/in/f00000.out", Body=b"{}")
    assert list_keys_up_to(s3, BUCKET, "", 10, exclude_prefix="out/").keys == listing.keys == ("in/f00000", "in/f00001")


def test_handler_reads_its_settings_from_the_environment(s3, monkeypatch):
    put(s3, 1)
    for name, value in {**ENV, "BATCH_THRESHOLD": "1"}.items():
        monkeypatch.setenv(name, value)
    context = EmulatedLambdaContext("route", "arn:aws:lambda:us-east-1:123456789012:function:route")

    result = route.handler({"request": {"mode": "auto"}, "execution_name": "e"}, context)

    assert result["strategy"] == "batch_transform" and result["file_count"] == 1


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"INPUT_LOCATION": ""}, "INPUT_LOCATION"),
        ({"BATCH_THRESHOLD": "many"}, "BATCH_THRESHOLD"),
        ({"BATCH_THRESHOLD": "0"}, "BATCH_THRESHOLD"),
        ({"BUSINESS_TIMEZONE": "Mars/Base"}, "BUSINESS_TIMEZONE"),
        ({"BUSINESS_START_HOUR": "25"}, "BUSINESS_START_HOUR"),
        ({"BUSINESS_START_HOUR": "18", "BUSINESS_END_HOUR": "9"}, "BUSINESS_END_HOUR"),
        ({"BUSINESS_DAYS": "MON-FUNDAY"}, "BUSINESS_DAYS"),
        ({"BUSINESS_DAYS": "FRI-MON"}, "BUSINESS_DAYS"),
        ({"INPUT_PREFIX": "/abs"}, "INPUT_PREFIX"),
        ({"INPUT_PREFIX": "data/", "OUTPUT_PREFIX": "data/results/"}, "OUTPUT_PREFIX"),
        ({"INPUT_PREFIX": "", "OUTPUT_PREFIX": "results/"}, "OUTPUT_PREFIX"),
    ],
)
def test_bad_configuration_names_the_variable(overrides, variable):
    with pytest.raises(ValueError, match=variable):
        config(**overrides)


@pytest.mark.parametrize(("request_body", "cause"), [
    ({"mode": "fastest"}, "mode must be one of auto, batch, provisioned, serverless, got 'fastest'"),
    ({"mode": 3}, "mode must be one of auto, batch, provisioned, serverless, got 3"),
    ({"mdoe": "batch"}, "the execution input has the unknown field 'mdoe' (did you mean 'mode'?); accepted fields: "
                        "mode"),
    (["auto"], "the execution input must be a JSON object such as {} or {\"mode\": \"batch\"}, got list"),
    (None, "the execution input must be a JSON object such as {} or {\"mode\": \"batch\"}, got null"),
])
def test_a_bad_request_is_refused_in_the_inputs_own_terms(s3, request_body, cause):
    """A misspelt field is never silently ignored, the error names the input's field (mode, not
    requested_mode), and Route answers instead of raising: the execution fails with this cause, no trace."""
    put(s3, 1)
    answer = route_request(s3, config(), request_body, "e", WEDNESDAY_NOON_NY)
    assert (answer["strategy"], answer["error"], answer["cause"]) == ("invalid_input", "InvalidExecutionInput", cause)


def test_execution_name_is_required(s3):
    with pytest.raises(ValueError, match="execution_name"):
        route_request(s3, config(), {}, "", WEDNESDAY_NOON_NY)


# --- scale to zero, the hour-of-week plan, the front door's keys and hand-over ------------------------------

def test_a_component_at_zero_copies_is_never_chosen(s3):
    """Business hours would pick provisioned; with the component at 0 copies the request goes to serverless,
    and with no serverless endpoint to batch. The copy count is asked only when provisioned would be chosen."""
    asked = []

    def copies(answer):
        return lambda: asked.append(answer) or answer

    assert decide(config(), "auto", 2, False, WEDNESDAY_NOON_NY,
                  provisioned_has_capacity=copies(False)).strategy.value == "serverless_inference"
    assert decide(config(SERVERLESS_ENDPOINT_NAME=""), "auto", 2, False, WEDNESDAY_NOON_NY,
                  provisioned_has_capacity=copies(False)).strategy.value == "batch_transform"
    assert decide(config(), "auto", 2, False, WEDNESDAY_NOON_NY,
                  provisioned_has_capacity=copies(True)).strategy.value == "provisioned_endpoint"
    assert decide(config(), "auto", 2, False, WEDNESDAY_NIGHT_NY,
                  provisioned_has_capacity=copies(True)).strategy.value == "serverless_inference"
    assert asked == [False, False, True]  # never asked at night: serverless was chosen without it


def week_plan(default: str, **hours: str) -> list[str]:
    """A 168-hour plan (local Monday 00:00 first); ``hours`` maps 'h<hour of week>' to a choice."""
    plan = [default] * 168
    for key, choice in hours.items():
        plan[int(key[1:])] = choice
    return plan


WEDNESDAY_NOON_HOUR = 2 * 24 + 12  # local hour of week of WEDNESDAY_NOON_NY


def test_the_cost_policy_follows_the_published_plan_and_the_default_policy_ignores_it():
    plan = week_plan("serverless", h60="batch")
    cost = config(ROUTING_POLICY="cost", STATE_TABLE_NAME="state")
    assert decide(cost, "auto", 2, False, WEDNESDAY_NOON_NY, plan=plan).strategy.value == "batch_transform"
    assert decide(cost, "auto", 2, False, WEDNESDAY_NOON_NY,
                  plan=week_plan("serverless")).strategy.value == "serverless_inference"
    assert decide(cost, "auto", 2, False, WEDNESDAY_NIGHT_NY,
                  plan=week_plan("provisioned")).strategy.value == "provisioned_endpoint"
    # No plan yet (first week): the business-hours rule; an explicit mode always wins over the plan.
    assert decide(cost, "auto", 2, False, WEDNESDAY_NOON_NY, plan=None).strategy.value == "provisioned_endpoint"
    assert decide(cost, "serverless", 2, False, WEDNESDAY_NOON_NY,
                  plan=week_plan("batch")).strategy.value == "serverless_inference"
    # The default policy never reads a plan, whatever is published.
    assert decide(config(), "auto", 2, False, WEDNESDAY_NOON_NY, plan=plan).strategy.value == "provisioned_endpoint"


def test_a_planned_path_that_is_off_is_never_taken():
    """The plan says provisioned but this stack has no provisioned endpoint (or its component is at zero)."""
    cost = config(ROUTING_POLICY="cost", STATE_TABLE_NAME="state", PROVISIONED_ENDPOINT_NAME="")
    assert decide(cost, "auto", 2, False, WEDNESDAY_NOON_NY,
                  plan=week_plan("provisioned")).strategy.value == "serverless_inference"
    cost = config(ROUTING_POLICY="cost", STATE_TABLE_NAME="state")
    assert decide(cost, "auto", 2, False, WEDNESDAY_NOON_NY, plan=week_plan("provisioned"),
                  provisioned_has_capacity=lambda: False).strategy.value == "serverless_inference"


@pytest.mark.parametrize("plan", [["serverless"] * 167, ["serverless"] * 167 + ["gpu"]])
def test_a_malformed_plan_is_an_error_naming_its_shape(plan):
    with pytest.raises(ValueError, match="168 hours"):
        decide(config(ROUTING_POLICY="cost", STATE_TABLE_NAME="state"), "auto", 2, False, WEDNESDAY_NOON_NY,
               plan=plan)


def test_the_cost_policy_needs_the_state_table_holding_its_plan():
    with pytest.raises(ValueError, match="STATE_TABLE_NAME"):
        config(ROUTING_POLICY="cost", STATE_TABLE_NAME="")
    with pytest.raises(ValueError, match="ROUTING_POLICY"):
        config(ROUTING_POLICY="cheapest")


def test_the_front_door_gets_the_keys_of_a_small_real_time_request_only(s3):
    put(s3, 3)
    small = route_request(s3, config(), {"mode": "serverless"}, "e", WEDNESDAY_NOON_NY, list_keys_up_to=3)
    assert small["keys"] == ["in/f00000", "in/f00001", "in/f00002"]
    # More files than the front door runs itself, a batch decision, or the pipeline (no bound): no keys.
    for request_body, bound in (({"mode": "serverless"}, 2), ({"mode": "batch"}, 3), ({"mode": "serverless"}, None)):
        assert route_request(s3, config(), request_body, "e", WEDNESDAY_NOON_NY, list_keys_up_to=bound)["keys"] is None
    with pytest.raises(ValueError, match="list_keys_up_to must be 1-200"):
        route_request(s3, config(), {}, "e", WEDNESDAY_NOON_NY, list_keys_up_to=201)


@pytest.mark.parametrize(("request_body", "accepted"), [
    ({"mode": "batch", "replaces": "front-1", "fallback_reason": {"Error": "States.Timeout"}}, True),
    ({"mode": "serverless", "replaces": "front-1", "fallback_reason": {}}, False),  # hand-over is batch only
    ({"mode": "batch", "replaces": "front-1"}, False),  # both fields together
    ({"mode": "batch", "replaces": "", "fallback_reason": {}}, False),
    ({"mode": "batch", "replaces": "x" * 81, "fallback_reason": {}}, False),
])
def test_the_front_doors_hand_over_fields_are_accepted_only_as_a_batch_hand_over(s3, request_body, accepted):
    put(s3, 1)
    answer = route_request(s3, config(), request_body, "e", WEDNESDAY_NOON_NY)
    assert (answer["strategy"] == "batch_transform") is accepted
    assert (answer["strategy"] == "invalid_input") is not accepted
    if not accepted:
        assert "replaces and fallback_reason" in answer["cause"]
