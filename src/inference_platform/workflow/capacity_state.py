"""What the router needs to know about capacity, read cheaply: copies of the inference component, and the
published hour-of-week plan. Both are cached per warm Lambda for a short time (``ttl_s``), so a busy
router makes about one DescribeInferenceComponent and one GetItem a minute, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

PLAN_KEY = {"pk": "plan#capacity", "sk": "current"}
COPIES_TTL_S = 30.0
PLAN_TTL_S = 300.0


class _Cached:
    def __init__(self, ttl_s: float, clock: Callable[[], float]) -> None:
        self.ttl_s, self.clock = ttl_s, clock
        self.values: dict[str, tuple[float, Any]] = {}
        self.lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        with self.lock:
            hit = self.values.get(key)
            if hit is not None and self.clock() - hit[0] < self.ttl_s:
                return hit[1]
        value = load()
        with self.lock:
            self.values[key] = (self.clock(), value)
        return value


class CapacityState:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, copies_ttl_s: float = COPIES_TTL_S,
                 plan_ttl_s: float = PLAN_TTL_S) -> None:
        self._copies = _Cached(copies_ttl_s, clock)
        self._plans = _Cached(plan_ttl_s, clock)

    def component_has_copies(self, sagemaker: Any, component: str) -> bool:
        """True while the inference component has at least one copy running.

        If SageMaker cannot be asked, the answer is False: the request goes to serverless (else batch) rather
        than to a component that may be at zero, where it would fail with NoCapacityInvocationFailures.
        """
        def load() -> bool:
            try:
                described = sagemaker.describe_inference_component(InferenceComponentName=component)
            except (ClientError, BotoCoreError) as exc:
                logger.warning("cannot read the copy count of %s, routing elsewhere: %s", component, exc)
                return False
            return int(described.get("RuntimeConfig", {}).get("CurrentCopyCount", 0)) > 0

        return bool(self._copies.get(component, load))

    def plan(self, table: Any) -> list[str] | None:
        """The published week plan (168 choices, local Monday 00:00 first), or None before the first plan."""
        def load() -> list[str] | None:
            try:
                item = table.get_item(Key=PLAN_KEY).get("Item")
            except (ClientError, BotoCoreError) as exc:
                logger.warning("cannot read the capacity plan, using the business-hours rule: %s", exc)
                return None
            choices = (item or {}).get("choices")
            return list(choices) if isinstance(choices, list) else None

        return self._plans.get(getattr(table, "name", "table"), load)
