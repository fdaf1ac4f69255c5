"""Read-only AWS look-ups of the idle detector, each batched so a scan costs a handful of calls.

Cost of one scan for N endpoints and V variants (pages in brackets):
  Search [N/100] (names, ARNs, live variant counts and tags of every InService endpoint)
  + GetMetricData [V/500] + DescribeScalableTargets [idle variants/50]
  + per endpoint config of an endpoint that will be scaled or deleted: DescribeEndpointConfig
    (instance types, for the savings estimate).
No endpoint is described one by one: the Search record already holds what DescribeEndpoint and
ListTags would return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

AWS_ERRORS = (ClientError, BotoCoreError)

INVOCATION_QUERIES_PER_CALL = 500  # GetMetricData limit
TARGET_IDS_PER_CALL = 50  # DescribeScalableTargets ResourceIds limit
SEARCH_RESULTS_PER_PAGE = 100  # Search MaxResults limit
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
STACK_TAG = "aws:cloudformation:stack-name"

VariantKey = tuple[str, str]  # (endpoint name, variant name)


@dataclass(frozen=True)
class VariantState:
    name: str
    current_count: int
    desired_count: int
    serverless: bool
    instance_type: str | None = None


@dataclass(frozen=True)
class Endpoint:
    name: str
    arn: str
    created: datetime
    config_name: str = ""
    variants: tuple[VariantState, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScalableTarget:
    resource_id: str
    min_capacity: int
    max_capacity: int
    suspended: Mapping[str, bool]

    @property
    def scheduled_scaling_suspended(self) -> bool:
        return bool(self.suspended.get("ScheduledScalingSuspended"))


@dataclass
class InvocationCounts:
    sums: dict[VariantKey, float] = field(default_factory=dict)
    failed: dict[VariantKey, str] = field(default_factory=dict)


def variant_resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def search_in_service_endpoints(sagemaker) -> list[Endpoint]:
    """Every InService endpoint with its variants and tags, 100 per Search call.

    Search is eventually consistent: an endpoint deleted seconds ago may still be listed (acting
    on it then fails for that endpoint alone), and counts may trail a change by moments. The status
    is checked again here in case the index lags a status change.
    """
    pages = sagemaker.get_paginator("search").paginate(
        Resource="Endpoint",
        SearchExpression={"Filters": [{"Name": "EndpointStatus", "Operator": "Equals", "Value": "InService"}]},
        PaginationConfig={"PageSize": SEARCH_RESULTS_PER_PAGE},
    )
    found: dict[str, Endpoint] = {}
    for page in pages:
        for result in page["Results"]:
            record = result.get("Endpoint")
            if record and record.get("EndpointStatus") == "InService":
                found[record["EndpointName"]] = _endpoint(record)  # a name listed twice (index moved) counts once
    return list(found.values())


def _endpoint(record: Mapping) -> Endpoint:
    variants = tuple(
        VariantState(
            name=v["VariantName"],
            current_count=int(v.get("CurrentInstanceCount") or 0),
            desired_count=int(v.get("DesiredInstanceCount") or 0),
            serverless="CurrentServerlessConfig" in v or "DesiredServerlessConfig" in v,
        )
        for v in record.get("ProductionVariants", [])
    )
    return Endpoint(
        name=record["EndpointName"],
        arn=record["EndpointArn"],
        created=record["CreationTime"],
        config_name=record.get("EndpointConfigName", ""),
        variants=variants,
        tags={t["Key"]: t["Value"] for t in record.get("Tags", [])},
    )


def invocation_counts(cloudwatch, keys: Iterable[VariantKey], start: datetime, end: datetime) -> InvocationCounts:
    """Sum of Invocations per variant over [start, end), 500 variants per GetMetricData call.

    One period covering the whole window gives one datapoint per variant (two if CloudWatch
    splits at a period boundary; they are added). A failed batch marks its variants failed
    instead of aborting the scan.
    """
    ordered = sorted(set(keys))
    counts = InvocationCounts()
    period = max(60, int((end - start).total_seconds()) // 60 * 60)
    for offset in range(0, len(ordered), INVOCATION_QUERIES_PER_CALL):
        batch = ordered[offset : offset + INVOCATION_QUERIES_PER_CALL]
        queries = [_invocations_query(f"q{i}", key, period) for i, key in enumerate(batch)]
        by_id = dict(zip((q["Id"] for q in queries), batch, strict=True))
        try:
            results = _metric_data_pages(cloudwatch, queries, start, end)
        except AWS_ERRORS as exc:  # one failed batch must not lose the other batches
            for key in batch:
                counts.failed[key] = f"GetMetricData: {describe_error(exc)}"
            continue
        for query_id, key in by_id.items():
            status, values = results.get(query_id, ("Complete", []))
            if status not in ("Complete", "PartialData"):
                counts.failed[key] = f"GetMetricData returned status {status} for {key[0]}/{key[1]}"
            else:
                counts.sums[key] = float(sum(values))
    return counts


def _invocations_query(query_id: str, key: VariantKey, period: int) -> dict:
    endpoint, variant = key
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SageMaker",
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
            },
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


def _metric_data_pages(cloudwatch, queries: list[dict], start: datetime, end: datetime) -> dict[str, tuple[str, list]]:
    results: dict[str, tuple[str, list]] = {}
    kwargs: dict = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    while True:
        response = cloudwatch.get_metric_data(**kwargs)
        for result in response["MetricDataResults"]:
            _, previous = results.get(result["Id"], ("Complete", []))
            results[result["Id"]] = (result.get("StatusCode", "Complete"), previous + list(result.get("Values", [])))
        token = response.get("NextToken")
        if not token:
            return results
        kwargs["NextToken"] = token


def instance_types(sagemaker, config_name: str) -> dict[str, str]:
    """Instance type per variant of an endpoint config (serverless variants have none)."""
    response = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    return {v["VariantName"]: v["InstanceType"] for v in response["ProductionVariants"] if v.get("InstanceType")}


def scalable_targets(autoscaling, resource_ids: Iterable[str]) -> dict[str, ScalableTarget]:
    ids = sorted(set(resource_ids))
    found: dict[str, ScalableTarget] = {}
    paginator = autoscaling.get_paginator("describe_scalable_targets")
    for offset in range(0, len(ids), TARGET_IDS_PER_CALL):
        pages = paginator.paginate(
            ServiceNamespace="sagemaker",
            ResourceIds=ids[offset : offset + TARGET_IDS_PER_CALL],
            ScalableDimension=VARIANT_DIMENSION,
        )
        for page in pages:
            for t in page["ScalableTargets"]:
                found[t["ResourceId"]] = ScalableTarget(
                    resource_id=t["ResourceId"],
                    min_capacity=int(t["MinCapacity"]),
                    max_capacity=int(t["MaxCapacity"]),
                    suspended=dict(t.get("SuspendedState") or {}),
                )
    return found


def describe_error(exc: BaseException) -> str:
    """'Code: message' for AWS errors, the exception text otherwise."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        text = f"{error.get('Code', type(exc).__name__)}: {error.get('Message', '')}".rstrip(": ")
        retries = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        return f"{text} (after {retries} retries)" if retries else text
    return f"{type(exc).__name__}: {exc}"
