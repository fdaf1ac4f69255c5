"""The idle-endpoint detector against moto: what gets scaled, suspended, deleted or left alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import SageMakerModelBackend

from inference_platform.handlers import idle_detector
from inference_platform.idle import inventory as idle_inventory
from inference_platform.idle.config import AutoStopAction, IdleDetectorSettings
from inference_platform.idle.scan import AwsClients
from inference_platform.idle.scan import run_scan as scan_endpoints
from inference_platform.idle.schedules import SUSPENDED_AT_TAG, SUSPENDED_BY_TAG, SUSPENDED_WHY_TAG, Suspension
from inference_platform.shared import pricing
from inference_platform.shared.clients import ClientOptions
from inference_platform_ops.bench.idle_detector import (
    CallCounter,
    EndpointSpec,
    VariantSpec,
    fleet_snapshot,
    seed_fleet,
)
from inference_platform_ops.emulator.search_paging import paged_search
from inference_platform_ops.iam import recorder
from tests.helpers.template_loader import TEMPLATES

REGION = "us-east-1"
# The idle detector function of templates/params/local.json: the permission contract checks every call it makes.
IDLE_DETECTOR = recorder.Principal("lambda", "ml-inference-local-idle-detector", REGION, "123456789012")


def run_scan(aws, config: IdleDetectorSettings, now, *args, **kwargs):
    """The scan, made as the deployed idle detector (AutoStopAction as the settings say)."""
    with recorder.world("local", TEMPLATES, AutoStopAction=str(config.auto_stop_action)), \
            recorder.acting_as(IDLE_DETECTOR):
        return scan_endpoints(aws, config, now, *args, **kwargs)


@pytest.fixture(scope="module", autouse=True)
def search_pages_like_sagemaker():
    """moto answers Search in one page; SageMaker pages it (see inference_platform_ops.emulator.search_paging)."""
    with paged_search():
        yield


def settings(
    action: AutoStopAction = AutoStopAction.SCALE_DOWN, *, dry_run: bool = False, **kw
) -> IdleDetectorSettings:
    # No resume lead unless a test asks: the wall clock (``now``) must not decide whether a test may suspend.
    kw.setdefault("resume_lead_minutes", 0)
    return IdleDetectorSettings(kw.pop("environment", "dev"), action, dry_run=dry_run, **kw)


@pytest.fixture
def now():
    return datetime.now(UTC)


_SHARED_CLIENTS: list[AwsClients] = []


def shared_clients() -> AwsClients:
    """One set of clients for the whole module: creating boto3 clients costs more than a small scan.
    moto intercepts them in every test's own mock_aws(), so each test still starts from empty state."""
    if not _SHARED_CLIENTS:
        _SHARED_CLIENTS.append(AwsClients.for_region(REGION))
    return _SHARED_CLIENTS[0]


@pytest.fixture
def aws():
    with mock_aws():
        yield shared_clients()


@pytest.fixture
def on_call():
    """Register a botocore event handler on a shared client for this test only."""
    registered = []

    def register(client, event: str, handler) -> None:
        client.meta.events.register(event, handler)
        registered.append((client, event, handler))

    yield register
    for client, event, handler in registered:
        client.meta.events.unregister(event, handler)


def seed(specs: list[EndpointSpec], now: datetime) -> None:
    seed_fleet(specs, now, clients=shared_clients())


def snapshot(names: list[str]) -> dict:
    return fleet_snapshot(names, clients=shared_clients())


def idle(name: str, *variants: VariantSpec, **kw) -> EndpointSpec:
    return EndpointSpec(name, variants or (VariantSpec("AllTraffic", instances=3),), **kw)


def busy(name: str, **kw) -> EndpointSpec:
    return EndpointSpec(name, (VariantSpec("AllTraffic", instances=3, invocations=42.0),), **kw)


