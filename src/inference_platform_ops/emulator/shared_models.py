"""One botocore data loader for every session in this process (the emulator and the tests).

botocore caches the service models it reads per *session*. moto's Step Functions interpreter makes a
new session for every task it runs, the tests make one per principal they record, and each new session
parses ``endpoints.json`` (about 1 MB) and the service's model again: measured at a fifth of the gate's
CPU time. A single loader per data path keeps the parsed JSON for the life of the process. botocore
already shares a loader's results among all clients of one session, so sharing it among sessions hands
out nothing a client could not already see. Never used by the Lambda package (one session per cold start).
"""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.session


@functools.cache
def _loader_for(search_path: str | None) -> botocore.loaders.Loader:
    return botocore.loaders.create_loader(search_path)


def share_data_loader() -> None:
    """From now on, sessions with the same data path share one loader (idempotent)."""
    botocore.session.create_loader = _loader_for
