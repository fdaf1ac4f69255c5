"""Build the one Lambda zip and package nested templates, both content-addressed.

The zip is reproducible: entries sorted, fixed timestamps and permissions, no ``__pycache__``, so
the same sources and pinned dependencies give the same bytes and therefore the same S3 key
(``lambda/<sha256>.zip``). An unchanged zip means an unchanged ``LambdaCodeKey``, so a deploy with
no source change produces no Lambda update.

Runtime dependencies (requirements/runtime.txt) are installed with ``pip install --target`` for the
Lambda platform (python3.12, manylinux x86_64, wheels only) into a cache directory keyed by the
requirements' content, so they are downloaded once per change of pins.

Templates: every ``AWS::CloudFormation::Stack`` with a relative ``TemplateURL`` is packaged first
(depth first), uploaded under ``templates/<sha256>.json`` and the URL rewritten to that object.
Templates are re-emitted as JSON (the loader expands YAML short forms), which CloudFormation accepts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from inference_platform_ops import templates

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # earliest timestamp a zip entry can hold
LAMBDA_PLATFORM = ("--platform", "manylinux2014_x86_64", "--python-version", "3.12", "--implementation", "cp",
                   "--only-binary=:all:")


class PackagingError(Exception):
    """Packaging could not produce an artifact; the message says what and where."""


@dataclass(frozen=True)
class LambdaArtifact:
    path: Path
    sha256: str
    with_dependencies: bool

    @property
    def key(self) -> str:
        return f"lambda/{self.sha256}.zip"


def _tree_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )


def _add_tree(archive: zipfile.ZipFile, root: Path, prefix: str) -> None:
    for path in _tree_files(root):
        info = zipfile.ZipInfo(f"{prefix}{path.relative_to(root).as_posix()}", date_time=ZIP_EPOCH)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes(), compresslevel=9)


def install_dependencies(requirements: Path, cache_dir: Path, index_url: str | None = None) -> Path:
    """pip-install the pinned runtime requirements for the Lambda platform, cached by their content.

    ``index_url`` replaces PyPI (a mirror, or an unreachable one in tests: then no retries).
    """
    digest = hashlib.sha256(requirements.read_bytes() + " ".join(LAMBDA_PLATFORM).encode()).hexdigest()[:16]
    target = cache_dir / f"lambda-deps-{digest}"
    if target.is_dir():
        return target
    staging = cache_dir / f".lambda-deps-{digest}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--target", str(staging), *LAMBDA_PLATFORM, "-r", str(requirements),
         *(["--isolated", "--index-url", index_url, "--retries", "0", "--timeout", "2"] if index_url else [])],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PackagingError(f"pip could not install {requirements} for the Lambda runtime: {last}")
    for bin_dir in staging.glob("bin"):
        shutil.rmtree(bin_dir)  # console scripts are useless in Lambda and embed this machine's paths
    staging.rename(target)
    return target


def build_lambda_zip(package_dir: Path, out_dir: Path, dependencies_dir: Path | None) -> LambdaArtifact:
    """Zip ``package_dir`` (as its own top-level package) plus the installed dependencies."""
    if not (package_dir / "__init__.py").is_file():
        raise PackagingError(f"{package_dir} is not a Python package (no __init__.py)")
    out_dir.mkdir(parents=True, exist_ok=True)
    # A private temporary name: two deploys (or two test workers) may package at the same time.
    handle, tmp_name = tempfile.mkstemp(prefix="lambda-", suffix=".zip.tmp", dir=out_dir)
    os.close(handle)
    tmp = Path(tmp_name)
    with zipfile.ZipFile(tmp, "w") as archive:
        _add_tree(archive, package_dir, f"{package_dir.name}/")
        if dependencies_dir is not None:
            _add_tree(archive, dependencies_dir, "")
    sha = hashlib.sha256(tmp.read_bytes()).hexdigest()
    final = out_dir / f"lambda-{sha}.zip"
    tmp.replace(final)
    return LambdaArtifact(path=final, sha256=sha, with_dependencies=dependencies_dir is not None)


def load_template(path: Path) -> dict:
    """The project's template reader, with a missing or unreadable template as a PackagingError."""
    if not path.is_file():
        raise PackagingError(f"template {path} does not exist")
    try:
        return templates.load_template(path)
    except ValueError as exc:
        raise PackagingError(f"template {path} cannot be parsed: {exc}") from exc


def template_bytes(template: dict) -> bytes:
    return json.dumps(template, separators=(",", ":"), ensure_ascii=False).encode()


def _is_relative(url: object) -> TypeGuard[str]:
    return isinstance(url, str) and not url.startswith(("https://", "http://", "s3://"))


def package_template(path: Path, upload: Callable[[str, bytes], str]) -> dict:
    """Return the template at ``path`` with every relative nested TemplateURL rewritten.

    ``upload(key, body) -> url`` stores a packaged child and returns the URL CloudFormation reads.
    """
    template = load_template(path)
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::CloudFormation::Stack":
            continue
        properties = resource.get("Properties") or {}
        url = properties.get("TemplateURL")
        if not _is_relative(url):
            continue
        child_path = (path.parent / url).resolve()
        if not child_path.is_file():
            raise PackagingError(f"{path.name}: {logical_id} TemplateURL {url!r} -> {child_path} does not exist")
        body = template_bytes(package_template(child_path, upload))
        properties["TemplateURL"] = upload(f"templates/{hashlib.sha256(body).hexdigest()}.json", body)
    return template