def counts(name: str) -> dict | None:
    """Live instance count per variant, None once the endpoint is gone (SageMaker reads only)."""
    sm = shared_clients().sagemaker
    if name not in {e["EndpointName"] for e in sm.list_endpoints(MaxResults=100)["Endpoints"]}:
        return None
    return {
        v["VariantName"]: v.get("CurrentInstanceCount")
        for v in sm.describe_endpoint(EndpointName=name)["ProductionVariants"]
    }


def target(endpoint: str, variant: str = "AllTraffic") -> tuple:
    return snapshot([endpoint])[f"endpoint/{endpoint}/variant/{variant}"]


def by_endpoint(entries: list[dict]) -> dict[str, dict]:
    return {e["endpoint"]: e for e in entries}


# --- what is idle -------------------------------------------------------------------------------


def test_idle_endpoint_scaled_to_one_and_busy_one_untouched(aws, now):
    seed([idle("quiet"), busy("busy")], now)

    summary = run_scan(aws, settings(), now)

    assert counts("quiet") == {"AllTraffic": 1}
    assert counts("busy") == {"AllTraffic": 3}
    assert summary["scanned"] == 2
    assert summary["active"] == 1
    assert summary["idle"] == ["quiet"]
    action = by_endpoint(summary["actions"])["quiet"]
    assert action["action"] == "scale_down"
    assert action["applied"] is True
    assert action["variants"] == [{"variant": "AllTraffic", "instance_type": "ml.m5.large", "from": 3, "to": 1}]
    assert action["hourly_savings_usd"] == pytest.approx(2 * pricing.instance_hour_price(REGION, "ml.m5.large"))
    assert summary["errors"] == []


def test_every_variant_counts_not_just_alltraffic(aws, now):
    """Traffic on the second variant alone keeps the endpoint active."""
    seed(
        [
            idle(
                "ab-test",
                VariantSpec("Blue", instances=2, invocations=0.0),
                VariantSpec("Green", instances=2, invocations=5.0),
            )
        ],
        now,
    )

    summary = run_scan(aws, settings(), now)

    assert summary["idle"] == []
    assert summary["active"] == 1
    assert counts("ab-test") == {"Blue": 2, "Green": 2}


def test_all_variants_of_an_idle_endpoint_scaled_in_one_update(aws, now):
    seed([idle("two", VariantSpec("Blue", instances=4), VariantSpec("Green", instances=2, invocations=0.0))], now)

    summary = run_scan(aws, settings(), now)

    assert counts("two") == {"Blue": 1, "Green": 1}
    assert {v["variant"] for v in summary["actions"][0]["variants"]} == {"Blue", "Green"}


def test_endpoint_younger_than_window_is_not_idle(aws, now):
    seed([idle("newborn", age_hours=3)], now)

    summary = run_scan(aws, settings(idle_window_hours=24), now)

    assert summary["idle"] == []
    assert counts("newborn") == {"AllTraffic": 3}
    assert "younger than the 24 h idle window" in by_endpoint(summary["skipped"])["newborn"]["reason"]


def test_traffic_before_the_window_does_not_count(aws, now):
    """A datapoint older than the window is ignored: the endpoint is idle now."""
    seed([idle("was-busy")], now)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "was-busy"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Value": 900.0,
                "Timestamp": now - timedelta(hours=30),
            }
        ],
    )

    summary = run_scan(aws, settings(idle_window_hours=24), now)

    assert summary["idle"] == ["was-busy"]


def test_serverless_endpoint_is_skipped(aws, now):
    seed([idle("srv", VariantSpec("AllTraffic", instances=0))], now)

    summary = run_scan(aws, settings(), now)

    assert summary["actions"] == []
    assert "serverless" in by_endpoint(summary["skipped"])["srv"]["reason"]


def test_variant_that_never_had_traffic_is_measured_with_the_others(aws, now):
    """No metric at all on one variant (never invoked) does not hide traffic on the other."""
    seed([idle("half-new", VariantSpec("Blue", instances=2), VariantSpec("Green", instances=2, invocations=9.0))], now)

    summary = run_scan(aws, settings(), now)

    assert summary["idle"] == []
    assert summary["active"] == 1
    assert counts("half-new") == {"Blue": 2, "Green": 2}


