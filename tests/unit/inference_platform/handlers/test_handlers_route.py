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
