"""emulator.search_paging: moto's SageMaker Search pages like SageMaker's, and only inside the block."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from inference_platform_ops.emulator.search_paging import paged_search

REGION = "us-east-1"


@pytest.fixture
def sagemaker_with_25_endpoints():
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model(
            ModelName="m",
            ExecutionRoleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/r",
            PrimaryContainer={"Image": "image"},
        )
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {"VariantName": "A", "ModelName": "m", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}
            ],
        )
        for i in range(25):
            sm.create_endpoint(EndpointName=f"ep-{i:02d}", EndpointConfigName="c", Tags=[{"Key": "n", "Value": str(i)}])
        yield sm


def _names(pages) -> list[str]:
    return [r["Endpoint"]["EndpointName"] for page in pages for r in page["Results"]]


def test_pages_hold_max_results_and_together_every_endpoint_with_its_tags(sagemaker_with_25_endpoints):
    sm = sagemaker_with_25_endpoints
    with paged_search():
        pages = list(sm.get_paginator("search").paginate(Resource="Endpoint", PaginationConfig={"PageSize": 10}))
        default_page = sm.search(Resource="Endpoint")

    assert [len(p["Results"]) for p in pages] == [10, 10, 5]
    assert sorted(_names(pages)) == [f"ep-{i:02d}" for i in range(25)]
    records = [r["Endpoint"] for page in pages for r in page["Results"]]
    assert all(r["Tags"] == [{"Key": "n", "Value": str(int(r["EndpointName"][3:]))}] for r in records)
    assert all(r["ProductionVariants"][0]["CurrentInstanceCount"] == 2 for r in records)
    assert len(default_page["Results"]) == 10 and default_page["NextToken"]


def test_max_results_above_100_is_refused(sagemaker_with_25_endpoints):
    with paged_search(), pytest.raises(ClientError, match="MaxResults must be between 1 and 100"):
        sagemaker_with_25_endpoints.search(Resource="Endpoint", MaxResults=101)


def test_outside_the_block_moto_answers_in_one_page(sagemaker_with_25_endpoints):
    with paged_search():
        pass
    page = sagemaker_with_25_endpoints.search(Resource="Endpoint", MaxResults=10)
    assert len(page["Results"]) == 25
    assert not page.get("NextToken")
