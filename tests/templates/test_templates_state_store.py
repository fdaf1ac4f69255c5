"""state-store.yaml: one global table, replicas by DR tier, protection in production."""

from __future__ import annotations

import copy

import pytest

from inference_platform_ops.intrinsics import active_resources, resolve
from inference_platform_ops.templates import validate_parameters
from tests.helpers.template_loader import load_template

STATE = load_template("state-store.yaml")
BASE = {"Environment": "staging", "ProjectName": "ml-inference", "PrimaryRegion": "us-east-1"}


def table(overrides: dict) -> tuple[str, dict, dict]:
    values = {**BASE, **overrides}
    created = active_resources(STATE, values)
    tables = [name for name, res in created.items() if res["Type"] == "AWS::DynamoDB::GlobalTable"]
    assert len(tables) == 1, tables
    resolved = resolve(STATE, created[tables[0]]["Properties"], {**_defaults(), **values})
    return tables[0], created[tables[0]], resolved


def _defaults() -> dict:
    return {name: str(spec["Default"]) for name, spec in STATE["Parameters"].items() if "Default" in spec}


def regions(properties: dict) -> list[str]:
    return [replica["Region"] for replica in properties["Replicas"]
            if isinstance(replica, dict) and "Region" in replica]


@pytest.mark.parametrize(("tier", "secondary", "expected"), [
    ("1", "us-west-2", ["us-east-1", "us-west-2"]),
    ("2", "us-west-2", ["us-east-1", "us-west-2"]),
    ("3", "us-west-2", ["us-east-1"]),
    ("2", "", ["us-east-1"]),
])
def test_replicas_follow_the_dr_tier(tier, secondary, expected):
    _, _, props = table({"DrTier": tier, "SecondaryRegion": secondary})
    assert regions(props) == expected


def test_every_replica_has_pitr_and_the_table_is_kms_encrypted_on_demand_with_ttl():
    _, _, props = table({"DrTier": "1", "SecondaryRegion": "us-west-2"})
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["TableName"] == "ml-inference-staging-state"
    for replica in props["Replicas"]:
        if isinstance(replica, dict) and "Region" in replica:
            assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_production_table_is_retained_and_deletion_protected():
    name, resource, props = table({"Environment": "production", "DrTier": "1", "SecondaryRegion": "us-west-2"})
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"
    assert all(replica["DeletionProtectionEnabled"] is True for replica in props["Replicas"] if "Region" in replica)


@pytest.mark.parametrize("env", ["local", "dev", "staging"])
def test_non_production_tables_go_away_with_their_stack(env):
    _, resource, props = table({"Environment": env})
    assert resource["DeletionPolicy"] == "Delete"
    assert all(replica["DeletionProtectionEnabled"] is False for replica in props["Replicas"] if "Region" in replica)


def test_the_two_table_copies_differ_only_in_deletion_behaviour():
    def normalised(name: str) -> dict:
        resource = copy.deepcopy(STATE["Resources"][name])
        for key in ("Condition", "DeletionPolicy", "UpdateReplacePolicy"):
            resource.pop(key)
        text = repr(resource)
        return text.replace("'DeletionProtectionEnabled': True", "X").replace("'DeletionProtectionEnabled': False", "X")

    assert normalised("ProductionStateTable") == normalised("StateTable")


def test_cold_backup_tier_gets_daily_backups_and_replicated_tiers_do_not():
    tier3 = active_resources(STATE, {**BASE, "DrTier": "3"})
    tier1 = active_resources(STATE, {**BASE, "DrTier": "1", "SecondaryRegion": "us-west-2"})
    backup_types = {"AWS::Backup::BackupVault", "AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection"}
    assert backup_types <= {res["Type"] for res in tier3.values()}
    assert not backup_types & {res["Type"] for res in tier1.values()}


def test_backups_are_copied_only_when_a_vault_is_named():
    plan = STATE["Resources"]["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"][0]
    values = {**_defaults(), **BASE}
    assert "CopyActions" not in resolve(STATE, plan, values)
    vault = "arn:aws:backup:us-west-2:123456789012:backup-vault:dr-copies"
    copies = resolve(STATE, plan, {**values, "BackupCopyVaultArn": vault})["CopyActions"]
    assert copies[0]["DestinationBackupVaultArn"] == vault


def test_rules_keep_the_table_in_its_home_region():
    assert validate_parameters(STATE, {**BASE}, region="us-east-1") == []
    problems = validate_parameters(STATE, {**BASE}, region="us-west-2")
    assert any("primary region" in problem for problem in problems)
    problems = validate_parameters(STATE, {**BASE, "SecondaryRegion": "us-east-1"}, region="us-east-1")
    assert any("must differ" in problem for problem in problems)
