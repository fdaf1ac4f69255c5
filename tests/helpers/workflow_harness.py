"""Stand up templates/workflow.yaml's Lambdas and state machines in moto, from the template itself.

Handler strings, environment variables, state machine names and definitions all come from the
template (intrinsics resolved against the parameters below and the ARNs moto hands out), so the
tests run what would be deployed, not a copy of it. ``inference_platform_ops.emulator.lambdas`` makes the Lambda
tasks run the real handlers in-process.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import moto  # noqa: F401 - moto must hook botocore before the first session below is built

from inference_platform_ops.iam import recorder
from inference_platform_ops.stacks import ResolvedStack
from tests.helpers.template_loader import TEMPLATES, load_template

T = TypeVar("T")
# How long a test waits for moto's Step Functions threads to get somewhere. Only an upper bound: the wait ends as
# soon as they get there, so a loaded machine makes it longer but never changes the verdict.
WAIT_S = 120.0
REGION = "us-east-1"
ACCOUNT = "123456789012"


def _local_workflow_parameters() -> dict[str, str]:
    """workflow.yaml's parameters exactly as main.yaml passes them for templates/params/local.json, so the
    executed tests run the local deployment (the permission contract maps its names onto every params file)."""
    from inference_platform_ops.iam.principals import deployment

    return dict(deployment("local", TEMPLATES).primary.child("WorkflowStack").parameters)


PARAMETERS = _local_workflow_parameters()
BUCKET = PARAMETERS["InputLocation"]
FUNCTIONS = ("RouteFunction", "InvokeFunction", "StartBatchFunction", "BatchCallbackFunction")
_SUB = re.compile(r"\$\{([A-Za-z0-9:.]+)\}")


def resolve(value: Any, parameters: dict[str, str], physical: dict[str, str]) -> Any:
    """The project's one intrinsic evaluator over these parameters, with Ref/GetAtt of the resources created
    so far answered by what moto handed out (``physical``)."""
    stack = ResolvedStack(TEMPLATES / "workflow.yaml", parameters, region=REGION, account=ACCOUNT,
                          template=_template(), known=physical)
    return stack.resolve(value)


def substitute(definition: Any, substitutions: dict[str, str]) -> Any:
    """What DefinitionSubstitutions does: ``${Key}`` in any string of the definition."""
    if isinstance(definition, dict):
        return {k: substitute(v, substitutions) for k, v in definition.items()}
    if isinstance(definition, list):
        return [substitute(v, substitutions) for v in definition]
    if isinstance(definition, str):
        return _SUB.sub(lambda m: substitutions.get(m.group(1), m.group(0)), definition)
    return definition


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION)


@functools.cache
def aws(service: str) -> Any:
    """One cached client per service for all tests: moto resets boto3's default session at each mock
    start, and rebuilding sessions and clients re-reads botocore's data (about a second per test)."""
    return _session().client(service, region_name=REGION)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "handlers run in-process by inference_platform_ops.emulator.lambdas")
    return buffer.getvalue()


def plain(value: Any) -> Any:
    """cfn-lint's YAML nodes -> plain dicts/lists/str (json round trip)."""
    return json.loads(json.dumps(value))


