"""The one way the platform builds boto3 clients: cached per (service, region, options, endpoint).

A warm Lambda reuses its clients across invocations. Clients come from one boto3 session (one load of
each service model); creating clients from a session is not thread-safe, so creation holds a lock, while
using a client from many threads is safe. ``AWS_ENDPOINT_URL`` is part of the cache key so an emulator
endpoint set for a test or the local emulator is honoured.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config


@dataclass(frozen=True)
class ClientOptions:
    """Timeouts (seconds) and retries of a client; hashable, so it is part of the cache key.

    ``max_attempts`` counts the first attempt (botocore ``standard`` retry mode: jittered backoff,
    throttling and transient errors retried). botocore's own defaults are 60 s / 60 s / 3 attempts.
    """

    connect_timeout: float = 60.0
    read_timeout: float = 60.0
    max_attempts: int = 3
    max_pool_connections: int = 10

    def __post_init__(self) -> None:
        if not self.connect_timeout > 0 or not self.read_timeout > 0:
            raise ValueError(f"timeouts must be > 0, got connect_timeout={self.connect_timeout!r}, "
                             f"read_timeout={self.read_timeout!r}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer >= 1, got {self.max_attempts!r}")

    def config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            # total_max_attempts counts the first attempt (Config's own "max_attempts" key counts only retries).
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            max_pool_connections=self.max_pool_connections,
        )


DEFAULT_OPTIONS = ClientOptions()
_CLIENTS: dict[tuple, Any] = {}
_LOCK = threading.Lock()
_SESSION: list[boto3.session.Session] = []


def current_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _session() -> boto3.session.Session:  # called with _LOCK held
    if not _SESSION:
        _SESSION.append(boto3.session.Session())
    return _SESSION[0]


def client(service: str, region: str | None = None, options: ClientOptions = DEFAULT_OPTIONS, *,
           endpoint_url: str | None = None) -> Any:
    """A cached boto3 client for ``service`` in ``region`` (default: the Lambda's own region)."""
    region = region or current_region()
    key = (service, region, options, endpoint_url, os.environ.get("AWS_ENDPOINT_URL", ""))
    with _LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = _session().client(service, region_name=region, config=options.config(),
                                              endpoint_url=endpoint_url)
        return _CLIENTS[key]


def table(name: str, region: str | None = None) -> Any:
    """A DynamoDB Table resource (cached like the clients)."""
    region = region or current_region()
    key = ("dynamodb-table", name, region, os.environ.get("AWS_ENDPOINT_URL", ""))
    with _LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = _session().resource("dynamodb", region_name=region).Table(name)
        return _CLIENTS[key]