def test_endpoint_not_in_service_is_not_scanned(aws, now):
    """An endpoint being updated (or failed) is no idle capacity to stop."""
    from moto.sagemaker.models import sagemaker_backends

    seed([idle("updating"), idle("steady")], now)
    sagemaker_backends["123456789012"][REGION].endpoints["updating"].endpoint_status = "Updating"

    summary = run_scan(aws, settings(), now)

    assert summary["scanned"] == 1
    assert summary["idle"] == ["steady"]
    assert counts("updating") == {"AllTraffic": 3}


class _Http:
    def __init__(self, status_code: int = 200) -> None:
        self.status_code = status_code
        self.headers: dict = {}


# --- protection and actions ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["critical", "Critical ", "regulated"])
def test_protected_endpoint_is_never_touched(aws, now, value):
    seed([idle("precious", VariantSpec("AllTraffic", instances=3, scalable_target=True), tags={"Tier": value})], now)
    before = snapshot(["precious"])
    config = settings(
        AutoStopAction.DELETE, protection_tag_key="Tier", protected_values=frozenset({"critical", "regulated"})
    )

    summary = run_scan(aws, config, now)

    assert snapshot(["precious"]) == before
    assert summary["idle"] == ["precious"]
    assert summary["actions"] == []
    assert "protected by tag Tier" in by_endpoint(summary["skipped"])["precious"]["reason"]


def test_scale_down_suspends_scheduled_scaling_keeping_min_max_and_other_flags(aws, now):
    seed([idle("sched", VariantSpec("AllTraffic", instances=3, scalable_target=True, min_capacity=1))], now)
    boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/sched/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=6,
        SuspendedState={"DynamicScalingInSuspended": True},
    )

    summary = run_scan(aws, settings(), now)

    assert counts("sched") == {"AllTraffic": 1}
    min_cap, max_cap, suspended = target("sched")
    assert (min_cap, max_cap) == (1, 6)
    assert suspended == {
        "DynamicScalingInSuspended": True,
        "DynamicScalingOutSuspended": False,
        "ScheduledScalingSuspended": True,
    }
    assert summary["actions"][0]["schedules_suspended"] == ["endpoint/sched/variant/AllTraffic"]


def test_scale_down_notes_a_minimum_above_the_floor(aws, now):
    seed([idle("min2", VariantSpec("AllTraffic", instances=3, scalable_target=True, min_capacity=2))], now)

    summary = run_scan(aws, settings(), now)

    assert any("MinCapacity 2" in n for n in summary["actions"][0]["notes"])


def test_disable_schedules_only_suspends(aws, now):
    seed(
        [
            idle("with-target", VariantSpec("AllTraffic", instances=3, scalable_target=True)),
            idle("no-target"),
        ],
        now,
    )

    summary = run_scan(aws, settings(AutoStopAction.DISABLE_SCHEDULES), now)

    assert counts("with-target") == {"AllTraffic": 3}
    assert target("with-target")[2]["ScheduledScalingSuspended"] is True
    assert by_endpoint(summary["actions"])["with-target"]["hourly_savings_usd"] == 0
    assert "no Application Auto Scaling target" in by_endpoint(summary["skipped"])["no-target"]["reason"]


def test_delete_removes_an_idle_dev_endpoint(aws, now):
    seed([idle("scratch", tags={"Environment": "dev"})], now)

    summary = run_scan(aws, settings(AutoStopAction.DELETE), now)

    assert counts("scratch") is None
    action = summary["actions"][0]
    assert action["action"] == "delete"
    assert action["hourly_savings_usd"] == pytest.approx(3 * pricing.instance_hour_price(REGION, "ml.m5.large"))


