"""boto3 clients shared by the invocations of one warm Lambda, one per (service, region, config)."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

_CLIENTS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def client(service: str, region: str | None = None, config: Config | None = None) -> Any:
    """A cached boto3 client. ``AWS_ENDPOINT_URL`` is part of the key so an emulator endpoint is honoured."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    key = (service, region, id(config) if config else None, os.environ.get("AWS_ENDPOINT_URL", ""))
    with _LOCK:
        if key not in _CLIENTS:
            # A session per client: boto3's default session is not thread-safe.
            _CLIENTS[key] = boto3.session.Session().client(service, region_name=region, config=config)
        return _CLIENTS[key]


def current_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def table(name: str, region: str | None = None) -> Any:
    """A DynamoDB Table resource (cached like the clients)."""
    region = region or current_region()
    key = ("dynamodb-table", name, region, os.environ.get("AWS_ENDPOINT_URL", ""))
    with _LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = boto3.session.Session(region_name=region).resource("dynamodb").Table(name)
        return _CLIENTS[key]
