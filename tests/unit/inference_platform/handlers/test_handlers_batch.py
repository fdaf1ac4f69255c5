"""StartBatch and BatchCallback: token parked before the job, delivered once, in its home region, never lost."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from inference_platform.handlers import batch_callback, start_batch
from inference_platform.workflow.batch import complete_from_event, parse_event, transform_job_name
from inference_platform.workflow.config import StartBatchConfig
from inference_platform.workflow.state_store import TokenConflictError, TokenStore
from inference_platform_ops.emulator.lambdas import (
    EmulatedLambdaContext,
    SageMakerScript,
    scripted_sagemaker_runtime,
    workflow_emulation,
)
from tests.helpers import workflow_harness as harness
from tests.helpers.workflow_harness import aws, transform_event

TABLE = harness.PARAMETERS["StateTableName"]
CONTEXT = EmulatedLambdaContext("cb", "arn:aws:lambda:us-east-1:123456789012:function:cb")
EXEC_ARN = "arn:aws:states:us-west-2:123456789012:execution:ml-inference-local-inference:run-1"


def token_store() -> TokenStore:
    return TokenStore(harness._session().resource("dynamodb").Table(TABLE))


def batch_config() -> StartBatchConfig:
    return StartBatchConfig.from_env({
        "INPUT_LOCATION": harness.BUCKET, "MODEL_NAME": "m", "TRANSFORM_INSTANCE_TYPE": "ml.m5.large",
        "STATE_TABLE_NAME": TABLE, "JOB_NAME_PREFIX": "p", "ENVIRONMENT": "local",
        "INPUT_PREFIX": "input/", "OUTPUT_PREFIX": "output/"})


def token_item(job_name: str, region: str = harness.REGION) -> dict:
    import boto3

    table = boto3.session.Session(region_name=region).resource("dynamodb").Table(TABLE)
    return table.get_item(Key={"pk": f"transform-job#{job_name}", "sk": "task-token"}).get("Item")


@pytest.fixture
def workflow():
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        workflow_emulation(),
        scripted_sagemaker_runtime(SageMakerScript()),
    ):
        yield harness.deploy()


def waiting_batch_execution(workflow, name: str) -> tuple[str, str]:
    harness.put_inputs(1)
    execution = workflow.start(name, {"mode": "batch"})
    workflow.wait_for_state(execution, "BatchTransform")
    job_name = transform_job_name("ml-inference-local", execution)
    harness.wait_until(lambda: token_item(job_name), f"the task token of {job_name}")
    return execution, job_name


def test_start_batch_stores_the_token_with_its_home_region_and_a_ttl(workflow):
    execution, job_name = waiting_batch_execution(workflow, "ttl")
    item = token_item(job_name)
    assert item["home_region"] == harness.REGION and item["execution_arn"] == execution
    assert item["status"] == "WAITING" and item["expires_at"] - item["created_at"] == 7 * 86_400
    job = aws("sagemaker").describe_transform_job(TransformJobName=job_name)
    assert job["ModelName"] == harness.PARAMETERS["ModelName"]
    assert job["TransformOutput"]["S3OutputPath"].endswith(f"output/batch/{job_name}/")


def test_replicated_token_is_completed_in_its_home_region(workflow, monkeypatch):
    """A callback running in another region (reading the replica) still completes the execution, because
    it claims the token in the home region's replica and talks to Step Functions there."""
    execution, job_name = waiting_batch_execution(workflow, "home")
    harness.create_state_table(TABLE, "us-west-2")
    import boto3
    boto3.session.Session(region_name="us-west-2").resource("dynamodb").Table(TABLE).put_item(
        Item=token_item(job_name))  # what global-table replication would do
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("STATE_TABLE_NAME", TABLE)

    outcome = batch_callback.handler(transform_event(job_name), CONTEXT)

    assert outcome["action"] == "delivered"
    assert workflow.wait(execution)["status"] == "SUCCEEDED"
    assert token_item(job_name)["status"] == "DELIVERED"  # claimed and marked in the home region
    # Replication would bring DELIVERED here too; until then this copy still says WAITING, and a second
    # event handled here must not deliver again: it reads the home replica before claiming.
    assert token_item(job_name, "us-west-2")["status"] == "WAITING"
    assert batch_callback.handler(transform_event(job_name), CONTEXT)["action"] == "duplicate"