@pytest.mark.parametrize(
    ("environment", "tags", "reason"),
    [
        ("production", {}, "ENVIRONMENT=production"),
        ("dev", {"Environment": "Production"}, "tagged Environment=production"),
        ("dev", {"aws:cloudformation:stack-name": "ml-inference-dev-Endpoints"}, "CloudFormation stack"),
    ],
)
def test_delete_refused_scales_down_instead_and_says_why(aws, now, environment, tags, reason):
    seed([idle("keep-me", tags=tags)], now)

    summary = run_scan(aws, settings(AutoStopAction.DELETE, environment=environment), now)

    assert counts("keep-me") == {"AllTraffic": 1}
    action = summary["actions"][0]
    assert (action["action"], action["requested_action"]) == ("scale_down", "delete")
    assert reason in action["notes"][0]
    assert "scaled down instead" in action["notes"][0]


def test_dry_run_reports_and_changes_nothing(aws, now):
    specs = [
        idle("a", VariantSpec("AllTraffic", instances=3, scalable_target=True)),
        idle("b", tags={"Environment": "dev"}),
    ]
    seed(specs, now)
    before = snapshot(["a", "b"])

    summary = run_scan(aws, settings(AutoStopAction.DELETE, dry_run=True), now)

    assert snapshot(["a", "b"]) == before
    assert summary["dry_run"] is True
    assert {a["endpoint"]: a["applied"] for a in summary["actions"]} == {"a": False, "b": False}
    assert summary["acted"] == 0
    assert summary["estimated_hourly_savings_usd"] > 0


def test_endpoint_at_its_floor_is_not_stopped_again(aws, now):
    seed(
        [
            idle("floor", VariantSpec("AllTraffic", instances=1)),
            idle("floor-sched", VariantSpec("AllTraffic", instances=1, scalable_target=True)),
        ],
        now,
    )

    summary = run_scan(aws, settings(), now)

    assert "already at its floor" in by_endpoint(summary["skipped"])["floor"]["reason"]
    action = by_endpoint(summary["actions"])["floor-sched"]
    assert action["variants"] == []
    assert action["hourly_savings_usd"] == 0
    assert target("floor-sched")[2]["ScheduledScalingSuspended"] is True
    # The second run finds nothing left to do.
    again = run_scan(aws, settings(), now)
    assert again["actions"] == []
    assert again["estimated_hourly_savings_usd"] == 0


def test_savings_come_from_live_count_not_config(aws, now):
    seed([idle("grown", VariantSpec("AllTraffic", instances=2, instance_type="ml.g4dn.xlarge"))], now)
    aws.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="grown", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 5}]
    )

    summary = run_scan(aws, settings(), now)

    assert summary["actions"][0]["variants"][0]["from"] == 5
    assert summary["actions"][0]["hourly_savings_usd"] == pytest.approx(4 * 0.7364)


def test_unknown_price_is_not_guessed(aws, now):
    seed([idle("odd", VariantSpec("AllTraffic", instances=2, instance_type="ml.p3.2xlarge"))], now)

    summary = run_scan(aws, settings(), now)

    action = summary["actions"][0]
    assert action["hourly_savings_usd"] is None
    assert any("ml.p3.2xlarge" in n for n in action["notes"])
    assert counts("odd") == {"AllTraffic": 1}


# --- failures stay local ------------------------------------------------------------------------


def _fail_for(monkeypatch, method: str, endpoint: str, code: str, message: str) -> None:
    original = getattr(SageMakerModelBackend, method)

    def failing(self, endpoint_name, *args, **kwargs):
        if endpoint_name == endpoint:
            raise JsonRESTError(code, message)
        return original(self, endpoint_name, *args, **kwargs)

    monkeypatch.setattr(SageMakerModelBackend, method, failing)


def test_one_failing_endpoint_is_recorded_and_the_scan_goes_on(aws, now, monkeypatch):
    seed([idle("denied"), idle("fine")], now)
    _fail_for(monkeypatch, "update_endpoint_weights_and_capacities", "denied", "AccessDeniedException", "not allowed")

    summary = run_scan(aws, settings(), now)

    assert summary["errors"] == [
        {
            "endpoint": "denied",
            "operation": "UpdateEndpointWeightsAndCapacities",
            "error": "AccessDeniedException: not allowed",
        }
    ]
    assert counts("denied") == {"AllTraffic": 3}
    assert counts("fine") == {"AllTraffic": 1}
    assert [a["endpoint"] for a in summary["actions"]] == ["fine"]


