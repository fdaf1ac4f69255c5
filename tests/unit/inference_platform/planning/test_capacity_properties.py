"""Properties of the hour-of-week planner, over random traffic, settings and budgets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inference_platform.planning.capacity import (
    BATCH,
    PROVISIONED,
    SERVERLESS,
    CostInputs,
    evaluate,
    plan_hours,
    seed_choices,
)

HOURS = st.integers(min_value=2, max_value=36)


@st.composite
def scenarios(draw):
    hours = draw(HOURS)
    requests = draw(st.lists(st.one_of(st.just(0), st.integers(0, 30), st.integers(0, 40_000)),
                             min_size=hours, max_size=hours))
    business = draw(st.lists(st.booleans(), min_size=hours, max_size=hours))
    provisioned, serverless = draw(st.sampled_from([(True, True), (True, False), (False, True), (False, False)]))
    inputs = CostInputs(
        serverless_cost_per_request=draw(st.floats(1e-7, 1e-4)),
        instance_hour_price=draw(st.floats(0.05, 2.0)),
        requests_per_instance_hour=draw(st.floats(500, 50_000)),
        latency_s=draw(st.floats(0.01, 2.0)),
        serverless_max_concurrency=draw(st.integers(1, 200)),
        keep_warm_s=draw(st.floats(60, 1800)),
        wake_lead_hours=draw(st.sampled_from([0.0, 0.25, 1.0])),
        min_instances=1,
        max_instances=draw(st.integers(1, 20)),
        batch_cost_per_request=draw(st.floats(0, 1e-4)),
        provisioned_enabled=provisioned,
        serverless_enabled=serverless,
    )
    budget = draw(st.sampled_from([0.0, 0.5, 3.0, 50.0]))
    return inputs, requests, business, budget


def _carries_every_hour(inputs: CostInputs, requests: list[int], choices) -> bool:
    return not evaluate(inputs, requests, [False] * len(requests), choices, before=choices[-1],
                        before_requests=requests[-1]).hours_over_capacity


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_the_plan_never_picks_a_disabled_path(scenario):
    """Whatever the traffic and prices, every hour of the plan uses a path the environment enables
    (batch only when neither real-time path is)."""
    inputs, requests, business, budget = scenario
    plan = plan_hours(inputs, requests, business, budget)
    enabled = {path for path, on in ((PROVISIONED, inputs.provisioned_enabled),
                                     (SERVERLESS, inputs.serverless_enabled)) if on} or {BATCH}
    assert set(plan.choices) <= enabled
    assert len(plan.choices) == len(requests)


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_the_plan_never_exceeds_the_cold_start_budget_when_any_plan_can_meet_it(scenario):
    """With a provisioned path that can carry every hour, the seed rule itself meets any budget (no
    serverless in business hours), so the plan must too; its expected business-hour cold starts stay within."""
    inputs, requests, business, budget = scenario
    plan = plan_hours(inputs, requests, business, budget)
    seed = seed_choices(inputs, business)
    seed_outcome = evaluate(inputs, requests, business, seed, before=seed[-1], before_requests=requests[-1])
    if seed_outcome.business_cold_starts <= budget and _carries_every_hour(inputs, requests, seed):
        assert plan.within_budget
    if plan.within_budget:
        assert plan.outcome.business_cold_starts <= budget + 1e-9
    else:
        assert plan.notes and "no plan keeps business-hour cold starts within" in plan.notes[0]


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_the_plan_never_costs_more_than_the_seed_rule_on_the_same_trace(scenario):
    """Wherever the default business-hours rule is a valid plan (within the budget, carrying every hour),
    the planner's plan costs no more than it on the same hours."""
    inputs, requests, business, budget = scenario
    plan = plan_hours(inputs, requests, business, budget)
    seed = seed_choices(inputs, business)
    seed_outcome = evaluate(inputs, requests, business, seed, before=seed[-1], before_requests=requests[-1])
    if seed_outcome.business_cold_starts <= budget and _carries_every_hour(inputs, requests, seed):
        assert plan.outcome.cost <= seed_outcome.cost + 1e-9
