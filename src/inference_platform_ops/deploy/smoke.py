"""End-to-end smoke test of a deployment: `make smoke ENV=<env>` (default local, the emulator).

Checks, per region the environment deploys to (and the billing stack in us-east-1):
* every stack, nested stacks included, is CREATE_COMPLETE or UPDATE_COMPLETE;
* every endpoint named in the outputs is InService;
* the InferencePipeline state machine runs a small sample request to SUCCEEDED twice: as routed
  (``mode: auto``) and forced to batch transform (``mode: batch``: the transform job runs, its
  state-change event completes the execution, its outputs are counted). Sample files are written under
  the input prefix first and removed afterwards with every output they produced; locally the input
  bucket is created in the emulator. An execution still running at the timeout is stopped;
* every CloudWatch alarm the stacks declare exists (resources the emulator could not create are
  listed as SKIP, not counted as passes).

Prints a pass/fail table; exit 1 on any failure, 2 on bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from inference_platform_ops.deploy import stack_ops
from inference_platform_ops.deploy.aws_access import endpoint_for, session_for
from inference_platform_ops.deploy.config import BILLING_REGION, ConfigError, load_config
from inference_platform_ops.iam import recorder
from inference_platform_ops.paths import TEMPLATES

SAMPLE_FILES = 3


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS | FAIL | SKIP
    detail: str


class Smoke:
    def __init__(self, session: boto3.Session, endpoint: str | None, timeout: float):
        self.session = session
        self.endpoint = endpoint
        self.timeout = timeout
        self.checks: list[Check] = []
        self._clients: dict[tuple[str, str], object] = {}

    def client(self, service: str, region: str):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=region, endpoint_url=self.endpoint)
        return self._clients[key]

    def record(self, name: str, ok: bool | None, detail: str) -> bool:
        self.checks.append(Check(name, "SKIP" if ok is None else ("PASS" if ok else "FAIL"), detail))
        return bool(ok)

    # --- checks ------------------------------------------------------------------------------

    def stacks_complete(self, region: str, stack_name: str) -> bool:
        cfn = self.client("cloudformation", region)
        status = stack_ops.stack_status(cfn, stack_name)
        ok = self.record(f"stack {stack_name} ({region})", status in stack_ops.SUCCESS, status or "does not exist")
        if not ok:
            return False
        for row in cfn.describe_stack_resources(StackName=stack_name).get("StackResources", []):
            if row.get("ResourceType") == "AWS::CloudFormation::Stack" and row.get("PhysicalResourceId"):
                nested = stack_ops.stack_status(cfn, row["PhysicalResourceId"])
                self.record(f"  nested {row['LogicalResourceId']} ({region})", nested in stack_ops.SUCCESS,
                            nested or "does not exist")
        return True

    def endpoints_in_service(self, region: str, outputs: dict[str, str]) -> None:
        sagemaker = self.client("sagemaker", region)
        for key in ("ProvisionedEndpointName", "ServerlessEndpointName"):
            name = outputs.get(key)
            if not name:
                continue
            try:
                status = sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
            except ClientError as exc:
                status = exc.response["Error"].get("Message", "not found")
            self.record(f"endpoint {key} ({region})", status == "InService", f"{name}: {status}")

    def alarms_exist(self, region: str, stack_name: str) -> None:
        cfn = self.client("cloudformation", region)
        cloudwatch = self.client("cloudwatch", region)
        declared = [row for stack, row in _all_resources(cfn, stack_name)
                    if row.get("ResourceType") == "AWS::CloudWatch::Alarm"]
        for row in declared:
            label = f"alarm {row['LogicalResourceId']} ({region})"
            name = row.get("PhysicalResourceId")
            if not name:
                self.record(label, None, "not created: the emulator does not support AWS::CloudWatch::Alarm")
                continue
            found = cloudwatch.describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
            self.record(label, bool(found), name if found else f"{name} not found")

    def sample_request(self, region: str, outputs: dict[str, str], parameters: dict[str, str]) -> None:
        """The sample files through the pipeline twice: as routed ("auto") and forced to batch transform."""
        arn = outputs.get("StateMachineArn")
        if not arn:
            self.record(f"state machine ({region})", None, "EnableWorkflow is off: no state machine deployed")
            return
        s3 = self.client("s3", region)
        location, prefix = parameters.get("InputLocation", ""), parameters.get("InputPrefix", "")
        output_prefix = parameters.get("OutputPrefix", "")
        run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        if self.endpoint:
            with recorder.unrecorded():  # on AWS the input location exists already
                _ensure_bucket(s3, location, region)
        keys = [f"{prefix}smoke-{run_id}-{index}.json" for index in range(SAMPLE_FILES)]
        try:
            for index, key in enumerate(keys):
                s3.put_object(Bucket=location, Key=key, ContentType="application/json",
                              Body=json.dumps({"instances": [[index, index + 1]]}).encode())
        except ClientError as exc:
            code = exc.response["Error"].get("Code")
            self.record(f"state machine sample request ({region})", False,
                        f"cannot write sample files to {location}/{prefix} ({code}): the caller needs s3:PutObject "
                        f"and s3:DeleteObject on {prefix}smoke-*")
            return
        written = [f"{output_prefix}{key[len(prefix):]}.out" for key in keys]
        try:
            for label, mode in (("sample request", "auto"), ("batch request", "batch")):
                name = f"smoke-{run_id}" + ("-batch" if mode == "batch" else "")
                written += self._run(region, arn, name, mode, label, location=location)
        finally:
            _remove_samples(s3, location, keys + written)  # later real runs must not pick them up

    def _run(self, region: str, arn: str, name: str, mode: str, label: str, *, location: str) -> list[str]:
        """One execution to its end; returns the batch outputs it wrote (to be removed with the samples)."""
        sfn, s3 = self.client("stepfunctions", region), self.client("s3", region)
        execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"mode": mode}))
        described = _wait_for_execution(sfn, execution["executionArn"], self.timeout)
        output = json.loads(described.get("output") or "{}")
        route, batch = output.get("route") or {}, output.get("batch") or {}
        batch_outputs = _listed(s3, location, batch.get("output_path", ""))
        ok = described["status"] == "SUCCEEDED" and (mode != "batch" or route.get("strategy") == "batch_transform")
        if described["status"] == "SUCCEEDED":
            detail = f"SUCCEEDED: {route.get('strategy', '?')} over {route.get('file_count', '?')} file(s)"
            if batch:
                detail += f", transform job {batch.get('transform_job_name')} wrote {len(batch_outputs)} output(s)"
        elif described["status"] == "RUNNING":
            detail = f"still RUNNING after {self.timeout:.0f} s (stopped)"
            sfn.stop_execution(executionArn=execution["executionArn"], error="SmokeTimeout",
                               cause=f"make smoke gave up after {self.timeout:.0f} s")
        else:
            detail = f"{described['status']}: {described.get('error', '')} {described.get('cause', '')}".rstrip()
        self.record(f"state machine {label} ({region})", ok, f"{name} {detail}")
        return batch_outputs

    def table(self) -> str:
        width = max(len(c.name) for c in self.checks)
        return "\n".join(f"{c.status:<5} {c.name:<{width}}  {c.detail}" for c in self.checks)


def _all_resources(cfn, stack_name: str, depth: int = 0) -> list[tuple[str, dict]]:
    rows = []
    for row in cfn.describe_stack_resources(StackName=stack_name).get("StackResources", []):
        rows.append((stack_name, row))
        if row.get("ResourceType") == "AWS::CloudFormation::Stack" and row.get("PhysicalResourceId") and depth < 5:
            rows.extend(_all_resources(cfn, row["PhysicalResourceId"], depth + 1))
    return rows


def _ensure_bucket(s3, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)


def _listed(s3, location: str, s3_uri: str) -> list[str]:
    """Keys under an s3://<location>/<prefix>/ output path (the batch job's outputs)."""
    if not s3_uri.startswith(f"s3://{location}/"):
        return []
    prefix = s3_uri.removeprefix(f"s3://{location}/")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=location, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _remove_samples(s3, location: str, keys: list[str]) -> None:
    try:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys at most
            s3.delete_objects(Bucket=location, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]],
                                                       "Quiet": True})
    except ClientError as exc:
        print(f"smoke: WARNING could not remove the sample files {keys} from {location}: "
              f"{exc.response['Error'].get('Code')}")