def test_endpoint_deleted_after_search_listed_it_is_an_error_for_it_alone(aws, now, on_call):
    """Search is eventually consistent: an endpoint deleted moments ago may still be listed."""
    seed([idle("gone"), idle("fine")], now)
    deleter = boto3.client("sagemaker", region_name=REGION)

    def delete_behind_the_index(**_kwargs):
        with recorder.unrecorded():  # someone else deletes it, not the idle detector
            if counts("gone") is not None:
                deleter.delete_endpoint(EndpointName="gone")

    on_call(aws.sagemaker, "after-call.sagemaker.Search", delete_behind_the_index)
    summary = run_scan(aws, settings(), now)

    error = by_endpoint(summary["errors"])["gone"]
    assert error["operation"] == "UpdateEndpointWeightsAndCapacities"
    assert "gone" in error["error"]
    assert counts("fine") == {"AllTraffic": 1}
    assert summary["idle"] == ["fine", "gone"]


def test_throttling_is_retried_then_recorded(now, monkeypatch):
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _s: None)  # keep the retry backoff instant
    with mock_aws():
        clients = AwsClients.for_region(REGION, ClientOptions(max_attempts=3))
        seed([idle("hot"), idle("cool")], now)
        _fail_for(monkeypatch, "update_endpoint_weights_and_capacities", "hot", "ThrottlingException", "Rate exceeded")

        summary = run_scan(clients, settings(), now)

        error = by_endpoint(summary["errors"])["hot"]
        assert error["operation"] == "UpdateEndpointWeightsAndCapacities"
        assert "ThrottlingException" in error["error"]
        assert error["error"].endswith("(after 2 retries)")
        assert counts("cool") == {"AllTraffic": 1}
        assert [a["endpoint"] for a in summary["actions"]] == ["cool"]


