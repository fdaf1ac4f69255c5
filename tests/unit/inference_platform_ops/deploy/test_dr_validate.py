"""dr_validate against moto: a seeded two-region deployment passes; each broken piece fails its own row.

moto gap worked around here (measured on 5.2.5): UpdateTable ignores ``ReplicaUpdates`` and DescribeTable
never lists ``Replicas``. The ``replicas`` fixture records replica updates on the table and returns them
from DescribeTable in the shape DynamoDB (global tables 2019.11.21) uses, so the check reads what AWS says.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from inference_platform_ops.deploy import dr_validate
from inference_platform_ops.paths import ROOT
from tests.helpers import without_aws_credentials

PRIMARY, SECONDARY = "us-east-1", "us-west-2"
STACK = "ml-inference-staging"
TABLE = "ml-inference-staging-state"


def staging_config() -> dict:
    config = json.loads((ROOT / "templates" / "params" / "staging.json").read_text())
    config["DrTier"] = 2
    config["Regions"] = {"Primary": PRIMARY, "Secondary": SECONDARY}
    config["Parameters"].update(
        {"DrTier": "2", "SecondaryRegion": SECONDARY, "ProjectName": "ml-inference",
         "EnableProvisionedEndpoint": "true", "EnableServerlessInference": "true", "EnableWorkflow": "true",
         "EnableStateStore": "true",
         # The tier 2 standby is serverless: both kinds fail over to its serverless endpoint.
         "SecondaryProvisionedEndpointName": "sls-usw2", "SecondaryServerlessEndpointName": "sls-usw2"})
    return config


@pytest.fixture
def replicas(monkeypatch) -> None:
    original_update = DynamoHandler.update_table
    original_describe = Table.describe

    def update_table(self):
        updates = self.body.get("ReplicaUpdates") or []
        if updates:
            table = self.dynamodb_backend.get_table(self.body["TableName"])
            current = dict(getattr(table, "_test_replicas", {}))
            for update in updates:
                if "Create" in update:
                    current[update["Create"]["RegionName"]] = "ACTIVE"
                if "Delete" in update:
                    current.pop(update["Delete"]["RegionName"], None)
            table._test_replicas = current
        return original_update(self)

    def describe(self, base_key: str = "TableDescription", *args, **kwargs):
        result = original_describe(self, base_key, *args, **kwargs)
        replicas_now = getattr(self, "_test_replicas", {})
        if replicas_now:
            result[base_key]["Replicas"] = [
                {"RegionName": region, "ReplicaStatus": status} for region, status in replicas_now.items()]
        return result

    monkeypatch.setattr(DynamoHandler, "update_table", update_table)
    monkeypatch.setattr(Table, "describe", describe)


def seed_region(region: str, endpoints: dict[str, str], *, replica_of: str, pitr: bool = True,
                stack: bool = True, stack_parameters: dict[str, str] | None = None) -> None:
    sagemaker = boto3.client("sagemaker", region_name=region)
    sagemaker.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/sm",
                           PrimaryContainer={"Image": f"123456789012.dkr.ecr.{region}.amazonaws.com/m:1"})
    for kind, name in endpoints.items():
        variant = {"VariantName": "AllTraffic", "ModelName": "m"}
        if kind == "serverless":
            variant["ServerlessConfig"] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
        else:
            variant.update(InstanceType="ml.m5.large", InitialInstanceCount=1)
        sagemaker.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[variant])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    if stack:
        # main.yaml has an endpoint output only for an endpoint kind it deploys.
        outputs = {f"{kind.title()}EndpointName": {"Value": name} for kind, name in endpoints.items()}
        declared = {key: {"Type": "String"} for key in (stack_parameters or {})}
        template = {"Parameters": declared, "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
        boto3.client("cloudformation", region_name=region).create_stack(
            StackName=STACK, TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (stack_parameters or {}).items()])
    dynamodb = boto3.client("dynamodb", region_name=region)
    dynamodb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    if replica_of:
        dynamodb.update_table(TableName=TABLE, ReplicaUpdates=[{"Create": {"RegionName": replica_of}}])
    if pitr:
        dynamodb.update_continuous_backups(TableName=TABLE,
                                           PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


@pytest.fixture
def aws(replicas) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def client_for(aws):
    """The script's own cached client factory, created inside the mock."""
    return dr_validate._client_factory(boto3.Session(region_name="us-east-1"), None)


def rows(checks) -> dict[tuple[str, str], bool]:
    return {(c.region, c.name): c.passed for c in checks}


