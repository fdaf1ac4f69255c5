"""deploy.packaging: a reproducible Lambda zip and nested templates rewritten to uploaded objects."""

from __future__ import annotations

import zipfile

import pytest

from inference_platform_ops.deploy import packaging
from inference_platform_ops.paths import ROOT
from tests.helpers import DEPLOY_TEMPLATES

PACKAGE = ROOT / "src" / "inference_platform"


def test_lambda_zip_is_byte_for_byte_reproducible(tmp_path):
    first = packaging.build_lambda_zip(PACKAGE, tmp_path / "a", None)
    (PACKAGE / "__pycache__").mkdir(exist_ok=True)  # bytecode lying around must not change the zip
    second = packaging.build_lambda_zip(PACKAGE, tmp_path / "b", None)

    assert first.sha256 == second.sha256
    assert first.key == f"lambda/{first.sha256}.zip"
    with zipfile.ZipFile(first.path) as archive:
        names = archive.namelist()
        assert "inference_platform/__init__.py" in names
        assert "inference_platform/handlers/__init__.py" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert {info.date_time for info in archive.infolist()} == {packaging.ZIP_EPOCH}


def test_dependencies_land_at_the_zip_root(tmp_path):
    deps = tmp_path / "deps"
    (deps / "pybreaker").mkdir(parents=True)
    (deps / "pybreaker" / "__init__.py").write_text("VERSION = 'test'\n")
    artifact = packaging.build_lambda_zip(PACKAGE, tmp_path / "out", deps)
    with zipfile.ZipFile(artifact.path) as archive:
        assert "pybreaker/__init__.py" in archive.namelist()
    assert artifact.with_dependencies


def test_nested_template_urls_are_rewritten_to_what_upload_returns():
    uploaded: dict[str, bytes] = {}

    def upload(key: str, body: bytes) -> str:
        uploaded[key] = body
        return f"https://bucket.s3.eu-west-1.amazonaws.com/{key}"

    packaged = packaging.package_template(DEPLOY_TEMPLATES / "main.yaml", upload)

    url = packaged["Resources"]["ChildStack"]["Properties"]["TemplateURL"]
    (key,) = uploaded
    assert url == f"https://bucket.s3.eu-west-1.amazonaws.com/{key}" and key.startswith("templates/")
    assert packaged["Outputs"]["TopicArn"]["Value"] == {"Fn::GetAtt": ["ChildStack", "Outputs.TopicArn"]}


def test_a_missing_nested_template_is_named(tmp_path):
    (tmp_path / "main.yaml").write_text(
        "Resources:\n  Child:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: gone.yaml\n")
    with pytest.raises(packaging.PackagingError, match=r"main.yaml: Child TemplateURL 'gone.yaml'"):
        packaging.package_template(tmp_path / "main.yaml", lambda key, body: key)


def test_failed_pip_install_is_one_clear_error(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("this-package-does-not-exist-anywhere==0.0.0\n")
    with pytest.raises(packaging.PackagingError, match="pip could not install"):
        packaging.install_dependencies(requirements, tmp_path / "cache", index_url="http://127.0.0.1:9/simple")
