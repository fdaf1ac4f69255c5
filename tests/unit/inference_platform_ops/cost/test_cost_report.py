"""`make cost-report`: the CLI prints the table or JSON, writes report.json and the week chart."""

from __future__ import annotations

import csv
import json

import pytest

from inference_platform_ops.cost import report as cost_report
from inference_platform_ops.paths import ROOT
from tests.helpers import FIXTURES

FIXTURE = FIXTURES / "cost_params.json"


def test_json_report_and_chart_are_written_next_to_each_other(tmp_path, capsys):
    assert cost_report.main(["--params", str(FIXTURE), "--out-dir", str(tmp_path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "report.json").read_text())
    with (tmp_path / "hours.csv").open() as handle:
        hours = list(csv.DictReader(handle))
    assert len(hours) == 168 and hours[0]["hour_start_utc"] == "2026-11-16T05:00:00Z"  # local midnight, EST
    week_platform = sum(float(row["platform_cost"]) for row in hours)
    assert week_platform * 730 / 168 == pytest.approx(printed["monthly_usd"]["platform"], abs=0.01)
    chart = tmp_path / "week.png"
    assert printed["chart"] == str(chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 30_000
    assert printed["trace"] | {"source": None} == {
        "profile": "business-hours", "source": None, "hours": 168, "first_hour_utc": "2026-11-16T05:00Z",
        "requests": printed["trace"]["requests"], "requests_per_month": printed["trace"]["requests_per_month"],
    }
    monthly = printed["monthly_usd"]
    assert monthly["oracle"] <= monthly["platform"] <= monthly["always_on"]
    assert printed["saving_vs_always_on"]["platform"] > 0.3  # business hours on 1-4 instances, nights on 1
    assert printed["break_even"]["requests_per_hour"] == pytest.approx(16483.8, abs=0.1)
    assert len(printed["decision_matrix"]) == 30
    assert set(printed["prices"]) >= {"sagemaker_serverless", "step_functions_standard", "dynamodb_on_demand"}
    # DR tier 2: the us-west-2 standby is a serverless endpoint and the workflow: nothing runs, no metric
    # receives data, no alarm (no scaling there), and real-time requests write nothing to the table.
    [standby] = printed["secondary_regions"]
    assert (standby["region"], standby["role"], standby["endpoints_usd"]) == ("us-west-2", "secondary", 0.0)
    assert (standby["replicated_writes_usd"], standby["cloudwatch_usd"], standby["total_usd"]) == (0.0, 0.0, 0.0)
    assert printed["standby_share_of_primary_endpoints"] == 0.0
    assert printed["configured_policy"] == "seed_schedule"  # the fixture keeps the classic variant
    assert printed["environment_monthly_usd"] == pytest.approx(
        monthly["platform"] + printed["pipeline_monthly_usd"]["total"] + standby["total_usd"], abs=0.02
    )
    # Every policy, each with the same keys; the pipeline is the same for all of them.
    policies = printed["policies"]
    assert list(policies) == ["always_on", "seed_schedule", "seed_scale_to_zero", "cost_policy", "serverless_only",
                              "oracle", "constrained_oracle"]
    for name, row in policies.items():
        assert set(row) >= {"monthly_usd", "endpoint_usd", "pipeline_usd", "cold_starts_per_month",
                            "business_hours_cold_starts_per_month"}, name
        assert row["monthly_usd"] == pytest.approx(row["endpoint_usd"] + row["pipeline_usd"], abs=0.01), name
        assert row["pipeline_usd"] == printed["pipeline_monthly_usd"]["total"]
    assert policies["seed_schedule"]["endpoint_usd"] == monthly["platform"]
    assert policies["always_on"]["endpoint_usd"] == monthly["always_on"]
    assert printed["recommended"] in {"always_on", "seed_schedule", "seed_scale_to_zero", "cost_policy",
                                      "serverless_only"}
    assert printed["pipeline_usd_per_million_requests"] < 5.0


def test_table_for_a_profile_given_by_path(tmp_path, capsys):
    steady = ROOT / "data" / "traffic" / "steady.csv"
    args = ["--params", str(FIXTURE), "--profile", str(steady), "--out-dir", str(tmp_path), "--no-chart"]
    assert cost_report.main(args) == 0
    table = capsys.readouterr().out
    assert "traffic 'steady'" in table
    # 2,000 requests/hour: 2 instances always on = 2 x 0.115 x 730
    assert "Always on at peak (2 instances)              167.90" in table
    assert "Decision matrix" in table and "warning: 123 hour(s) need more instances" in table
    assert not (tmp_path / "week.png").exists()


@pytest.mark.parametrize("env", ["staging", "production", "dev", "local"])
def test_every_shipped_environment_reports(env, tmp_path, capsys):
    if not (ROOT / "templates" / "params" / f"{env}.json").is_file():
        pytest.skip(f"templates/params/{env}.json does not exist yet")
    assert cost_report.main(["--env", env, "--out-dir", str(tmp_path), "--no-chart", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["environment"] == env
    assert summary["monthly_usd"]["oracle"] <= summary["monthly_usd"]["platform"]


def test_missing_params_price_and_profile_are_clear_errors(tmp_path, capsys):
    assert cost_report.main(["--params", str(tmp_path / "nope.json"), "--no-chart"]) == 2
    assert "params file" in capsys.readouterr().err

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert cost_report.main(["--params", str(broken), "--no-chart"]) == 2
    assert "is not valid JSON" in capsys.readouterr().err

    config = json.loads(FIXTURE.read_text())
    config["Parameters"]["InstanceType"] = "ml.p9.huge"
    unpriced = tmp_path / "unpriced.json"
    unpriced.write_text(json.dumps(config))
    assert cost_report.main(["--params", str(unpriced), "--no-chart", "--out-dir", str(tmp_path)]) == 2
    assert "no price for 'ml.p9.huge' in us-east-1" in capsys.readouterr().err

    assert cost_report.main(["--params", str(FIXTURE), "--profile", "weekend-rush", "--no-chart"]) == 2
    assert "traffic profile 'weekend-rush' not found" in capsys.readouterr().err


def test_tier_3_has_no_secondary_region_and_an_over_budget_estimate_warns(tmp_path, capsys):
    config = json.loads(FIXTURE.read_text())
    config |= {"DrTier": 3, "Regions": {"Primary": "us-east-1", "Secondary": ""}}
    config["DrTargets"] = {"RpoMinutes": 1440, "RtoMinutes": 240}
    config["BillingAlarms"]["MonthlyBudgetUsd"] = 50
    path = tmp_path / "cold.json"
    path.write_text(json.dumps(config))
    assert cost_report.main(["--params", str(path), "--out-dir", str(tmp_path), "--no-chart", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["secondary_regions"] == []
    assert any("above BillingAlarms.MonthlyBudgetUsd $50.00" in w for w in summary["warnings"])


def test_parameters_left_out_of_a_params_file_take_the_main_template_defaults(tmp_path):
    main = tmp_path / "main.yaml"
    main.write_text("Parameters:\n  TargetInvocationsPerInstance:\n    Type: Number\n    Default: 70\n"
                    "  InstanceType:\n    Type: String\n    Default: ml.m5.large\n")
    config = json.loads(FIXTURE.read_text())
    del config["Parameters"]["TargetInvocationsPerInstance"]
    path = tmp_path / "env.json"
    path.write_text(json.dumps(config))
    loaded = cost_report.with_defaults(cost_report.load_params(path), cost_report.template_defaults(main))
    assert loaded["Parameters"]["TargetInvocationsPerInstance"] == "70"  # from the template
    assert loaded["Parameters"]["InstanceType"] == "ml.m5.large"
    assert cost_report.template_defaults(tmp_path / "absent.yaml") == {}


@pytest.mark.parametrize("profile", ["business-hours", "sporadic", "steady", "heavy-business-hours"])
def test_the_recommendation_is_near_the_constrained_oracle_and_never_above_always_on(profile, tmp_path, capsys):
    """On every reference profile the recommended policy costs at most 1.25 x the cheapest plan with no
    business-hour cold starts, and never more than always-on (staging's settings)."""
    args = ["--env", "staging", "--profile", profile, "--out-dir", str(tmp_path), "--json", "--no-chart"]
    assert cost_report.main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    policies = printed["policies"]
    recommended = policies[printed["recommended"]]["monthly_usd"]
    assert recommended <= 1.25 * policies["constrained_oracle"]["monthly_usd"]
    assert recommended <= policies["always_on"]["monthly_usd"]
    # The planner's plan never costs more than the seed rule on the same endpoint, where that rule carries
    # every hour (on the heavy profile staging's two instances cannot carry the business-hours peak).
    if policies["seed_scale_to_zero"]["hours_over_capacity_per_month"] == 0:
        assert policies["cost_policy"]["endpoint_usd"] <= policies["seed_scale_to_zero"]["endpoint_usd"] + 0.01
    assert policies["cost_policy"]["hours_over_capacity_per_month"] == 0


def test_scale_to_zero_saves_most_of_always_on_for_office_traffic(tmp_path, capsys):
    """Business-hours profile on staging: the seed rule on a scale-to-zero endpoint costs under 30% of always-on
    (business hours on 1-2 instances, a 15 min wake-up and scale-in tail, nights and weekends at zero)."""
    args = ["--env", "staging", "--profile", "business-hours", "--out-dir", str(tmp_path), "--json", "--no-chart"]
    assert cost_report.main(args) == 0
    policies = json.loads(capsys.readouterr().out)["policies"]
    assert policies["seed_scale_to_zero"]["endpoint_usd"] <= 0.30 * policies["always_on"]["endpoint_usd"]
    assert policies["seed_scale_to_zero"]["business_hours_cold_starts_per_month"] == 0