def healthy_deployment() -> None:
    seed_region(PRIMARY, {"provisioned": "prov-use1", "serverless": "sls-use1"}, replica_of=SECONDARY)
    seed_region(SECONDARY, {"serverless": "sls-usw2"}, replica_of=PRIMARY)


def test_healthy_standby_passes_every_check(aws, client_for) -> None:
    healthy_deployment()
    checks = dr_validate.validate(staging_config(), client_for)

    assert [c for c in checks if not c.passed] == []
    assert rows(checks) == {
        (PRIMARY, f"stack {STACK}"): True,
        (PRIMARY, "provisioned endpoint prov-use1"): True,
        (PRIMARY, "serverless endpoint sls-use1"): True,
        (SECONDARY, f"stack {STACK}"): True,
        (SECONDARY, "serverless endpoint sls-usw2"): True,
        (SECONDARY, "standby runs no instance"): True,
        (PRIMARY, f"failover target provisioned in {SECONDARY}: sls-usw2"): True,
        (PRIMARY, f"failover target serverless in {SECONDARY}: sls-usw2"): True,
        (PRIMARY, f"state table {TABLE}"): True,
        (PRIMARY, f"replica in {SECONDARY}"): True,
        (PRIMARY, "point-in-time recovery"): True,
        (SECONDARY, f"state table {TABLE}"): True,
        (SECONDARY, f"replica in {PRIMARY}"): True,
        (SECONDARY, "point-in-time recovery"): True,
    }


def test_each_broken_piece_fails_its_own_row_and_the_rest_still_run(aws, client_for) -> None:
    seed_region(PRIMARY, {"provisioned": "prov-use1", "serverless": "sls-use1"}, replica_of="")
    # The standby runs an instance endpoint instead of its serverless one, and has PITR off.
    seed_region(SECONDARY, {"provisioned": "prov-usw2"}, replica_of=PRIMARY, pitr=False)
    boto3.client("sagemaker", region_name=PRIMARY).delete_endpoint(EndpointName="prov-use1")
    config = staging_config()
    config["Parameters"]["SecondaryServerlessEndpointName"] = ""

    checks = dr_validate.validate(config, client_for)
    failed = {(c.region, c.name): c.detail for c in checks if not c.passed}

    assert set(failed) == {
        (PRIMARY, "provisioned endpoint prov-use1"),
        (SECONDARY, "serverless endpoint"),  # no endpoint output: the stack lists no serverless endpoint
        (SECONDARY, "standby runs no instance"),
        (PRIMARY, f"failover target provisioned in {SECONDARY}: sls-usw2"),
        (PRIMARY, f"failover target serverless in {SECONDARY}: sls-use1"),
        (PRIMARY, f"replica in {SECONDARY}"),
        (SECONDARY, "point-in-time recovery"),
    }
    assert failed[(SECONDARY, "standby runs no instance")] == "instance endpoint prov-usw2 deployed in the standby"
    assert "ValidationException" in failed[(PRIMARY, "provisioned endpoint prov-use1")]
    # Empty means "the primary's own name" (names are derived, the same in every region): not there.
    assert "ValidationException" in failed[(PRIMARY, f"failover target serverless in {SECONDARY}: sls-use1")]
    assert failed[(PRIMARY, f"replica in {SECONDARY}")] == "no replica listed (replicas: none)"
    assert failed[(SECONDARY, "point-in-time recovery")] == "DISABLED"
    assert rows(checks)[(SECONDARY, f"stack {STACK}")] is True


def test_failover_target_is_read_from_the_deployed_primary_stack(aws, client_for) -> None:
    """The params file names the secondary endpoint, but the primary was deployed before it existed."""
    seed_region(PRIMARY, {"provisioned": "prov-use1", "serverless": "sls-use1"}, replica_of=SECONDARY,
                stack_parameters={"SecondaryProvisionedEndpointName": "old-name",
                                  "SecondaryServerlessEndpointName": ""})
    seed_region(SECONDARY, {"serverless": "sls-usw2"}, replica_of=PRIMARY)

    failed = {c.name: c.detail for c in dr_validate.validate(staging_config(), client_for) if not c.passed}
    assert set(failed) == {f"failover target provisioned in {SECONDARY}: old-name",
                           f"failover target serverless in {SECONDARY}: sls-use1"}


