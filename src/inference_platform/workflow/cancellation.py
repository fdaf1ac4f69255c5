"""A real-time run that the batch fallback replaced must stop doing work: the cancellation marker.

The fallback (StartBatch, on the Standard pipeline or on a request the Express front door handed over)
writes ``{pk: request#<request id>, sk: cancelled}`` to the state table and stops the Standard real-time
run by its name (the request's). A synchronous Express run cannot be stopped (StopExecution does not
apply to it): its own TimeoutSeconds ends it with the wait, and every file it (or a stopped run's
Express child) still has in flight reads the marker before writing its output and writes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

MARKER_SK = "cancelled"


def marker_key(request_id: str) -> dict[str, str]:
    if not request_id:
        raise ValueError("request_id is required for a cancellation marker")
    return {"pk": f"request#{request_id}", "sk": MARKER_SK}


def is_cancelled(table: Any, request_id: str) -> bool:
    """One strongly consistent GetItem: a marker written a moment ago is seen."""
    return "Item" in table.get_item(Key=marker_key(request_id), ConsistentRead=True,
                                    ProjectionExpression="pk")


def replaced_run(request: Any, execution_arn: str) -> str | None:
    """The request id of the real-time run a batch start replaces, or None for a plain batch request.

    The Express front door hands its fallback over with ``replaces`` (its own execution name); the
    Standard pipeline's own fallback replaces the run named after the pipeline execution.
    """
    if not isinstance(request, dict) or "fallback_reason" not in request:
        return None
    replaces = request.get("replaces")
    if isinstance(replaces, str) and replaces:
        return replaces
    return execution_arn.rsplit(":", 1)[-1] or None


def cancel_run(table: Any, sfn: Any, request_id: str, *, reason: str, stop_prefix: str = "",
               ttl_days: int = 7, now: float | None = None) -> dict:
    """Mark ``request_id`` cancelled (idempotent: the same item every time) and stop its Standard run, if any."""
    created = int(now if now is not None else time.time())
    table.put_item(Item={**marker_key(request_id), "reason": reason[:1000], "created_at": created,
                         "expires_at": created + ttl_days * 86_400})
    stopped = False
    if stop_prefix:
        try:
            sfn.stop_execution(executionArn=f"{stop_prefix}:{request_id}", error="ReplacedByBatch",
                               cause="the real-time run timed out or failed; batch transform does the request")
            stopped = True
        except ClientError as exc:  # no such run (the Express front door's), or it ended already
            if exc.response.get("Error", {}).get("Code") not in ("ExecutionDoesNotExist", "ValidationException"):
                raise
    return {"cancelled_request": request_id, "stopped_run": stopped}