def test_failed_metric_batch_marks_its_endpoints_and_keeps_the_rest(aws, now, monkeypatch, on_call):
    monkeypatch.setattr(idle_inventory, "INVOCATION_QUERIES_PER_CALL", 1)
    seed([busy("a-busy"), idle("b-idle", VariantSpec("AllTraffic", instances=2, invocations=0.0))], now)
    calls = {"n": 0}

    def fail_first_batch(**_kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            return (
                _Http(500),
                {
                    "Error": {"Code": "InternalServiceError", "Message": "boom"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
            )
        return None

    on_call(aws.cloudwatch, "before-call.cloudwatch.GetMetricData", fail_first_batch)
    summary = run_scan(aws, settings(), now)

    assert by_endpoint(summary["errors"])["a-busy"]["operation"] == "GetMetricData"
    assert summary["idle"] == ["b-idle"]
    assert counts("a-busy") == {"AllTraffic": 3}


# --- efficiency ---------------------------------------------------------------------------------


def test_no_endpoint_is_described_and_everything_is_paged(aws, now, monkeypatch):
    monkeypatch.setattr(idle_inventory, "SEARCH_RESULTS_PER_PAGE", 4)
    monkeypatch.setattr(idle_inventory, "INVOCATION_QUERIES_PER_CALL", 5)
    monkeypatch.setattr(idle_inventory, "TARGET_IDS_PER_CALL", 2)
    specs = [busy(f"busy-{i:02d}") for i in range(15)] + [
        idle(f"idle-{i}", VariantSpec("AllTraffic", instances=2, scalable_target=True)) for i in range(3)
    ]
    seed(specs, now)
    counter = CallCounter(aws.sagemaker, aws.cloudwatch, aws.autoscaling)
    try:
        summary = run_scan(aws, settings(dry_run=True), now)
    finally:
        counter.detach()

    assert summary["scanned"] == 18
    assert summary["active"] == 15
    assert summary["idle"] == ["idle-0", "idle-1", "idle-2"]
    assert counter.calls == {
        "sagemaker:Search": 5,  # 18 endpoints, pages of 4
        "cloudwatch:GetMetricData": 4,  # 18 variants, 5 per call
        "application-autoscaling:DescribeScalableTargets": 2,  # 3 idle variants, 2 per call
        "sagemaker:DescribeEndpointConfig": 3,  # one per config of an endpoint that would be scaled down
    }


def test_endpoint_configs_are_read_once_and_only_for_endpoints_that_stop_instances(aws, now):
    seed(
        [
            idle("shared-a", shared_config="shared"),
            idle("shared-b", shared_config="shared"),
            idle("at-floor", VariantSpec("AllTraffic", instances=1)),
            idle("guarded", tags={"ProtectionLevel": "critical"}),
            busy("busy"),
        ],
        now,
    )
    counter = CallCounter(aws.sagemaker)
    try:
        summary = run_scan(aws, settings(), now)
    finally:
        counter.detach()

    assert counter.calls["sagemaker:DescribeEndpointConfig"] == 1  # "shared", for both endpoints
    assert counter.calls["sagemaker:UpdateEndpointWeightsAndCapacities"] == 2
    assert {a["endpoint"] for a in summary["actions"]} == {"shared-a", "shared-b"}
    assert all(a["hourly_savings_usd"] > 0 for a in summary["actions"])


# --- handler: metrics and the SNS summary ---------------------------------------------------------


def test_handler_emits_metrics_and_publishes_the_summary(now, monkeypatch, capsys):
    with mock_aws():
        seed([idle("quiet"), busy("busy"), idle("precious", tags={"ProtectionLevel": "critical"})], now)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="ml-inference-local-idle-summary")["TopicArn"]  # the local deployment's
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        for key, value in {
            "ENVIRONMENT": "staging",
            "AUTO_STOP_ACTION": "scale_down",
            "DRY_RUN": "false",
            "IDLE_WINDOW_HOURS": "24",
            "SUMMARY_TOPIC_ARN": topic,
        }.items():
            monkeypatch.setenv(key, value)

        with recorder.world("local", TEMPLATES), recorder.acting_as(IDLE_DETECTOR):
            result = idle_detector.handler({"source": "aws.events"}, None)

        message = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert json.loads(json.dumps(result)) == result  # JSON-serialisable
    assert {"scanned", "idle", "actions", "skipped", "errors", "dry_run"} <= set(result)
    assert message["idle"] == ["precious", "quiet"]
    assert message["actions"][0]["endpoint"] == "quiet"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    metric_values = {
        k: (v[0] if isinstance(v, list) else v)
        for blob in emf
        for k, v in blob.items()
        if k[0].isupper() and k != "Environment"
    }
    assert metric_values["EndpointsScanned"] == 3
    assert metric_values["EndpointsIdle"] == 2
    assert metric_values["EndpointsActedOn"] == 1
    assert metric_values["ScanErrors"] == 0
    assert emf[0]["Environment"] == "staging"


def test_publish_failure_is_recorded_not_raised(now):
    with mock_aws():
        clients = AwsClients.for_region(REGION)
        summary = idle_detector.detect(
            settings(summary_topic_arn=f"arn:aws:sns:{REGION}:123456789012:missing"), clients, now
        )
    assert summary["errors"][-1]["operation"] == "Publish"


def test_oversized_summary_is_cut_to_fit_sns():
    summary = {
        "idle": [f"endpoint-{i:06d}-{'x' * 200}" for i in range(2000)],
        "actions": [],
        "skipped": [],
        "errors": [],
    }

    message = idle_detector.summary_message(summary)

    assert len(message.encode()) < 256 * 1024
    decoded = json.loads(message)
    assert decoded["idle_total"] == 2000
    assert len(decoded["idle"]) == 50
    assert "truncated" in decoded


def test_partial_failure_says_what_was_already_done(aws, now, monkeypatch):
    seed([idle("half", VariantSpec("AllTraffic", instances=3, scalable_target=True))], now)
    _fail_for(monkeypatch, "update_endpoint_weights_and_capacities", "half", "AccessDeniedException", "no scaling")

    summary = run_scan(aws, settings(), now)

    error = by_endpoint(summary["errors"])["half"]
    assert error["operation"] == "UpdateEndpointWeightsAndCapacities"
    assert ("already done: recorded the suspension in the endpoint's tags; suspended scheduled scaling of "
            "endpoint/half/variant/AllTraffic") in error["error"]
    assert counts("half") == {"AllTraffic": 3}
    assert summary["actions"] == []


def test_unreadable_scalable_targets_stop_all_actions(aws, now, on_call):
    seed([idle("one"), idle("two")], now)

    def deny(**_kwargs):
        return (_Http(400), {"Error": {"Code": "AccessDeniedException", "Message": "no describe"}})

    on_call(aws.autoscaling, "before-call.application-autoscaling.DescribeScalableTargets", deny)
    summary = run_scan(aws, settings(), now)

    assert {e["endpoint"] for e in summary["errors"]} == {"one", "two"}
    assert counts("one") == {"AllTraffic": 3}
    assert counts("two") == {"AllTraffic": 3}


def test_unreadable_endpoint_config_is_an_error_for_its_endpoints_only(aws, now, monkeypatch):
    seed([idle("shared-a", shared_config="shared"), idle("shared-b", shared_config="shared"), idle("own")], now)
    original = SageMakerModelBackend.describe_endpoint_config

    def failing(self, endpoint_config_name):
        if endpoint_config_name == "shared":
            raise JsonRESTError("AccessDeniedException", "config hidden")
        return original(self, endpoint_config_name)

    monkeypatch.setattr(SageMakerModelBackend, "describe_endpoint_config", failing)
    summary = run_scan(aws, settings(), now)

    assert {e["endpoint"]: e["operation"] for e in summary["errors"]} == {
        "shared-a": "DescribeEndpointConfig",
        "shared-b": "DescribeEndpointConfig",
    }
    assert counts("own") == {"AllTraffic": 1}


def test_unreadable_metrics_touch_nothing_and_name_every_endpoint(aws, now, on_call):
    seed([idle("one"), idle("two", VariantSpec("AllTraffic", instances=2, invocations=0.0))], now)

    def deny(**_kwargs):
        return (_Http(400), {"Error": {"Code": "AccessDeniedException", "Message": "denied"}})

    on_call(aws.cloudwatch, "before-call.cloudwatch.GetMetricData", deny)
    summary = run_scan(aws, settings(), now)

    assert {(e["endpoint"], e["operation"]) for e in summary["errors"]} == {
        ("one", "GetMetricData"),
        ("two", "GetMetricData"),
    }
    assert summary["idle"] == []
    assert counts("one") == {"AllTraffic": 3}
    assert counts("two") == {"AllTraffic": 2}


def test_failing_search_fails_the_invocation_and_changes_nothing(aws, now, on_call):
    """Without the inventory there is nothing to report: the Lambda fails (and its error alarm shows)."""
    seed([idle("one")], now)

    def deny(**_kwargs):
        return (_Http(400), {"Error": {"Code": "AccessDeniedException", "Message": "no sagemaker:Search"}})

    on_call(aws.sagemaker, "before-call.sagemaker.Search", deny)
    with pytest.raises(ClientError, match="no sagemaker:Search"):
        run_scan(aws, settings(), now)
    assert counts("one") == {"AllTraffic": 3}


# --- suspended schedules are recorded and given back ---------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")


def endpoint_tags(name: str) -> dict[str, str]:
    sm = shared_clients().sagemaker
    arn = sm.describe_endpoint(EndpointName=name)["EndpointArn"]
    return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}


def busy_with_target(name: str) -> EndpointSpec:
    return EndpointSpec(name, (VariantSpec("AllTraffic", instances=3, invocations=42.0, scalable_target=True),))


def suspended_by_us(name: str, at: datetime) -> None:
    """What an earlier scan left: scheduled scaling suspended and the record on the endpoint."""
    arn = shared_clients().sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
    shared_clients().sagemaker.add_tags(ResourceArn=arn, Tags=Suspension(name, "ml-inference-dev-idle-detector", at,
                                                                         "no invocations in 24 h").tags())
    boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=f"endpoint/{name}/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=4,
        SuspendedState={"ScheduledScalingSuspended": True})


