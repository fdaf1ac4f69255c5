"""The project's templates by name, read with the project's one loader (cfn-lint's decoder).

Evaluating them (parameters, conditions, active resources, resolved values) is
:mod:`inference_platform_ops.intrinsics`, the same evaluator the ops tools use.
"""

from __future__ import annotations

from inference_platform_ops.paths import TEMPLATES
from inference_platform_ops.templates import load_template as read_template

__all__ = ["TEMPLATES", "load_template"]


def load_template(name: str) -> dict:
    path = TEMPLATES / name
    if not path.is_file():
        raise FileNotFoundError(f"template {path} does not exist")
    return read_template(path)
