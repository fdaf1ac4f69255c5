"""Cost configuration and formulas, checked against figures computed by hand (us-east-1 list prices).

Hand figures used throughout: ml.m5.large $0.115/h; serverless 2048 MB $0.00004/s and $0.016/GB.
A 150 ms request with a 64 KB payload costs 0.15 x 0.00004 + 64/1,048,576 x 0.016
= 0.000006 + 0.0000009765625 = $0.0000069765625 on serverless.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from inference_platform_ops.cost.model import (
    CostConfig,
    PipelineUsage,
    UnitPrices,
    batch_job_cost,
    break_even,
    break_even_matrix,
    instances_needed,
    monthly_fixed_cost,
    parse_schedule_cron,
    pipeline_cost,
    serverless_concurrency,
)
from tests.helpers import FIXTURES
from tests.helpers.template_loader import load_template

FIXTURE = FIXTURES / "cost_params.json"
PER_REQUEST = 0.0000069765625


@pytest.fixture
def params() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture
def cfg(params) -> CostConfig:
    return CostConfig.from_params(params)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 9 ? * MON-FRI *)", (9, (0, 1, 2, 3, 4))),
        ("cron(0 18 ? * MON,WED,FRI *)", (18, (0, 2, 4))),
        ("cron(0 7 ? * FRI-MON *)", (7, (0, 4, 5, 6))),  # a range across the week's end
        ("cron(0 0 ? * 1 *)", (0, (6,))),  # AWS numbers Sunday 1
        ("cron(0 23 * * ? *)", (23, (0, 1, 2, 3, 4, 5, 6))),
    ],
)
def test_schedule_cron_gives_local_hour_and_weekdays(expression, expected):
    assert parse_schedule_cron(expression, "test") == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(1 hour)", "expected cron"),
        ("cron(30 9 ? * MON-FRI *)", "whole hour"),
        ("cron(0 9 1 * ? *)", "day-of-month"),
        ("cron(0 9 ? * MOON *)", "MOON"),
    ],
)
def test_schedule_cron_outside_the_model_is_refused_by_name(expression, message):
    with pytest.raises(ValueError, match=message):
        parse_schedule_cron(expression, "Parameters.X")


def test_config_reads_the_main_template_parameter_names(cfg):
    assert (cfg.region, cfg.instance_type, cfg.instance_count) == ("us-east-1", "ml.m5.large", 1)
    assert (cfg.business_capacity.minimum, cfg.business_capacity.maximum) == (1, 4)
    assert (cfg.off_hours_capacity.minimum, cfg.off_hours_capacity.maximum) == (1, 1)
    assert cfg.window.describe() == "09:00-18:00 MON,TUE,WED,THU,FRI America/New_York"
    assert cfg.instance_requests_per_hour == 1200  # 20 invocations/minute target
    assert (cfg.serverless_memory_mb, cfg.model_latency_ms, cfg.payload_kb) == (2048, 150, 64)
    assert cfg.traffic_profile == "business-hours"


def test_schedule_bounds_follow_local_business_hours_across_dst(cfg):
    # 13:30 UTC is 09:30 in New York in summer (EDT) but 08:30 in winter (EST).
    assert cfg.scheduled_bounds(datetime(2026, 10, 30, 13, tzinfo=UTC)) is cfg.business_capacity
    assert cfg.scheduled_bounds(datetime(2026, 11, 2, 13, tzinfo=UTC)) is cfg.off_hours_capacity
    assert cfg.scheduled_bounds(datetime(2026, 11, 2, 22, tzinfo=UTC)) is cfg.business_capacity


def test_scaling_disabled_means_the_initial_count_all_week(params):
    params["Parameters"] |= {"EnableScheduledScaling": "false", "InitialInstanceCount": "3"}
    cfg = CostConfig.from_params(params)
    bounds = cfg.configured_bounds(datetime(2026, 11, 16, 15, tzinfo=UTC))
    assert (bounds.minimum, bounds.maximum) == (3, 3)


def test_every_bad_field_is_reported_at_once(params):
    bad = copy.deepcopy(params)
    bad["Parameters"] |= {
        "ServerlessMemorySizeInMB": "1536",
        "BusinessTimezone": "Mars/Olympus_Mons",
        "EnableServerlessInference": "yes",
        "BusinessHoursMinCapacity": "5",
        "TargetInvocationsPerInstance": "lots",
        "BusinessEndHour": "8",
    }
    del bad["CostProfile"]["ModelLatencyMs"]
    with pytest.raises(ValueError) as error:
        CostConfig.from_params(bad, source="staging.json")
    message = str(error.value)
    for expected in (
        "staging.json: Parameters.ServerlessMemorySizeInMB must be a 1024 multiple, got 1536",
        "unknown time zone 'Mars/Olympus_Mons'",
        'Parameters.EnableServerlessInference must be "true" or "false"',
        "BusinessHoursMinCapacity is above BusinessHoursMaxCapacity",
        "Parameters.TargetInvocationsPerInstance must be a number",
        "Parameters.BusinessEndHour (8) must be after staging.json: Parameters.BusinessStartHour (9)",
        "CostProfile.ModelLatencyMs is missing",
    ):
        assert expected in message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "expected a JSON object"),
        ({"Regions": {"Primary": "us-east-1"}}, "'Parameters' must be an object"),
        ({"Parameters": {}, "CostProfile": {}}, "Regions.Primary is missing"),
    ],
)
def test_malformed_params_document_is_named(config, message):
    with pytest.raises(ValueError, match=message):
        CostConfig.from_params(config)


def test_out_of_range_and_badly_typed_values_are_named(params):
    params["Parameters"] |= {"ServerlessMaxConcurrency": "500", "InstanceType": "", "BusinessDays": "MON-FUNDAY"}
    params["CostProfile"]["PayloadKb"] = True
    with pytest.raises(ValueError) as error:
        CostConfig.from_params(params)
    message = str(error.value)
    assert "Parameters.ServerlessMaxConcurrency must be in 1-200, got '500'" in message
    assert "Parameters.InstanceType must be a non-empty string" in message
    assert "FUNDAY" in message
    assert "CostProfile.PayloadKb must be a number, got True" in message


def test_serverless_provisioned_concurrency_is_read_and_priced(params):
    """Provisioned concurrency is a standing charge (2 x 2 GB x $0.0000048 per GB-second, every second of the
    month), and the compute it serves is billed at its own lower rate."""
    params["Parameters"]["ServerlessProvisionedConcurrency"] = "2"
    cfg = CostConfig.from_params(params)
    prices = UnitPrices.for_config(cfg)
    assert cfg.serverless_provisioned_concurrency == 2 and cfg.warnings == ()
    assert prices.provisioned_concurrency_second == pytest.approx(2 * 0.0000048)
    assert prices.provisioned_concurrency_compute_second == pytest.approx(2 * 0.0000056)
    params["Parameters"]["ServerlessProvisionedConcurrency"] = "201"
    with pytest.raises(ValueError, match="ServerlessProvisionedConcurrency must be in 0-200"):
        CostConfig.from_params(params)


def test_capacity_and_concurrency_from_hourly_requests():
    assert instances_needed(0, 1200) == 0
    assert instances_needed(1200, 1200) == 1
    assert instances_needed(1201, 1200) == 2
    assert serverless_concurrency(0, 0.15) == 0
    assert serverless_concurrency(2000, 0.15) == 1  # 0.083 busy containers on average
    assert serverless_concurrency(100_000, 0.5) == 14  # 13.9


def test_break_even_for_the_configured_memory_and_latency():
    # $0.115 per instance-hour / $0.0000069765625 per request = 16,483.76 requests/hour.
    result = break_even(memory_mb=2048, latency_ms=150, payload_kb=64, region="us-east-1",
                        instance_price=0.115, instance_requests_per_hour=1200)
    assert result.serverless_cost_per_request == pytest.approx(PER_REQUEST)
    assert result.requests_per_hour == pytest.approx(16_483.76, abs=0.01)
    assert result.requests_per_second == pytest.approx(4.5788, abs=1e-4)
    assert result.utilisation == pytest.approx(13.7365, abs=1e-4)  # serverless wins at any sustainable load


def test_decision_matrix_break_even_falls_with_memory_and_latency(cfg):
    matrix = {(b.memory_mb, b.latency_ms): b.requests_per_hour for b in break_even_matrix(cfg, 0.115)}
    assert len(matrix) == 6 * 5
    assert matrix[(1024, 1000)] > matrix[(2048, 1000)] > matrix[(6144, 1000)]
    assert matrix[(2048, 50)] > matrix[(2048, 500)] > matrix[(2048, 2000)]
    # 2048 MB, 1000 ms: 0.115 / (1 x 0.00004 + 0.0000009765625) = 2,806.48 requests/hour
    assert matrix[(2048, 1000)] == pytest.approx(2806.48, abs=0.01)


def test_batch_job_cost_counts_start_up_and_work(cfg):
    prices = UnitPrices.for_config(cfg)
    # 180 s start-up + 1,000 files x 0.15 s on one ml.m5.large = 330 s x $0.115/3600
    assert batch_job_cost(1000, cfg, prices, PipelineUsage()) == pytest.approx(330 * 0.115 / 3600)
    assert batch_job_cost(0, cfg, prices, PipelineUsage()) == 0.0


def test_pipeline_cost_per_million_requests(cfg):
    """One real-time request: two Express executions (front door + file set), no Standard transition."""
    prices = UnitPrices.for_config(cfg)
    cost = pipeline_cost(1_000_000, 0, cfg, prices, PipelineUsage())
    # Express: 2 x $1 per million; duration: child 150 + 30 + 20 ms -> 200 ms billed, front door
    # 20 + 20 + 200 + 20 = 260 -> 300 ms billed; 0.5 s x 64 MB = 0.03125 GB-s x $0.0000166667.
    assert cost["step_functions"] == pytest.approx(2.0 + 0.03125 * 0.0000166667 * 1_000_000)
    # 2 invocations x $0.0000002; route 0.25 GB x 20 ms, invoke 0.5 GB x 180 ms, x $0.0000166667 per GB-s
    assert cost["lambda"] == pytest.approx(0.40 + (0.25 * 0.02 + 0.5 * 0.18) * 0.0000166667 * 1_000_000)
    assert cost["dynamodb"] == pytest.approx(0.125)  # one strongly consistent read of the cancellation marker
    assert sum(cost.values()) < 5.0
    assert monthly_fixed_cost(prices, PipelineUsage()) == pytest.approx(5 * 0.10 + 6 * 0.30)


def test_a_batch_request_costs_its_standard_transitions_and_token_writes(cfg):
    prices = UnitPrices.for_config(cfg)
    cost = pipeline_cost(0, 1000, cfg, prices, PipelineUsage())
    assert cost["step_functions"] == pytest.approx(1000 * (5 * 0.000025 + 0.000001))
    assert cost["dynamodb"] == pytest.approx(1000 * (3 * 0.000000625 + 0.000000125))


def _states(definition: dict) -> dict:
    return definition["States"]


def test_counted_executions_and_transitions_match_the_workflow_template():
    """PipelineUsage counts these states; renaming or adding states on the path must revisit the count."""
    resources = load_template("workflow.yaml")["Resources"]
    machines = {name: resource["Properties"] for name, resource in resources.items()
                if resource["Type"] == "AWS::StepFunctions::StateMachine"}
    front, file_set = machines["RequestStateMachine"], machines["InvokeFileSetStateMachine"]
    assert front["StateMachineType"] == file_set["StateMachineType"] == "EXPRESS"
    real_time = ["Route", "AnyFiles", "ChooseStrategy", "RunRealTime", "RealTimeSucceeded", "Done"]
    states = _states(front["Definition"])
    assert [states[name]["Type"] for name in real_time] == ["Task", "Choice", "Choice", "Task", "Choice", "Succeed"]
    # The real-time path starts exactly one more execution, of the Express file set (the second of the two).
    assert states["RunRealTime"]["Resource"] == "arn:aws:states:::aws-sdk:sfn:startSyncExecution"
    assert PipelineUsage().express_executions_per_request == 2
    assert PipelineUsage().transitions_per_request == 0
    [map_state] = _states(file_set["Definition"]).values()
    assert map_state["Type"] == "Map" and list(map_state["ItemProcessor"]["States"]) == ["Invoke"]
    # A batch request: the Standard pipeline's Route, AnyFiles, ChooseStrategy, BatchTransform, Done.
    pipeline = _states(machines["InferencePipeline"]["Definition"])
    assert pipeline["BatchTransform"]["Next"] == "Done"
    assert [pipeline[name]["Type"] for name in ("Route", "AnyFiles", "ChooseStrategy", "BatchTransform", "Done")] \
        == ["Task", "Choice", "Choice", "Task", "Succeed"]
    assert PipelineUsage().transitions_per_batch_job == 5
    memory = {name: resources[name]["Properties"]["MemorySize"] for name in ("RouteFunction", "InvokeFunction")}
    usage = PipelineUsage()
    assert memory == {"RouteFunction": usage.route_lambda_mb, "InvokeFunction": usage.invoke_lambda_mb}
