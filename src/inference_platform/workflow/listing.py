"""Bounded listing of an S3 prefix (bucket, access point alias or access point ARN).

Routing only needs to know whether a request has at least ``limit`` files, so listing stops as
soon as it has seen that many: a prefix with a million objects costs one or two pages, not a
thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAGE_SIZE = 1000  # S3's maximum MaxKeys


@dataclass(frozen=True)
class Listing:
    keys: tuple[str, ...]
    limit_reached: bool  # True: there are at least ``limit`` files, possibly many more
    pages: int


def is_input_file(key: str, output_prefix: str = "") -> bool:
    """A file to run inference on: not a folder marker (key ending in '/'), not one of our own outputs."""
    return not key.endswith("/") and not (output_prefix and key.startswith(output_prefix))


def list_keys_up_to(s3: Any, location: str, prefix: str, limit: int, *, page_size: int = PAGE_SIZE,
                    exclude_prefix: str = "") -> Listing:
    """Up to ``limit`` input files under ``prefix`` (see :func:`is_input_file`).

    ``location`` is passed as ``Bucket``: boto3 accepts a bucket name, an access point alias or an
    access point ARN there.
    """
    if limit < 1 or not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"limit must be >= 1 and page_size 1-{PAGE_SIZE}, got {limit} and {page_size}")
    keys: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        request: dict[str, Any] = {"Bucket": location, "Prefix": prefix, "MaxKeys": min(page_size, limit - len(keys))}
        if token:
            request["ContinuationToken"] = token
        page = s3.list_objects_v2(**request)
        pages += 1
        keys.extend(obj["Key"] for obj in page.get("Contents", []) if is_input_file(obj["Key"], exclude_prefix))
        if len(keys) >= limit:
            return Listing(tuple(keys[:limit]), True, pages)
        if not page.get("IsTruncated"):
            return Listing(tuple(keys), False, pages)
        token = page["NextContinuationToken"]