@dataclass
class DeployedWorkflow:
    parameters: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)
    pipeline_arn: str = ""
    invoke_files_arn: str = ""
    request_arn: str = ""  # the Express front door

    @property
    def sfn(self) -> Any:
        return aws("stepfunctions")

    def start(self, name: str, request: dict | None = None) -> str:
        return self.sfn.start_execution(stateMachineArn=self.pipeline_arn, name=name,
                                        input=json.dumps(request or {}))["executionArn"]

    def request(self, name: str, request: dict | None = None) -> str:
        """Start the Express front door (asynchronously, as EventBridge or an API would)."""
        return self.sfn.start_execution(stateMachineArn=self.request_arn, name=name,
                                        input=json.dumps(request or {}))["executionArn"]

    def wait(self, execution_arn: str, until_not: str = "RUNNING") -> dict:
        def described() -> dict | None:
            answer = self.sfn.describe_execution(executionArn=execution_arn)
            return answer if answer["status"] != until_not else None

        return wait_until(described, f"execution {execution_arn} to leave {until_not}")

    def wait_for_state(self, execution_arn: str, state_name: str) -> None:
        wait_until(lambda: state_name in entered_states(self.history(execution_arn)),
                   f"execution {execution_arn} to enter {state_name}")

    def history(self, execution_arn: str) -> list[dict]:
        return self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    def invoke_callback(self, event: dict) -> dict:
        response = aws("lambda").invoke(
            FunctionName=self.physical["BatchCallbackFunction"], Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            raise AssertionError(f"BatchCallback failed: {payload}")
        return payload


def entered_states(history: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def state_input(history: list[dict], state_name: str) -> dict:
    for event in history:
        details = event.get("stateEnteredEventDetails")
        if details and details["name"] == state_name:
            return json.loads(details["input"])
    raise AssertionError(f"state {state_name} was never entered")


def create_state_table(name: str, region: str = REGION) -> None:
    """The state table's key schema as templates/state-store.yaml declares it (pk/sk strings)."""
    _session().client("dynamodb", region_name=region).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
    )


@functools.cache
def _template() -> dict:
    return plain(load_template("workflow.yaml"))


def deploy(parameters: dict[str, str] | None = None, patch_definition: Any = None,
           world: dict[str, str] | None = None) -> DeployedWorkflow:
    """Create the template's functions and state machines in the active moto mock.

    ``patch_definition(logical_id, definition)`` may change a COPY of a definition (used only where a
    test says why, e.g. a shorter timeout so the timeout path runs in a second).
    """
    params = {**PARAMETERS, **(parameters or {})}
    recorder.set_world("local", TEMPLATES, **(world or {}))  # the deployment the calls below run in
    template = _template()
    resources = template["Resources"]
    deployed = DeployedWorkflow(parameters=params)

    iam = aws("iam")
    role = iam.create_role(RoleName="workflow-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    s3 = aws("s3")
    s3.create_bucket(Bucket=params["InputLocation"])
    create_state_table(params["StateTableName"])
    aws("sagemaker").create_model(
        ModelName=params["ModelName"], ExecutionRoleArn=role,
        PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/model:1"},
    )

    lam = aws("lambda")
    for logical in FUNCTIONS:
        wanted = ("FunctionName", "Runtime", "Handler", "Timeout", "MemorySize", "Environment")
        source = resources[logical]["Properties"]
        props = resolve(copy.deepcopy({k: source[k] for k in wanted}), params, deployed.physical)
        created = lam.create_function(
            FunctionName=props["FunctionName"], Runtime=props["Runtime"], Role=role, Handler=props["Handler"],
            Code={"ZipFile": _zip()}, Timeout=props["Timeout"], MemorySize=props["MemorySize"],
            Environment={"Variables": {k: str(v) for k, v in props["Environment"]["Variables"].items()}},
        )
        deployed.physical[logical] = created["FunctionName"]
        deployed.physical[f"{logical}.Arn"] = created["FunctionArn"]

    sfn = aws("stepfunctions")
    for logical in ("InvokeFilesStateMachine", "InferencePipeline", "InvokeFileSetStateMachine",
                    "RequestStateMachine"):
        props = resources[logical]["Properties"]
        substitutions = resolve(props["DefinitionSubstitutions"], params, deployed.physical)
        definition = substitute(copy.deepcopy(props["Definition"]), substitutions)
        if patch_definition is not None:
            patch_definition(logical, definition)
        name = resolve(props["StateMachineName"], params, deployed.physical)
        arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role,
                                       type=props["StateMachineType"])["stateMachineArn"]
        deployed.physical[logical] = arn
    deployed.pipeline_arn = deployed.physical["InferencePipeline"]
    deployed.invoke_files_arn = deployed.physical["InvokeFilesStateMachine"]
    deployed.request_arn = deployed.physical["RequestStateMachine"]
    return deployed


def put_inputs(count: int, location: str = BUCKET, prefix: str = "input/") -> list[str]:
    s3 = aws("s3")
    keys = [f"{prefix}file-{i:04d}.json" for i in range(count)]
    for index, key in enumerate(keys):
        s3.put_object(Bucket=location, Key=key, Body=json.dumps({"instances": [index]}).encode(),
                      ContentType="application/json")
    return keys


def transform_event(job_name: str, status: str = "Completed", reason: str = "") -> dict:
    detail: dict[str, Any] = {"TransformJobName": job_name, "TransformJobStatus": status,
                              "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/output/batch/{job_name}/"}}
    if reason:
        detail["FailureReason"] = reason
    return {"version": "0", "source": "aws.sagemaker", "detail-type": "SageMaker Transform Job State Change",
            "region": REGION, "account": ACCOUNT, "detail": detail}


def wait_until(probe: Callable[[], T], what: str, timeout_s: float = WAIT_S) -> T:
    """Poll ``probe`` until it returns something truthy and return that; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(0.05)