def test_suspension_is_recorded_on_the_endpoint_who_when_why(aws, now):
    seed([idle("quiet", VariantSpec("AllTraffic", instances=3, scalable_target=True))], now)

    summary = run_scan(aws, settings(AutoStopAction.DISABLE_SCHEDULES, detector_name="ml-inference-dev-idle-detector"),
                       now)

    tags = endpoint_tags("quiet")
    assert tags[SUSPENDED_BY_TAG] == "ml-inference-dev-idle-detector"
    assert tags[SUSPENDED_AT_TAG] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tags[SUSPENDED_WHY_TAG] == "no invocations in 24 h - action disable_schedules"
    assert target("quiet")[2]["ScheduledScalingSuspended"] is True
    assert summary["actions"][0]["suspension_recorded"]["by"] == "ml-inference-dev-idle-detector"


def test_schedules_come_back_when_the_endpoint_is_active_again(aws, now):
    seed([busy_with_target("woken")], now)
    suspended_by_us("woken", now - timedelta(hours=3))

    summary = run_scan(aws, settings(), now)

    assert target("woken")[2]["ScheduledScalingSuspended"] is False
    assert SUSPENDED_AT_TAG not in endpoint_tags("woken")
    resumed = by_endpoint(summary["schedules_resumed"])["woken"]
    assert resumed["why"] == "the endpoint is active again" and resumed["applied"] is True
    assert resumed["suspended_by"] == "ml-inference-dev-idle-detector"


