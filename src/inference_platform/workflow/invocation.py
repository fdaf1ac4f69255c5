"""The Invoke step for one file: read it through the access point, call the endpoint, write the answer.

A model that is not ready (serverless cold start) surfaces as :class:`ModelNotReadyException`: a Lambda
task reports the exception's type name as its error, so this exact class name is what the state
machine's ``Retry`` matches. Retries belong to Step Functions; the SDK client makes one attempt, so a
cold start is never retried twice over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from botocore.exceptions import ClientError

from inference_platform.workflow.listing import is_input_file

COLD_START_THRESHOLD_MS = 5_000.0
MODEL_NOT_READY = "ModelNotReadyException"
THROTTLING_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling"})


class ModelNotReadyException(Exception):  # noqa: N818 - the name Step Functions' Retry matches
    """The endpoint has no model loaded yet (e.g. a serverless endpoint scaling from zero)."""


class EndpointThrottledException(Exception):  # noqa: N818 - the name Step Functions' Retry matches
    """The endpoint refused the call for capacity (e.g. above a serverless endpoint's MaxConcurrency)."""


@dataclass(frozen=True)
class EndpointAnswer:
    body: bytes
    content_type: str
    region: str
    failover: bool
    latency_ms: float


class EndpointInvoker(Protocol):
    def __call__(self, body: bytes, content_type: str) -> EndpointAnswer: ...


def is_model_not_ready(exc: BaseException | None) -> bool:
    """Also looks through a cross-region error, which carries each region's cause."""
    if exc is None:
        return False
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") == MODEL_NOT_READY
    causes = [getattr(exc, "primary_error", None), getattr(exc, "secondary_error", None)]
    if any(c is not None for c in causes):
        return all(is_model_not_ready(c) for c in causes if c is not None)
    return False


def is_throttled(exc: BaseException | None) -> bool:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in THROTTLING_CODES
    causes = [getattr(exc, "primary_error", None), getattr(exc, "secondary_error", None)]
    return any(c is not None for c in causes) and all(is_throttled(c) for c in causes if c is not None)


def single_region_invoker(runtime: Any, endpoint_name: str, region: str,
                          clock: Callable[[], float] = time.perf_counter, *,
                          inference_component: str = "") -> EndpointInvoker:
    """``inference_component``: the component to name on an endpoint that hosts one (scale to zero)."""
    component = {"InferenceComponentName": inference_component} if inference_component else {}

    def invoke(body: bytes, content_type: str) -> EndpointAnswer:
        started = clock()
        response = runtime.invoke_endpoint(EndpointName=endpoint_name, Body=body, ContentType=content_type,
                                           **component)
        answer = response["Body"].read()
        return EndpointAnswer(answer, response.get("ContentType", ""), region, False, (clock() - started) * 1000)

    return invoke


def cross_region_invoker(cross_region_client: Any) -> EndpointInvoker:
    def invoke(body: bytes, content_type: str) -> EndpointAnswer:
        result = cross_region_client.invoke_endpoint(Body=body, ContentType=content_type)
        return EndpointAnswer(result.body, result.content_type, result.region, result.failover, result.latency_ms)

    return invoke


def metadata_key(key: str) -> str:
    """``key`` as S3 object metadata can carry it: metadata is ASCII only (HTTP headers), keys are UTF-8.

    Percent-encoded UTF-8 (RFC 3986; ``urllib.parse.unquote`` reverses it); keys of safe characters
    stay as they are.
    """
    return quote(key, safe="/!-_.*'()")


def output_key(input_prefix: str, output_prefix: str, key: str) -> str:
    relative = key[len(input_prefix):] if input_prefix and key.startswith(input_prefix) else key
    return f"{output_prefix}{relative}.out"


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt as the metrics see it: the endpoint call only, never Step Functions' backoff waits."""

    latency_ms: float
    succeeded: bool

    @property
    def cold_start_suspected(self) -> bool:
        return self.latency_ms > COLD_START_THRESHOLD_MS


def invoke_file(s3: Any, location: str, *, input_prefix: str, output_prefix: str, key: object, content_type: str,
                invoker: EndpointInvoker, record: Callable[[AttemptRecord], None], attempt: int = 0,
                clock: Callable[[], float] = time.perf_counter,
                cancelled: Callable[[], bool] = lambda: False) -> dict:
    """Read ``key``, invoke the endpoint, write ``<output_prefix><relative key>.out``.

    Idempotent, as Express's at-least-once delivery needs: the output key is a function of the input key, so
    running an item twice rewrites the same object and creates nothing else. ``cancelled()`` is asked just
    before the write: a request whose real-time run was replaced by the batch fallback writes nothing more.
    """
    if not key or not isinstance(key, str):
        raise ValueError(f"key must be a non-empty string, got {key!r}")
    if not is_input_file(key, output_prefix):
        # The map lists the whole input prefix: folder markers are not files, and the endpoint never sees them.
        return {"key": key, "output_key": None, "skipped": True, "attempt": attempt}
    obj = s3.get_object(Bucket=location, Key=key)
    payload = obj["Body"].read()
    started = clock()
    try:
        answer = invoker(payload, obj.get("ContentType") or content_type)
    except Exception as exc:
        record(AttemptRecord((clock() - started) * 1000, False))
        if is_model_not_ready(exc):
            raise ModelNotReadyException(f"endpoint not ready for {key}: {exc}") from exc
        if is_throttled(exc):
            raise EndpointThrottledException(f"endpoint throttled the call for {key}: {exc}") from exc
        raise
    record(AttemptRecord(answer.latency_ms, True))
    if cancelled():
        return {"key": key, "output_key": None, "cancelled": True, "attempt": attempt}
    out_key = output_key(input_prefix, output_prefix, key)
    s3.put_object(Bucket=location, Key=out_key, Body=answer.body, ContentType=answer.content_type or content_type,
                  Metadata={"source-key": metadata_key(key), "region": answer.region,
                            "failover": str(answer.failover).lower(), "attempt": str(attempt)})
    return {"key": key, "output_key": out_key, "region": answer.region, "failover": answer.failover,
            "latency_ms": round(answer.latency_ms, 1), "attempt": attempt}