def test_token_that_cannot_be_delivered_is_kept_and_counted(workflow, monkeypatch, capsys):
    """The execution behind the token is gone (Step Functions answers InvalidToken): the item stays, marked
    UNDELIVERABLE, with a metric and an error log, instead of silently disappearing."""
    job_name = "ml-inference-local-orphan"
    store = token_store()
    store.put_waiting(job_name, "token-of-an-execution-that-ended", harness.REGION, EXEC_ARN, 7)
    monkeypatch.setenv("AWS_REGION", harness.REGION)
    monkeypatch.setenv("STATE_TABLE_NAME", TABLE)

    outcome = batch_callback.handler(transform_event(job_name), CONTEXT)

    assert outcome["action"] == "undeliverable"
    item = token_item(job_name)
    assert item["status"] == "UNDELIVERABLE" and item["task_token"]  # still there for an operator
    assert "InvalidToken" in item["error"]
    assert "TokenUndeliverable" in capsys.readouterr().out
    assert batch_callback.handler(transform_event(job_name), CONTEXT)["action"] == "duplicate"  # sent once only


class FailingStepFunctions:
    """A Step Functions client of the token's home region whose SendTaskSuccess fails with ``error``."""

    def __init__(self, error: Exception):
        self.error = error

    def send_task_success(self, **_):
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "SendTaskSuccess"),
        # The home region unreachable: a BotoCoreError, not a ClientError, must not leave the token claimed.
        EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com"),
    ],
    ids=["throttled", "unreachable"],
)
def test_transient_delivery_error_puts_the_token_back_for_the_retried_event(workflow, error):
    execution, job_name = waiting_batch_execution(workflow, f"transient-{type(error).__name__.lower()}")

    counted: list[str] = []
    with pytest.raises(type(error)):
        complete_from_event(parse_event(transform_event(job_name)), token_store(),
                            lambda _: FailingStepFunctions(error), counted.append)

    assert token_item(job_name)["status"] == "WAITING" and counted == ["TokenDeliveryRetried"]
    workflow.invoke_callback(transform_event(job_name))  # the retried event delivers it
    assert workflow.wait(execution)["status"] == "SUCCEEDED"


def test_job_name_cannot_be_taken_over_by_another_execution(workflow):
    store = token_store()
    store.put_waiting("job-1", "token-a", "us-east-1", "arn:exec-a", 7)
    store.put_waiting("job-1", "token-a2", "us-east-1", "arn:exec-a", 7)  # a retried StartBatch refreshes it
    with pytest.raises(TokenConflictError, match="job-1"):
        store.put_waiting("job-1", "token-b", "us-east-1", "arn:exec-b", 7)
    assert store.get("job-1").task_token == "token-a2"


def test_non_terminal_and_malformed_events():
    assert complete_from_event(parse_event(transform_event("j", "InProgress")), None, None, lambda _: None).action \
        == "ignored"
    with pytest.raises(ValueError, match="detail"):
        parse_event({"source": "aws.sagemaker"})
    with pytest.raises(ValueError, match="TransformJobName"):
        parse_event({"detail": {"TransformJobStatus": "Completed"}})


def test_job_names_are_valid_and_stable():
    name = transform_job_name("ml-inference-production", EXEC_ARN)
    assert name == transform_job_name("ml-inference-production", EXEC_ARN) and len(name) <= 63
    assert name != transform_job_name("ml-inference-production", EXEC_ARN + "x")
    assert len(transform_job_name("x" * 80, EXEC_ARN)) <= 63
    assert start_batch.home_region_of(EXEC_ARN) == "us-west-2"
    with pytest.raises(ValueError, match="execution_arn"):
        start_batch.home_region_of("not-an-arn")


def test_start_batch_config_names_missing_variables():
    with pytest.raises(ValueError, match="MODEL_NAME"):
        StartBatchConfig.from_env({"INPUT_LOCATION": "b", "TRANSFORM_INSTANCE_TYPE": "ml.m5.large",
                                   "INPUT_PREFIX": "in/", "OUTPUT_PREFIX": "out/"})


