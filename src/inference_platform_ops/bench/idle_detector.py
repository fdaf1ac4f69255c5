"""Benchmark: AWS API calls and wall time of ONE idle-detector scan over a large moto-seeded fleet.

    inference-bench-idle [--endpoints 1000] [--seed 7]   (make bench-idle)

Seeds an in-process moto with N endpoints (one or two variants each, 5% idle, 10% protected, 20%
production, 30% of variants with an Application Auto Scaling target), then runs the scan twice:
a dry run (the scan's own calls) and a scale_down run (scan + the calls for the actions). Calls are
counted with botocore's `before-call` event hook, per operation. moto's SageMaker Search is patched
to page like SageMaker's (inference_platform_ops.emulator.search_paging), so the paging is counted as it would be.

`seed_fleet` is reused by the tests to build fleets quickly.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from inference_platform_ops.emulator.search_paging import paged_search

REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/bench-sagemaker"
IMAGE = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/model:latest"
INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.g4dn.xlarge")


@dataclass(frozen=True)
class VariantSpec:
    name: str
    instances: int = 1  # 0 = serverless
    invocations: float | None = None  # None: no datapoint at all; 0.0: a zero datapoint
    instance_type: str = "ml.m5.large"
    scalable_target: bool = False
    min_capacity: int = 1
    scheduled_suspended: bool = False

    @property
    def serverless(self) -> bool:
        return self.instances == 0


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    variants: tuple[VariantSpec, ...]
    tags: dict[str, str] = field(default_factory=dict)
    age_hours: float = 24 * 30
    shared_config: str = ""  # non-empty: reuse this endpoint config name

    @property
    def total_invocations(self) -> float:
        return sum(v.invocations or 0.0 for v in self.variants)


def seed_fleet(specs: list[EndpointSpec], now: datetime, region: str = REGION, clients=None) -> None:
    """Create the fleet inside an active moto mock: models, configs, endpoints, metrics, targets.

    moto stamps CreationTime with the real clock and has no way to create an old endpoint, so the
    age is written into the moto backend directly (the only backend access here).
    """
    from moto.sagemaker.models import sagemaker_backends

    sm, cw, aas = _clients(region, clients)
    sm.create_model(ModelName="bench-model", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": IMAGE})
    made_configs: set[str] = set()
    datapoints = []
    for spec in specs:
        config = spec.shared_config or f"{spec.name}-config"
        if config not in made_configs:
            sm.create_endpoint_config(
                EndpointConfigName=config, ProductionVariants=[_variant_config(v) for v in spec.variants]
            )
            made_configs.add(config)
        sm.create_endpoint(
            EndpointName=spec.name,
            EndpointConfigName=config,
            Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()],
        )
        for v in spec.variants:
            if v.invocations is not None:
                datapoints.append(_datapoint(spec.name, v, now))
            if v.scalable_target:
                aas.register_scalable_target(
                    ServiceNamespace="sagemaker",
                    ResourceId=f"endpoint/{spec.name}/variant/{v.name}",
                    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                    MinCapacity=v.min_capacity,
                    MaxCapacity=max(4, v.instances),
                    SuspendedState={"ScheduledScalingSuspended": v.scheduled_suspended},
                )
    for offset in range(0, len(datapoints), 1000):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=datapoints[offset : offset + 1000])
    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][region]
    for spec in specs:
        created = (now - timedelta(hours=spec.age_hours)).replace(tzinfo=None)
        backend.endpoints[spec.name].creation_time = created


def _variant_config(v: VariantSpec) -> dict:
    if v.serverless:
        return {"VariantName": v.name, "ModelName": "bench-model",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}
    return {"VariantName": v.name, "ModelName": "bench-model", "InitialInstanceCount": v.instances,
            "InstanceType": v.instance_type}


def _datapoint(endpoint: str, v: VariantSpec, now: datetime) -> dict:
    return {
        "MetricName": "Invocations",
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": v.name}],
        "Value": v.invocations,
        "Timestamp": now - timedelta(hours=2),
        "Unit": "None",
    }


def bench_fleet(n: int, seed: int) -> list[EndpointSpec]:
    """5% idle, 10% protected, 20% production, a third with two variants, 2% younger than the window."""
    # A reproducible benchmark fleet, not cryptography.
    rng = random.Random(seed)  # noqa: S311  # nosec B311
    idle = set(rng.sample(range(n), max(1, n // 20)))
    protected = set(rng.sample(range(n), n // 10))
    specs = []
    for i in range(n):
        variant_names = ("AllTraffic",) if i % 3 else ("Blue", "Green")
        traffic = None if i in idle and i % 2 else 0.0 if i in idle else float(rng.randint(1, 500))
        variants = tuple(
            VariantSpec(
                name=name,
                instances=rng.randint(1, 4),
                invocations=traffic if j == 0 else (0.0 if i in idle else traffic),
                instance_type=rng.choice(INSTANCE_TYPES),
                scalable_target=rng.random() < 0.3,
            )
            for j, name in enumerate(variant_names)
        )
        tags = {"Environment": "production" if rng.random() < 0.2 else "dev", "Project": "bench"}
        if i in protected:
            tags["ProtectionLevel"] = "critical"
        specs.append(EndpointSpec(f"ep-{i:05d}", variants, tags, age_hours=2 if rng.random() < 0.02 else 24 * 30))
    return specs


def _clients(region: str, clients) -> tuple:
    """(sagemaker, cloudwatch, autoscaling): from an AwsClients when given (creating clients is
    the slow part of a small test), else new ones."""
    if clients is not None:
        return clients.sagemaker, clients.cloudwatch, clients.autoscaling
    return tuple(boto3.client(s, region_name=region) for s in ("sagemaker", "cloudwatch", "application-autoscaling"))


def fleet_snapshot(names: list[str], region: str = REGION, clients=None) -> dict[str, object]:
    """What a user could observe of each endpoint: variant counts (None once deleted) and the
    SuspendedState of every scalable target. Used to prove a run changed nothing (or only X)."""
    sm, _, aas = _clients(region, clients)
    existing = {e["EndpointName"] for p in sm.get_paginator("list_endpoints").paginate() for e in p["Endpoints"]}
    state: dict[str, object] = {}
    resource_ids = []
    for name in names:
        if name not in existing:
            state[name] = None
            continue
        variants = sm.describe_endpoint(EndpointName=name)["ProductionVariants"]
        state[name] = {v["VariantName"]: v.get("CurrentInstanceCount") for v in variants}
        resource_ids += [f"endpoint/{name}/variant/{v['VariantName']}" for v in variants]
    # In chunks of 50 ids: moto 5.2.5 repeats NextToken when paging the whole namespace.
    for offset in range(0, len(resource_ids), 50):
        chunk = resource_ids[offset : offset + 50]
        page = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=chunk)
        for t in page["ScalableTargets"]:
            state[t["ResourceId"]] = (t["MinCapacity"], t["MaxCapacity"], dict(t.get("SuspendedState") or {}))
    return state


class CallCounter:
    """Counts every AWS API call made through the given clients, per service and operation."""

    def __init__(self, *clients) -> None:
        self.calls: Counter[str] = Counter()
        self._clients = clients
        for client in clients:
            client.meta.events.register("before-call.*.*", self._count)

    def detach(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call.*.*", self._count)

    def _count(self, model, **_kwargs) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def reset(self) -> None:
        self.calls.clear()

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def run(n: int, seed: int) -> dict[str, Any]:
    from inference_platform.idle.config import AutoStopAction, IdleDetectorSettings
    from inference_platform.idle.scan import AwsClients, run_scan

    now = datetime.now(UTC)
    results: dict[str, Any] = {}
    with mock_aws(), paged_search():
        specs = bench_fleet(n, seed)
        t0 = time.perf_counter()
        seed_fleet(specs, now)
        results["seed_seconds"] = time.perf_counter() - t0
        before = fleet_snapshot([s.name for s in specs])
        clients = AwsClients.for_region(REGION)
        counter = CallCounter(clients.sagemaker, clients.cloudwatch, clients.autoscaling)
        for label, dry_run in (("dry-run scan", True), ("scale_down scan", False)):
            settings = IdleDetectorSettings("staging", AutoStopAction.SCALE_DOWN, dry_run=dry_run)
            counter.reset()
            t0 = time.perf_counter()
            summary = run_scan(clients, settings, now)
            results[label] = {
                "wall_seconds": time.perf_counter() - t0,
                "calls": dict(sorted(counter.calls.items())),
                "total_calls": counter.total,
                "scanned": summary["scanned"],
                "active": summary["active"],
                "idle": len(summary["idle"]),
                "actions": len(summary["actions"]),
                "skipped": len(summary["skipped"]),
                "errors": len(summary["errors"]),
                "hourly_savings_usd": summary["estimated_hourly_savings_usd"],
            }
            if dry_run and fleet_snapshot([s.name for s in specs]) != before:
                raise SystemExit("the dry run changed the fleet: this is a bug")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000, help="fleet size (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the fleet (default 7)")
    args = parser.parse_args(argv)
    if args.endpoints < 1:
        parser.error("--endpoints must be at least 1")
    results = run(args.endpoints, args.seed)
    print(f"fleet: {args.endpoints} endpoints seeded in moto in {results['seed_seconds']:.1f} s")
    for label in ("dry-run scan", "scale_down scan"):
        r = results[label]
        print(f"\n{label}: {r['total_calls']} AWS API calls, {r['wall_seconds']:.2f} s wall")
        print(f"  scanned {r['scanned']}, active {r['active']}, idle {r['idle']}, actions {r['actions']}, "
              f"skipped {r['skipped']}, errors {r['errors']}, savings ${r['hourly_savings_usd']:.2f}/h")
        for op, count in r["calls"].items():
            print(f"  {count:5d}  {op}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
