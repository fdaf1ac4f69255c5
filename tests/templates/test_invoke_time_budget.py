"""The Invoke Lambda's time budget adds up (inference_platform_ops.guard.asl_bounds.invoke_time_budget): a hung
primary region still leaves time to answer from the secondary before any timeout fires."""

from __future__ import annotations

import copy

from inference_platform_ops.guard.asl_bounds import invoke_time_budget
from tests.helpers.template_loader import load_template


def test_every_timeout_fits_inside_the_next():
    budget = invoke_time_budget(load_template("workflow.yaml"))
    assert budget.problems() == []
    assert budget.endpoint_worst_s < budget.lambda_timeout_s < budget.task_timeout_s < budget.fallback_bound_s
    assert budget.regions == 2 and budget.attempts_per_region == 1
    assert budget.fallback_bound_s == 120


def test_the_old_read_timeout_left_no_time_for_the_secondary():
    """65 s read + 5 s connect per region (the values before the fix) against an 80 s Lambda: failover was
    impossible exactly when the primary hung."""
    template = copy.deepcopy(load_template("workflow.yaml"))
    variables = template["Resources"]["InvokeFunction"]["Properties"]["Environment"]["Variables"]
    variables.update({"ENDPOINT_CONNECT_TIMEOUT_SECONDS": "5", "ENDPOINT_READ_TIMEOUT_SECONDS": "65"})
    problems = invoke_time_budget(template).problems()
    assert problems == ["endpoint calls (connect + read) x attempts x regions (140 s) must be below the Invoke "
                        "Lambda's Timeout (80 s)"]
