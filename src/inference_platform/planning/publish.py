"""From CloudWatch history to a published week plan (``RoutingPolicy: cost``).

* :func:`metric_queries` / :func:`weekly_requests`: ONE batched ``GetMetricData`` (paged by its NextToken)
  reads the last N weeks of ``AWS/SageMaker Invocations`` per hour for the inference component and the
  serverless endpoint, plus the model latency, and folds them into 168 local hours of the week (mean over
  the weeks).
* :func:`schedule_actions`: the scheduled actions that follow a plan on the inference component: woken
  ``lead`` minutes before each run of provisioned hours (min 1 copy), taken to 0 copies when it ends.
* :func:`publish`: writes the plan item the router reads and replaces the component's ``plan-*`` actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from inference_platform.planning.capacity import HOURS_PER_WEEK, PROVISIONED, hour_of_week

PLAN_KEY = {"pk": "plan#capacity", "sk": "current"}
ACTION_PREFIX = "plan-"
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@dataclass(frozen=True)
class History:
    requests: tuple[float, ...]  # 168 local hours, mean over the weeks read
    latency_ms: float | None  # mean ModelLatency over the period (None: no data)
    weeks: int


def metric_sources(*, component: str = "", endpoints: Sequence[str] = (), variant: str = "AllTraffic",
                   ) -> list[list[dict]]:
    """The dimensions requests are counted under: an inference component's own (``InferenceComponentName``:
    a scale-to-zero endpoint's invocations are published per component), and each other endpoint's
    ``EndpointName`` + ``VariantName``."""
    sources = [[{"Name": "InferenceComponentName", "Value": component}]] if component else []
    return sources + [[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
                      for endpoint in endpoints if endpoint]


def metric_queries(sources: Sequence[Sequence[dict]]) -> list[dict]:
    """Invocations (Sum per hour) and ModelLatency (Average per hour) of every source."""
    queries = []
    for index, dimensions in enumerate(sources):
        for query_id, metric, stat in ((f"invocations{index}", "Invocations", "Sum"),
                                       (f"latency{index}", "ModelLatency", "Average")):
            queries.append({"Id": query_id, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": list(dimensions)},
                "Period": 3600, "Stat": stat}})
    return queries


def weekly_requests(cloudwatch: Any, sources: Sequence[Sequence[dict]], *, weeks: int, now: datetime,
                    timezone: str) -> History:
    """One batched GetMetricData over the last ``weeks`` whole weeks, folded into local hours of the week."""
    if not sources:
        raise ValueError("no endpoint or inference component to read invocations of")
    if not 1 <= weeks <= 12:
        raise ValueError(f"weeks must be 1-12, got {weeks}")
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(weeks=weeks)
    request = {"MetricDataQueries": metric_queries(sources), "StartTime": start, "EndTime": end,
               "ScanBy": "TimestampAscending"}
    series: dict[str, dict[datetime, float]] = {}
    while True:
        page = cloudwatch.get_metric_data(**request)
        for result in page.get("MetricDataResults", []):
            values = series.setdefault(result["Id"], {})
            values.update(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    zone = ZoneInfo(timezone)
    totals = [0.0] * HOURS_PER_WEEK
    for index in range(len(sources)):
        for moment, value in series.get(f"invocations{index}", {}).items():
            local = moment.astimezone(zone)
            totals[hour_of_week(local.weekday(), local.hour)] += float(value)
    latencies = [v for index in range(len(sources)) for v in series.get(f"latency{index}", {}).values()]
    latency_ms = sum(latencies) / len(latencies) / 1000 if latencies else None  # ModelLatency is in microseconds
    return History(tuple(total / weeks for total in totals), latency_ms, weeks)


def _cron(slot: int, minute: int, timezone_days: Sequence[str] = DAYS) -> str:
    day, hour = divmod(slot, 24)
    return f"cron({minute} {hour} ? * {timezone_days[day]} *)"


def schedule_actions(choices: Sequence[str], *, lead_minutes: int, max_copies: int) -> list[dict]:
    """Scheduled actions (local time) that put copies where the plan says provisioned, and none elsewhere."""
    if len(choices) != HOURS_PER_WEEK:
        raise ValueError(f"a week plan has {HOURS_PER_WEEK} hours, got {len(choices)}")
    if not 1 <= lead_minutes <= 60 or max_copies < 1:
        raise ValueError(f"lead_minutes must be 1-60 and max_copies >= 1, got {lead_minutes}, {max_copies}")
    on = [choice == PROVISIONED for choice in choices]
    if all(on):
        return [{"name": f"{ACTION_PREFIX}always", "schedule": _cron(0, 0), "min": 1, "max": max_copies}]
    actions = []
    for slot in range(HOURS_PER_WEEK):
        previous = on[slot - 1]
        if on[slot] and not previous:  # a run starts: wake lead minutes before, in the hour before
            actions.append({"name": f"{ACTION_PREFIX}wake-{slot:03d}", "min": 1, "max": max_copies,
                            "schedule": _cron((slot - 1) % HOURS_PER_WEEK, 60 - lead_minutes)})
        if previous and not on[slot]:  # a run ended: every copy goes
            actions.append({"name": f"{ACTION_PREFIX}zero-{slot:03d}", "min": 0, "max": 0,
                            "schedule": _cron(slot, 0)})
    return actions


def publish(table: Any, autoscaling: Any, *, choices: Sequence[str], component: str, timezone: str,
            lead_minutes: int, max_copies: int, details: dict, now: datetime) -> dict:
    """Write the plan the router reads, then make the component's ``plan-*`` scheduled actions match it."""
    table.put_item(Item={**PLAN_KEY, "choices": list(choices), "created_at": now.astimezone(UTC).isoformat(),
                         **details})
    resource = f"inference-component/{component}"
    wanted = {action["name"]: action for action in schedule_actions(choices, lead_minutes=lead_minutes,
                                                                      max_copies=max_copies)}
    existing = []
    paginator = autoscaling.get_paginator("describe_scheduled_actions")
    for page in paginator.paginate(ServiceNamespace="sagemaker", ResourceId=resource,
                                   ScalableDimension="sagemaker:inference-component:DesiredCopyCount"):
        existing += [a["ScheduledActionName"] for a in page.get("ScheduledActions", [])
                     if a["ScheduledActionName"].startswith(ACTION_PREFIX)]
    for name in existing:
        if name not in wanted:
            autoscaling.delete_scheduled_action(ServiceNamespace="sagemaker", ScheduledActionName=name,
                                                ResourceId=resource,
                                                ScalableDimension="sagemaker:inference-component:DesiredCopyCount")
    for action in wanted.values():  # PutScheduledAction replaces an action of the same name
        autoscaling.put_scheduled_action(
            ServiceNamespace="sagemaker", ScheduledActionName=action["name"], ResourceId=resource,
            ScalableDimension="sagemaker:inference-component:DesiredCopyCount", Schedule=action["schedule"],
            Timezone=timezone, ScalableTargetAction={"MinCapacity": action["min"], "MaxCapacity": action["max"]})
    return {"actions": len(wanted), "removed": len([n for n in existing if n not in wanted])}
