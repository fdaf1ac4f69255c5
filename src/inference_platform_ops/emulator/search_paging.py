"""Test-and-emulator-only patch: real pagination for SageMaker ``Search`` in moto 5.2.5.

moto answers ``Search`` with every match in one response and never a ``NextToken``, whatever
``MaxResults`` says, so a client's paging loop is never exercised. SageMaker returns at most
``MaxResults`` records per call (1-100, default 10) and a ``NextToken`` while more remain. This
patch slices moto's (unchanged) result list that way; the token is an offset, opaque to callers.

Records already carry ``Tags`` in moto 5.2.5 (``FakeEndpoint.gen_response_object`` includes them),
so nothing else is changed. Used by the idle-detector tests and ``inference_platform_ops.bench.idle_detector``;
never imported by the Lambda package.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest import mock

from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

MAX_RESULTS_LIMIT = 100  # SearchRequest.MaxResults: 1-100
DEFAULT_MAX_RESULTS = 10  # what SageMaker uses when MaxResults is omitted


def _paged_search(self: SageMakerResponse) -> ActionResult:
    found = self.sagemaker_backend.search(
        resource=self._get_param("Resource"),
        search_expression=self._get_param("SearchExpression"),
    )
    records = found["Results"]
    max_results = self._get_param("MaxResults")
    max_results = DEFAULT_MAX_RESULTS if max_results is None else int(max_results)
    if not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise ValidationError(message=f"MaxResults must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results}")
    token = self._get_param("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise ValidationError(message=f"Invalid NextToken {token!r}") from None
    page: dict = {"Results": records[start : start + max_results]}
    if start + max_results < len(records):
        page["NextToken"] = str(start + max_results)
    return ActionResult(page)


@contextlib.contextmanager
def paged_search() -> Iterator[None]:
    """Within the block, moto's SageMaker ``Search`` pages like SageMaker's."""
    with mock.patch.object(SageMakerResponse, "search", _paged_search):
        yield
