"""The SageMaker revision that templates/endpoints.yaml puts into model and endpoint config names.

Every property of ``AWS::SageMaker::Model`` and ``AWS::SageMaker::EndpointConfig`` is create-only, so any
change replaces them, and CloudFormation cannot replace a resource with a custom name under the same name.
The names therefore end in ``SageMakerRevision``, which ``make deploy`` derives here from exactly the
parameters those resources are built from: an unchanged model keeps its name (no replacement), a changed one
gets a new name (replacement works). Endpoints keep one fixed name and update in place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

# The main.yaml parameters that reach a create-only property of the model or an endpoint config.
REVISION_INPUTS = (
    "ModelImageUri", "ModelDataUrl", "ExecutionRoleArn", "InstanceType", "InitialInstanceCount",
    "ServerlessMemorySizeInMB", "ServerlessMaxConcurrency", "ServerlessProvisionedConcurrency",
)
REVISION_LENGTH = 6  # endpoints.yaml's AllowedPattern ^[a-z0-9]{1,6}$; keeps every name within 63 characters


def sagemaker_revision(parameters: Mapping[str, str]) -> str:
    """Six lower-case hex digits that change exactly when a model or endpoint config would be replaced."""
    inputs = {name: str(parameters.get(name, "")) for name in REVISION_INPUTS}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return digest[:REVISION_LENGTH]