def test_missing_secondary_stack_and_table(aws, client_for) -> None:
    seed_region(PRIMARY, {"provisioned": "prov-use1", "serverless": "sls-use1"}, replica_of=SECONDARY)
    checks = dr_validate.validate(staging_config(), client_for)
    failed = {(c.region, c.name): c.detail for c in checks if not c.passed}

    assert "does not exist" in failed[(SECONDARY, f"stack {STACK}")]
    assert failed[(SECONDARY, "serverless endpoint")].endswith("stack missing")
    assert "ResourceNotFoundException" in failed[(SECONDARY, f"state table {TABLE}")]
    assert all(region == SECONDARY or "failover target" in name for region, name in failed)


def test_cold_backup_checks_only_the_primary(aws, client_for) -> None:
    config = staging_config()
    config.update(DrTier=3, DrTargets={"RpoMinutes": 1440, "RtoMinutes": 480})
    config["Parameters"].update(DrTier="3")
    seed_region(PRIMARY, {"provisioned": "prov-use1", "serverless": "sls-use1"}, replica_of="")

    checks = dr_validate.validate(config, client_for)
    assert {c.region for c in checks} == {PRIMARY}
    assert not any("replica" in c.name for c in checks)
    assert [(c.name, c.passed, c.detail) for c in checks if not c.passed] == [
        ("daily backup plan", False, f"no AWS Backup plan named {TABLE}-daily")]

    vault = "arn:aws:backup:us-west-2:123456789012:backup-vault:dr-copies"
    config["Parameters"]["DrBackupCopyVaultArn"] = vault
    boto3.client("backup", region_name=PRIMARY).create_backup_plan(BackupPlan={
        "BackupPlanName": f"{TABLE}-daily",
        "Rules": [{"RuleName": "daily", "TargetBackupVaultName": TABLE, "ScheduleExpression": "cron(0 5 ? * * *)",
                   "CopyActions": [{"DestinationBackupVaultArn": vault}]}]})
    checks = dr_validate.validate(config, client_for)
    assert all(c.passed for c in checks)
    assert rows(checks)[(PRIMARY, "daily backup plan")] is True


def test_main_prints_a_table_and_exits_non_zero_on_failure(aws, tmp_path, capsys) -> None:
    seed_region(PRIMARY, {"provisioned": "prov-use1", "serverless": "sls-use1"}, replica_of=SECONDARY)
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "staging.json").write_text(json.dumps(staging_config()))

    assert dr_validate.main(["--env", "staging", "--templates-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "DR tier 2 (standby)" in out
    assert any(line.startswith(f"{PRIMARY}  primary") and " PASS " in line for line in out.splitlines())
    assert any(line.startswith(f"{SECONDARY}") and " FAIL " in line for line in out.splitlines())
    assert "failed" in out.splitlines()[-1]


def test_bad_params_file_exits_2_with_the_reason(tmp_path, capsys) -> None:
    config = copy.deepcopy(staging_config())
    config["Regions"]["Secondary"] = ""
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "staging.json").write_text(json.dumps(config))

    assert dr_validate.main(["--env", "staging", "--templates-dir", str(tmp_path)]) == 2
    assert "DrTier 2 (standby) runs in two regions" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_endpoint_url_runs_against_an_emulator_server(tmp_path, capsys) -> None:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
        config = staging_config()
        config.update(DrTier=3, DrTargets={"RpoMinutes": 1440, "RtoMinutes": 480})
        config["Parameters"].update(DrTier="3", EnableProvisionedEndpoint="false", EnableServerlessInference="false")
        session.client("cloudformation", region_name=PRIMARY, endpoint_url=url).create_stack(
            StackName=STACK, TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}))
        dynamodb = session.client("dynamodb", region_name=PRIMARY, endpoint_url=url)
        dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        (tmp_path / "params").mkdir()
        (tmp_path / "params" / "staging.json").write_text(json.dumps(config))

        code = dr_validate.main(["--env", "staging", "--templates-dir", str(tmp_path), "--endpoint-url", url])
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 1  # PITR was never switched on
    assert f"{PRIMARY}  primary  stack {STACK}" in out
    assert "point-in-time recovery" in out and "DISABLED" in out


def test_no_credentials_for_a_real_environment_is_one_line_not_a_row_per_check(monkeypatch, tmp_path, capsys):
    without_aws_credentials(monkeypatch, tmp_path)

    code = dr_validate.main(["--env", "staging"])

    captured = capsys.readouterr()
    assert code == dr_validate.EXIT_BAD_INPUT
    assert captured.out == ""
    assert captured.err.strip().startswith("dr-validate: no AWS credentials for ENV=staging")
    assert len(captured.err.strip().splitlines()) == 1
