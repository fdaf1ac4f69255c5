"""endpoints.yaml: model always, endpoints by flag, storage key only where the instance allows one."""

from __future__ import annotations

import json

import pytest

from inference_platform_ops.intrinsics import active_resources, parameter_values, resolve
from inference_platform_ops.templates import validate_parameters
from tests.helpers.template_loader import load_template

ENDPOINTS = load_template("endpoints.yaml")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"
BASE = {"Environment": "dev", "ProjectName": "ml-inference", "ModelImageUri": IMAGE}
NVME_FAMILIES = ("ml.m5d.", "ml.c5d.", "ml.r5d.", "ml.g4dn.", "ml.g5.", "ml.p")


def created(overrides: dict) -> dict[str, dict]:
    return active_resources(ENDPOINTS, {**BASE, **overrides})


def props(name: str, overrides: dict) -> dict:
    values = parameter_values(ENDPOINTS, {**BASE, **overrides})
    return resolve(ENDPOINTS, created(overrides)[name]["Properties"], values)


def test_flags_off_creates_only_the_model_and_its_role():
    assert {res["Type"] for res in created({}).values()} == {
        "AWS::SageMaker::Model", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"}


def test_a_given_execution_role_is_used_instead_of_creating_one():
    role = "arn:aws:iam::123456789012:role/existing"
    resources = created({"ExecutionRoleArn": role})
    assert {res["Type"] for res in resources.values()} == {"AWS::SageMaker::Model"}
    assert props("Model", {"ExecutionRoleArn": role})["ExecutionRoleArn"] == role


@pytest.mark.parametrize("instance_type", ENDPOINTS["Parameters"]["InstanceType"]["AllowedValues"])
def test_storage_key_only_for_instance_types_without_local_nvme(instance_type):
    overrides = {"EnableProvisionedEndpoint": "true", "InstanceType": instance_type}
    config = props("ProvisionedEndpointConfig", overrides)
    has_nvme = instance_type.startswith(NVME_FAMILIES)
    assert ("KmsKeyId" in config) is (not has_nvme), instance_type
    assert ("StorageKey" in created(overrides)) is (not has_nvme)


def test_every_allowed_instance_type_has_a_storage_entry():
    assert sorted(ENDPOINTS["Mappings"]["InstanceStorage"]) == sorted(
        ENDPOINTS["Parameters"]["InstanceType"]["AllowedValues"])


def test_provisioned_variant_uses_the_instance_parameters():
    overrides = {"EnableProvisionedEndpoint": "true", "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": "3"}
    variant = props("ProvisionedEndpointConfig", overrides)["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"], variant["VariantName"]) == (
        "ml.m5.xlarge", "3", "AllTraffic")


def test_serverless_limits_are_enforced_by_the_parameters():
    memory = ENDPOINTS["Parameters"]["ServerlessMemorySizeInMB"]
    assert memory["Default"] == 2048
    assert memory["AllowedValues"] == [1024, 2048, 3072, 4096, 5120, 6144]
    assert ENDPOINTS["Parameters"]["ServerlessMaxConcurrency"]["Default"] == 50
    bad = validate_parameters(ENDPOINTS, {**BASE, "ServerlessMemorySizeInMB": "1536",
                                          "ServerlessMaxConcurrency": "201"})
    assert len(bad) == 2


def test_provisioned_concurrency_is_omitted_when_zero():
    overrides = {"EnableServerlessInference": "true"}
    config = props("ServerlessEndpointConfig", overrides)["ProductionVariants"][0]["ServerlessConfig"]
    assert config == {"MemorySizeInMB": "2048", "MaxConcurrency": "50"}
    overrides["ServerlessProvisionedConcurrency"] = "4"
    config = props("ServerlessEndpointConfig", overrides)["ProductionVariants"][0]["ServerlessConfig"]
    assert config["ProvisionedConcurrency"] == "4"
    assert "KmsKeyId" not in props("ServerlessEndpointConfig", overrides)


def test_provisioned_concurrency_above_max_is_refused_before_deploy():
    main = load_template("main.yaml")
    problems = validate_parameters(main, {"Environment": "dev", "ServerlessMaxConcurrency": "10",
                                          "ServerlessProvisionedConcurrency": "11"})
    assert problems == ["ServerlessProvisionedConcurrency=11 must be at most ServerlessMaxConcurrency=10"]


@pytest.mark.parametrize("name", ["ProvisionedEndpoint", "ServerlessEndpoint", "ProvisionedEndpointConfig",
                                  "ServerlessEndpointConfig", "Model"])
def test_endpoint_resources_carry_environment_and_protection_tags(name):
    overrides = {"EnableProvisionedEndpoint": "true", "EnableServerlessInference": "true",
                 "ProtectionLevel": "critical"}
    tags = {tag["Key"]: tag["Value"] for tag in props(name, overrides)["Tags"]}
    assert tags["Environment"] == "dev"
    assert tags["ProtectionLevel"] == "critical"


def statements(overrides: dict) -> list[dict]:
    return props("ExecutionRole", overrides)["Policies"][0]["PolicyDocument"]["Statement"]


def test_created_role_reaches_exactly_the_input_location():
    """The bucket, or (through an access point alias, where IAM sees the access point's ARN) an access point
    of this account and region; nothing when there is no input location."""
    by_sid = {statement["Sid"]: statement for statement in statements({"InputLocation": "my-input-bucket"})}
    assert by_sid["BatchTransformData"]["Resource"] == [
        "arn:aws:s3:::my-input-bucket", "arn:aws:s3:::my-input-bucket/*",
        "arn:aws:s3:us-east-1:123456789012:accesspoint/*", "arn:aws:s3:us-east-1:123456789012:accesspoint/*/object/*"]
    assert "BatchTransformData" not in {statement["Sid"] for statement in statements({})}


def test_created_role_reads_only_the_model_data_object():
    by_sid = {s["Sid"]: s for s in statements({"ModelDataUrl": "s3://models-bucket/v1/model.tar.gz"})}
    assert by_sid["ReadModelData"]["Resource"] == "arn:aws:s3:::models-bucket/v1/model.tar.gz"
    assert by_sid["PullImage"]["Resource"] == "arn:aws:ecr:*:123456789012:repository/*"
    assert "*" not in json.dumps([s["Resource"] for s in statements({})]).replace("/*", "").replace(":*:", "")


def test_outputs_exist_only_with_their_endpoint():
    outputs = ENDPOINTS["Outputs"]
    assert outputs["ProvisionedEndpointName"]["Condition"] == "CreateProvisioned"
    assert outputs["ProvisionedVariantName"]["Condition"] == "CreateProvisioned"
    assert outputs["ServerlessEndpointName"]["Condition"] == "CreateServerless"
    assert "Condition" not in outputs["ModelName"]


def test_autoscaled_endpoint_keeps_its_scaled_capacity_through_updates():
    plain = props("ProvisionedEndpoint", {"EnableProvisionedEndpoint": "true"})
    scaled = props("ProvisionedEndpoint", {"EnableProvisionedEndpoint": "true", "AutoscaledVariant": "true"})
    assert "RetainAllVariantProperties" not in plain
    assert scaled["RetainAllVariantProperties"] is True
    main = load_template("main.yaml")
    assert main["Resources"]["EndpointsStack"]["Properties"]["Parameters"]["AutoscaledVariant"] == {
        "Ref": "EnableScheduledScaling"}
