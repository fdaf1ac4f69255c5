"""Run IAM requests through the policy evaluator (@cloud-copilot/iam-simulate, installed by make install).

A dev/CI tool only: it runs as a separate Node.js process on JSON this module writes, and nothing of it is
linked into or shipped with the project (it is AGPL-3.0 licensed; see docs/aws-fidelity.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from inference_platform_ops.paths import ROOT

SIMULATOR_HOME = ROOT / ".tools" / "iam-simulate"
SCRIPT = Path(__file__).resolve().parent / "simulator" / "evaluate.cjs"


class SimulatorUnavailable(RuntimeError):
    """node or the installed simulator is missing: make install sets both up."""


@dataclass(frozen=True)
class Decision:
    result: str  # Allowed | ImplicitlyDenied | ExplicitlyDenied | Error
    error: str = ""

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


def evaluate(requests: list[dict], home: Path = SIMULATOR_HOME) -> list[Decision]:
    """``requests``: dicts with principal, action, resource, account, context, policies ([{name, policy}]) and
    optionally resource_policy (KMS evaluates identity policies only when the key policy delegates to IAM)."""
    node = shutil.which("node")
    if node is None or not (home / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise SimulatorUnavailable(f"the IAM policy evaluator is not installed in {home} (needs node and npm): "
                                   "run make install")
    # Many requests repeat (one permission needed by several handlers): each distinct one is evaluated once.
    texts = [json.dumps(request, sort_keys=True) for request in requests]
    distinct = dict(zip(texts, requests, strict=True))  # one per distinct request, first-seen order
    payload = [{**request, "id": index} for index, request in enumerate(distinct.values())]
    completed = subprocess.run([node, str(SCRIPT)], input=json.dumps(payload), capture_output=True, text=True,
                               env={**os.environ, "IAM_SIMULATE_HOME": str(home)}, check=False, timeout=300)
    if completed.returncode != 0:
        raise SimulatorUnavailable(f"the IAM policy evaluator failed: {completed.stderr.strip()[:500]}")
    by_id = {item["id"]: Decision(item["result"], item.get("error", "")) for item in json.loads(completed.stdout)}
    decision_of = {text: by_id[index] for index, text in enumerate(distinct)}
    return [decision_of[text] for text in texts]
