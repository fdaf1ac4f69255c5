"""The planner's cost model and week grid, against figures computed by hand."""

from __future__ import annotations

import pytest

from inference_platform.planning.capacity import (
    BATCH,
    HOURS_PER_WEEK,
    PROVISIONED,
    SERVERLESS,
    CostInputs,
    evaluate,
    expected_cold_starts,
    hour_of_week,
    plan_hours,
    seed_choices,
    week_grid,
)

# $1 per instance-hour, 1,000 requests per instance-hour, 1 cent per serverless request, 1 s model latency.
INPUTS = CostInputs(serverless_cost_per_request=0.01, instance_hour_price=1.0, requests_per_instance_hour=1000,
                    latency_s=1.0, serverless_max_concurrency=10, keep_warm_s=600, wake_lead_hours=0.25,
                    scale_in_hours=0.25, min_instances=1, max_instances=3)


def test_a_provisioned_run_pays_its_wake_up_and_its_scale_in_tail():
    """Serverless 0 | provisioned 1,500 (2 instances) + wake 0.25 x 1 | serverless 10 + tail 0.25 x 2."""
    outcome = evaluate(INPUTS, [0, 1500, 10], [False, True, False], [SERVERLESS, PROVISIONED, SERVERLESS])
    assert [h.instances for h in outcome.hours] == [0, 2.25, 0.5]
    assert [round(h.cost, 6) for h in outcome.hours] == [0.0, 2.25, 0.6]
    assert outcome.cost == pytest.approx(2.85)
    assert outcome.hours_over_capacity == 0
    # 10 requests after a provisioned hour: one container (10 s of work), all cold, 9 gaps of ~6 min < 10 min.
    assert outcome.hours[2].cold_starts == pytest.approx(expected_cold_starts(10, 1, 0, 600))


def test_hours_beyond_capacity_are_flagged():
    outcome = evaluate(INPUTS, [4000, 40_000], [True, True], [PROVISIONED, SERVERLESS])
    assert [h.over_capacity for h in outcome.hours] == [True, True]  # 4 > 3 instances; 12 > 10 containers


def test_cold_starts_follow_warm_containers_and_provisioned_concurrency():
    assert expected_cold_starts(0, 0, 5, 600) == 0.0
    assert expected_cold_starts(7200, 2, 2, 600) == pytest.approx(0.0, abs=1e-9)  # busy and already warm
    assert expected_cold_starts(7200, 3, 2, 600) == pytest.approx(1.0, abs=1e-9)  # one container more
    assert expected_cold_starts(7200, 3, 0, 600, provisioned_concurrency=3) == 0.0


def test_the_seed_rule_falls_back_like_the_router():
    business = [True, False]
    assert seed_choices(INPUTS, business) == (PROVISIONED, SERVERLESS)
    serverless_only = CostInputs(**{**INPUTS.__dict__, "provisioned_enabled": False})
    assert seed_choices(serverless_only, business) == (SERVERLESS, SERVERLESS)
    nothing = CostInputs(**{**INPUTS.__dict__, "provisioned_enabled": False, "serverless_enabled": False})
    assert seed_choices(nothing, business) == (BATCH, BATCH)


def test_a_busy_business_hour_goes_provisioned_and_quiet_hours_serverless():
    """3,000 requests cost $30 on serverless and $3 on three instances; 5 requests cost 5 cents."""
    requests, business = [5, 3000, 5], [False, True, False]
    plan = plan_hours(INPUTS, requests, business, business_cold_start_budget=0.0)
    assert plan.choices == (SERVERLESS, PROVISIONED, SERVERLESS)
    assert plan.within_budget and plan.outcome.business_cold_starts == 0


def test_an_unmeetable_budget_returns_the_fewest_cold_starts_and_says_so():
    serverless_only = CostInputs(**{**INPUTS.__dict__, "provisioned_enabled": False})
    plan = plan_hours(serverless_only, [0, 30], [False, True], business_cold_start_budget=0.0)
    assert not plan.within_budget and plan.choices == (SERVERLESS, SERVERLESS)
    assert "no plan keeps business-hour cold starts within 0" in plan.notes[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"instance_hour_price": -1.0}, "instance_hour_price must be >= 0"),
        ({"latency_s": 0.0}, "latency_s must be > 0"),
        ({"min_instances": 4}, "min_instances <= max_instances"),
        ({"serverless_max_concurrency": 0}, "serverless_max_concurrency must be >= 1"),
    ],
)
def test_bad_inputs_are_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        CostInputs(**{**INPUTS.__dict__, **change})


def test_bad_sequences_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        evaluate(INPUTS, [1, 2], [True], [SERVERLESS, SERVERLESS])
    with pytest.raises(ValueError, match="choice must be one of"):
        evaluate(INPUTS, [1], [True], ["gpu"])
    with pytest.raises(ValueError, match="requests must be >= 0"):
        evaluate(INPUTS, [-1], [True], [SERVERLESS])
    with pytest.raises(ValueError, match="budget must be >= 0"):
        plan_hours(INPUTS, [1], [True], -1)
    with pytest.raises(ValueError, match="non-empty and of equal length"):
        plan_hours(INPUTS, [], [], 0)


def test_week_grid_and_hour_of_week():
    assert hour_of_week(0, 0) == 0 and hour_of_week(6, 23) == HOURS_PER_WEEK - 1
    with pytest.raises(ValueError, match="weekday must be 0-6"):
        hour_of_week(7, 0)
    choices = [SERVERLESS] * HOURS_PER_WEEK
    choices[hour_of_week(2, 9)] = PROVISIONED
    grid = week_grid(choices).splitlines()
    assert grid[0].split()[:3] == ["0", "1", "2"] and len(grid) == 8
    assert grid[3].startswith("Wed") and grid[3].split()[1 + 9] == "P" and grid[3].split()[1 + 8] == "s"
    with pytest.raises(ValueError, match="168 hours"):
        week_grid(choices[:-1])