def test_start_transform_requires_token_and_execution(workflow):
    from inference_platform.workflow.batch import start_transform

    config = batch_config()
    store = token_store()
    with pytest.raises(ValueError, match="task_token"):
        start_transform(aws("sagemaker"), store, config, task_token="", execution_arn=EXEC_ARN, home_region="x")
    with pytest.raises(ValueError, match="execution_arn"):
        start_transform(aws("sagemaker"), store, config, task_token="t", execution_arn="", home_region="x")
    assert json.dumps(config.__dict__)


class RejectingSageMaker:
    """CreateTransformJob answering with a fixed error, as SageMaker does for a name that exists."""

    def __init__(self, code: str, message: str):
        self.error = ClientError({"Error": {"Code": code, "Message": message}}, "CreateTransformJob")

    def create_transform_job(self, **_):
        raise self.error


def test_retried_start_batch_keeps_waiting_for_the_job_it_already_created(workflow):
    from inference_platform.workflow.batch import start_transform

    config = batch_config()
    store = token_store()
    exists = RejectingSageMaker("ValidationException", "Job name must be unique: a job with this name already exists")

    started = start_transform(exists, store, config, task_token="t2", execution_arn=EXEC_ARN, home_region="us-west-2")

    assert store.get(started["transform_job_name"]).task_token == "t2"
    limit = RejectingSageMaker("ResourceLimitExceeded", "too many transform jobs")
    with pytest.raises(ClientError, match="too many"):
        start_transform(limit, store, config, task_token="t3", execution_arn=EXEC_ARN, home_region="us-west-2")


class _SerialisedTable:
    """A Table whose calls run one at a time, as DynamoDB serialises the writes to one item. moto's conditional
    update is a read and a write in Python, which two threads can interleave; the service's is atomic."""

    def __init__(self, table):
        self._table = table
        self._lock = __import__("threading").Lock()

    def __getattr__(self, name):
        method = getattr(self._table, name)

        def serialised(*args, **kwargs):
            with self._lock:
                return method(*args, **kwargs)

        return serialised


class _RecordingStepFunctions:
    def __init__(self):
        self.sent: list[tuple[str, str]] = []
        self._lock = __import__("threading").Lock()

    def client_for(self, region: str):
        recorder = self

        class _Client:
            def send_task_success(self, taskToken, output):
                with recorder._lock:
                    recorder.sent.append((region, taskToken))

        return _Client()


def test_two_regions_racing_for_one_token_complete_it_exactly_once():
    """Active-active: the transform job's state change reaches a callback in each region at once, each reading
    its own replica of the global table (both say WAITING). Both claim in the token's home region, so one
    completes the execution and the other answers "already done"; Step Functions hears the token once."""
    import threading

    import boto3

    job_name = "ml-inference-local-raced"
    with mock_aws():
        tables = {}
        for region in ("us-east-1", "us-west-2"):
            harness.create_state_table(TABLE, region)
            resource = boto3.session.Session(region_name=region).resource("dynamodb")
            tables[region] = _SerialisedTable(resource.Table(TABLE))
        TokenStore(tables["us-east-1"]).put_waiting(job_name, "the-token", "us-east-1", EXEC_ARN, 7)
        replicated = tables["us-east-1"].get_item(Key={"pk": f"transform-job#{job_name}", "sk": "task-token"})["Item"]
        tables["us-west-2"].put_item(Item=replicated)  # what global-table replication does
        sfn = _RecordingStepFunctions()
        both_read = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        class _LocalReplica(TokenStore):
            def get(self, job):  # both callbacks have read their replica before either claims
                record = super().get(job)
                both_read.wait(timeout=10)
                return record

        def callback(region: str) -> None:
            outcome = complete_from_event(
                parse_event(transform_event(job_name)), _LocalReplica(tables[region]), sfn.client_for,
                lambda _metric: None, store_in_region=lambda home: TokenStore(tables[home]))
            outcomes[region] = outcome.action

        threads = [threading.Thread(target=callback, args=(region,)) for region in tables]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert sorted(outcomes.values()) == ["delivered", "duplicate"]
        assert sfn.sent == [("us-east-1", "the-token")]
        home = TokenStore(tables["us-east-1"]).get(job_name)
        assert home.status == "DELIVERED"