def _wait_for_execution(sfn, arn: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


def run(args: argparse.Namespace) -> int:
    from inference_platform_ops.deploy.dr_tiers import region_plans

    config = load_config(args.env, args.templates_dir / "params")
    try:
        plans = region_plans(config)
    except ValueError as exc:
        raise ConfigError(f"params file {config['_path']}: {exc}") from exc
    endpoint = endpoint_for(args.env, args.endpoint_url, "smoke")
    smoke = Smoke(session_for(args.env, endpoint, plans[0].region), endpoint,
                  args.timeout or (60.0 if endpoint else 1800.0))
    for plan in plans:
        if not smoke.stacks_complete(plan.region, config["StackName"]):
            continue
        outputs = dict(stack_ops.outputs(smoke.client("cloudformation", plan.region), config["StackName"]))
        smoke.endpoints_in_service(plan.region, outputs)
        smoke.alarms_exist(plan.region, config["StackName"])
        smoke.sample_request(plan.region, outputs, plan.parameters)
    if (config.get("BillingAlarms") or {}).get("Enabled"):
        billing = f"{config['StackName']}-billing"
        if smoke.stacks_complete(BILLING_REGION, billing):
            smoke.alarms_exist(BILLING_REGION, billing)
    print(smoke.table())
    failed = sum(c.status == "FAIL" for c in smoke.checks)
    passed = sum(c.status == "PASS" for c in smoke.checks)
    skipped = sum(c.status == "SKIP" for c in smoke.checks)
    print(f"smoke: {passed} passed, {failed} failed, {skipped} skipped ({args.env})")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke-test a deployment end to end.")
    parser.add_argument("--env", default=os.environ.get("ENV", "local"))
    parser.add_argument("--endpoint-url", default=None, help="emulator endpoint (default: the running local one)")
    parser.add_argument("--templates-dir", type=Path, default=TEMPLATES)
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for the sample execution")
    args = parser.parse_args(argv)
    try:
        with recorder.acting_as(recorder.Principal("deploy", args.env)), recorder.world(args.env, args.templates_dir):
            return run(args)
    except ConfigError as exc:
        print(f"smoke: error: {exc}")
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"smoke: FAIL AWS call: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
