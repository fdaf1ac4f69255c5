"""What runs in AWS and what runs on a laptop stay apart.

The runtime package (src/inference_platform) is exactly the Lambda zip: it may import the standard library,
boto3/botocore (the Lambda runtime has them), Powertools and pybreaker (requirements/runtime.txt) and
itself. The ops package may import the runtime; never the reverse.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path

import pytest

from inference_platform_ops.deploy import packaging
from inference_platform_ops.paths import ROOT, RUNTIME_PACKAGE

RUNTIME_ALLOWED = {"boto3", "botocore", "aws_lambda_powertools", "pybreaker", "inference_platform"}
OPS_PACKAGE = ROOT / "src" / "inference_platform_ops"


def imported_top_levels(path: Path) -> set[str]:
    """Top-level names of every absolute import in a module, wherever it sits (function bodies too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def modules(package: Path) -> list[Path]:
    return sorted(path for path in package.rglob("*.py") if "__pycache__" not in path.parts)


@pytest.mark.parametrize("path", modules(RUNTIME_PACKAGE), ids=lambda p: str(p.relative_to(RUNTIME_PACKAGE)))
def test_runtime_imports_only_what_the_lambda_has(path):
    outside = imported_top_levels(path) - RUNTIME_ALLOWED - set(sys.stdlib_module_names)
    assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}, which the Lambda zip does not carry"


def test_imports_go_one_way_only():
    reverse = [str(path.relative_to(ROOT)) for path in modules(RUNTIME_PACKAGE)
               if "inference_platform_ops" in imported_top_levels(path)]
    assert reverse == []
    # ...and the ops package does use the runtime (the check above is not vacuous).
    assert any("inference_platform" in imported_top_levels(path) for path in modules(OPS_PACKAGE))


def test_the_deployed_zip_holds_the_runtime_package_and_no_ops_module(tmp_path):
    artifact = packaging.build_lambda_zip(RUNTIME_PACKAGE, tmp_path, None)
    with zipfile.ZipFile(artifact.path) as archive:
        names = archive.namelist()
    assert "inference_platform/handlers/invoke.py" in names
    assert "inference_platform/shared/data/prices.json" in names
    assert {name.split("/")[0] for name in names} == {"inference_platform"}
    assert not [name for name in names if "inference_platform_ops" in name or "/tests/" in name]
