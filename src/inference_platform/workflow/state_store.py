"""Task tokens of waiting batch executions in the state table (DynamoDB, a global table in production).

Item layout (table key: ``pk`` string hash key, ``sk`` string range key; TTL attribute ``expires_at``):

    pk = "transform-job#<job name>", sk = "task-token"
    task_token, home_region, execution_arn, status, created_at, expires_at[, delivered_at, error]

``status`` moves WAITING -> CLAIMED -> DELIVERED, or CLAIMED -> UNDELIVERABLE. Every move is a
conditional write, so two deliveries of the same EventBridge event (or two regions seeing the
replicated item) can never both send the token; an item is never deleted by the code, only
expired by TTL after delivery had its chance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

SORT_KEY = "task-token"
WAITING, CLAIMED, DELIVERED, UNDELIVERABLE = "WAITING", "CLAIMED", "DELIVERED", "UNDELIVERABLE"


def job_key(job_name: str) -> dict[str, str]:
    return {"pk": f"transform-job#{job_name}", "sk": SORT_KEY}


@dataclass(frozen=True)
class TokenRecord:
    job_name: str
    task_token: str
    home_region: str
    execution_arn: str
    status: str


class TokenConflictError(RuntimeError):
    """The job name is already bound to a different execution's token."""


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class TokenStore:
    def __init__(self, table: Any, clock: Any = time.time):
        self._table = table
        self._clock = clock

    def put_waiting(self, job_name: str, task_token: str, home_region: str, execution_arn: str, ttl_days: int) -> None:
        """Store the token before the job starts. A retried StartBatch of the same execution may refresh it;
        another execution may not take over the job name."""
        now = int(self._clock())
        try:
            self._table.put_item(
                Item={
                    **job_key(job_name),
                    "job_name": job_name,
                    "task_token": task_token,
                    "home_region": home_region,
                    "execution_arn": execution_arn,
                    "status": WAITING,
                    "created_at": now,
                    "expires_at": now + ttl_days * 86_400,
                },
                ConditionExpression="attribute_not_exists(pk) OR (execution_arn = :arn AND #s = :waiting)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":arn": execution_arn, ":waiting": WAITING},
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise TokenConflictError(
                    f"transform job {job_name} already has a token of another execution or was already completed"
                ) from exc
            raise

    def get(self, job_name: str) -> TokenRecord | None:
        item = self._table.get_item(Key=job_key(job_name), ConsistentRead=True).get("Item")
        if not item:
            return None
        return TokenRecord(
            job_name=job_name,
            task_token=item["task_token"],
            home_region=item["home_region"],
            execution_arn=item["execution_arn"],
            status=item["status"],
        )

    def _move(self, job_name: str, from_status: str, to_status: str, extra: dict[str, Any] | None = None) -> bool:
        names = {"#s": "status"}
        values: dict[str, Any] = {":from": from_status, ":to": to_status}
        sets = ["#s = :to"]
        for index, (name, value) in enumerate((extra or {}).items()):
            names[f"#e{index}"] = name
            values[f":e{index}"] = value
            sets.append(f"#e{index} = :e{index}")
        try:
            self._table.update_item(
                Key=job_key(job_name),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#s = :from",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def claim(self, job_name: str) -> bool:
        """True for exactly one caller per waiting token."""
        return self._move(job_name, WAITING, CLAIMED, {"claimed_at": int(self._clock())})

    def release(self, job_name: str) -> bool:
        """Give a claimed token back (a transient delivery error): a retried event can deliver it."""
        return self._move(job_name, CLAIMED, WAITING)

    def mark_delivered(self, job_name: str) -> bool:
        return self._move(job_name, CLAIMED, DELIVERED, {"delivered_at": int(self._clock())})

    def mark_undeliverable(self, job_name: str, error: str) -> bool:
        return self._move(job_name, CLAIMED, UNDELIVERABLE, {"error": error[:1000]})