def test_schedules_come_back_before_business_hours_and_are_not_taken_again(aws):
    """Suspended on Friday evening; the scan at 08:10 on Monday (New York) gives them back so the 09:00
    scale-out happens, and does not suspend them again although the endpoint is still idle."""
    friday_evening = datetime(2026, 11, 27, 20, 0, tzinfo=NEW_YORK).astimezone(UTC)
    monday_morning = datetime(2026, 11, 30, 8, 10, tzinfo=NEW_YORK).astimezone(UTC)
    seed([idle("weekend", VariantSpec("AllTraffic", instances=1, scalable_target=True))], monday_morning)
    suspended_by_us("weekend", friday_evening)
    quiet = settings(AutoStopAction.DISABLE_SCHEDULES, resume_lead_minutes=60)

    saturday = run_scan(aws, quiet, datetime(2026, 11, 28, 12, 0, tzinfo=NEW_YORK).astimezone(UTC))
    assert saturday["schedules_resumed"] == [] and target("weekend")[2]["ScheduledScalingSuspended"] is True

    summary = run_scan(aws, quiet, monday_morning)

    assert target("weekend")[2]["ScheduledScalingSuspended"] is False
    assert by_endpoint(summary["schedules_resumed"])["weekend"]["why"] == "business hours start at 2026-11-30T14:00:00Z"
    assert summary["actions"] == []
    assert SUSPENDED_AT_TAG not in endpoint_tags("weekend")


def test_schedules_suspended_by_someone_else_are_left_alone(aws, now):
    seed([busy_with_target("operator")], now)
    boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId="endpoint/operator/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=4,
        SuspendedState={"ScheduledScalingSuspended": True})

    summary = run_scan(aws, settings(), now)

    assert target("operator")[2]["ScheduledScalingSuspended"] is True
    assert summary["schedules_resumed"] == []


def test_dry_run_says_which_schedules_would_come_back_and_changes_nothing(aws, now):
    seed([busy_with_target("woken")], now)
    suspended_by_us("woken", now - timedelta(hours=3))

    summary = run_scan(aws, settings(dry_run=True), now)

    assert by_endpoint(summary["schedules_resumed"])["woken"]["applied"] is False
    assert target("woken")[2]["ScheduledScalingSuspended"] is True
    assert SUSPENDED_AT_TAG in endpoint_tags("woken")
