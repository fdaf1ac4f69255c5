"""The child templates build in moto the way the local emulator builds them (in-process, no network).

main.yaml itself is deployed by the deploy script's own tests (nested stacks need packaged URLs).
"""

from __future__ import annotations

import json

import boto3
import moto.kms.models as kms_models
import pytest
from moto import mock_aws

from tests.helpers.template_loader import TEMPLATES

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"


@pytest.fixture
def cfn(monkeypatch):
    # moto 5.2.5 hands AWS::KMS::Key properties to KMS unconverted: CloudFormation's {Key, Value} tags
    # fail with KeyError: 'TagKey', and the KeyPolicy object later breaks DescribeKey (it expects JSON
    # text). Convert both, as the emulator must.
    original = kms_models.KmsBackend.create_key

    def create_key(self, *args, **kwargs):
        tags = kwargs.get("tags") or []
        kwargs["tags"] = [{"TagKey": t.get("TagKey", t.get("Key")), "TagValue": t.get("TagValue", t.get("Value"))}
                          for t in tags]
        if isinstance(kwargs.get("policy"), dict):
            kwargs["policy"] = json.dumps(kwargs["policy"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(kms_models.KmsBackend, "create_key", create_key)
    with mock_aws():
        yield boto3.client("cloudformation", region_name="us-east-1")


def deploy(cfn, name: str, template: str, parameters: dict[str, str]) -> dict[str, str]:
    cfn.create_stack(StackName=name, TemplateBody=(TEMPLATES / template).read_text(),
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                     Capabilities=["CAPABILITY_IAM"])
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def endpoint_config(endpoint_name: str) -> dict:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    return sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])


def test_endpoints_build_with_storage_key_and_provisioned_concurrency(cfn):
    outputs = deploy(cfn, "endpoints", "endpoints.yaml", {
        "Environment": "local", "ProjectName": "ml-inference", "ModelImageUri": IMAGE,
        "EnableProvisionedEndpoint": "true", "EnableServerlessInference": "true",
        "ServerlessProvisionedConcurrency": "2", "ProtectionLevel": "critical", "AutoscaledVariant": "true",
        "InputLocation": "fsx-volume-abcdefghijklmnopqrstuvwxyz12-ext-s3alias"})
    provisioned = endpoint_config(outputs["ProvisionedEndpointName"])
    assert provisioned["KmsKeyId"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert provisioned["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    serverless = endpoint_config(outputs["ServerlessEndpointName"])
    assert serverless["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": 2048, "MaxConcurrency": 50, "ProvisionedConcurrency": 2}
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    arn = sagemaker.describe_endpoint(EndpointName=outputs["ProvisionedEndpointName"])["EndpointArn"]
    tags = {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["ProtectionLevel"] == "critical"
    assert tags["Environment"] == "local"


def test_nvme_instance_gets_no_storage_key(cfn):
    outputs = deploy(cfn, "endpoints-gpu", "endpoints.yaml", {
        "Environment": "local", "ProjectName": "ml-inference", "ModelImageUri": IMAGE,
        "EnableProvisionedEndpoint": "true", "InstanceType": "ml.g4dn.xlarge"})
    assert "KmsKeyId" not in endpoint_config(outputs["ProvisionedEndpointName"])
    assert "ServerlessEndpointName" not in outputs


@pytest.mark.parametrize(("tier", "replicas"), [("1", "us-east-1,us-west-2"), ("3", "us-east-1")])
def test_state_store_conditions_evaluate_in_the_emulator(cfn, tier, replicas):
    outputs = deploy(cfn, f"state-{tier}", "state-store.yaml", {
        "Environment": "production", "ProjectName": "ml-inference", "PrimaryRegion": "us-east-1",
        "SecondaryRegion": "us-west-2", "DrTier": tier})
    assert outputs["TableName"] == "ml-inference-production-state"
    assert outputs["ReplicaRegions"] == replicas


def test_billing_topic_is_encrypted(cfn):
    outputs = deploy(cfn, "billing", "billing-alarms.yaml", {"Environment": "local"})
    sns = boto3.client("sns", region_name="us-east-1")
    attributes = sns.get_topic_attributes(TopicArn=outputs["AlarmTopicArn"])["Attributes"]
    key = boto3.client("kms", region_name="us-east-1").describe_key(KeyId=attributes["KmsMasterKeyId"])
    assert key["KeyMetadata"]["Description"] == "Encrypts the billing alarm topic"


def test_scale_to_zero_endpoint_hosts_a_component_the_emulator_can_describe(cfn):
    """EnableScaleToZero: the endpoint config names no model and lets SageMaker scale instances to 0, the model
    runs as an inference component, and the emulator answers DescribeInferenceComponent (the router asks it
    for the copy count) from what the stack created."""
    from inference_platform_ops.emulator import compat

    with compat.patched():
        outputs = deploy(cfn, "endpoints-s2z", "endpoints.yaml", {
            "Environment": "local", "ProjectName": "ml-inference", "ModelImageUri": IMAGE,
            "EnableProvisionedEndpoint": "true", "EnableScaleToZero": "true", "ComponentMaxInstanceCount": "3"})
        [variant] = endpoint_config(outputs["ProvisionedEndpointName"])["ProductionVariants"]
        component = boto3.client("sagemaker", region_name="us-east-1").describe_inference_component(
            InferenceComponentName=outputs["InferenceComponentName"])

    assert outputs["InferenceComponentName"] == "ml-inference-local-component"
    assert "ModelName" not in variant
    assert component["EndpointName"] == outputs["ProvisionedEndpointName"]
    assert component["RuntimeConfig"]["CurrentCopyCount"] == 1
    assert component["Specification"]["ModelName"] == outputs["ModelName"]
