"""The version the deploy records as TemplateVersion: `git describe --always --dirty`, else the package version."""

from __future__ import annotations

import subprocess

import pytest

import inference_platform
from inference_platform_ops.deploy import deploy
from inference_platform_ops.deploy.config import load_config
from inference_platform_ops.templates import load_template
from tests.helpers import DEPLOY_TEMPLATES


def git(repo, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
               "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args]
    # Fixed argv (git on a throwaway repository in tmp_path), never a shell.
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


@pytest.fixture
def checkout(tmp_path):
    """A git checkout with one committed template in templates/."""
    git(tmp_path, "init", "--quiet")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "main.yaml").write_text("Resources: {}\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "--quiet", "-m", "first")
    return tmp_path


def test_an_untagged_commit_is_named_by_its_abbreviated_hash(checkout):
    assert deploy.template_version(checkout / "templates") == git(checkout, "rev-parse", "--short", "HEAD")


def test_a_tag_names_the_version_and_commits_after_it_are_counted(checkout):
    git(checkout, "tag", "-a", "v1.2.0", "-m", "release")
    assert deploy.template_version(checkout / "templates") == "v1.2.0"

    (checkout / "templates" / "main.yaml").write_text("Resources: {A: {Type: AWS::SNS::Topic}}\n")
    git(checkout, "commit", "--quiet", "-am", "second")
    assert deploy.template_version(checkout) == f"v1.2.0-1-g{git(checkout, 'rev-parse', '--short', 'HEAD')}"


def test_uncommitted_changes_mark_the_version_dirty_and_untracked_files_do_not(checkout):
    clean = deploy.template_version(checkout)
    (checkout / "notes.txt").write_text("untracked")
    assert deploy.template_version(checkout) == clean  # an unchanged checkout redeploys as "no changes"

    (checkout / "templates" / "main.yaml").write_text("Resources: {}\n# edited\n")
    assert deploy.template_version(checkout) == f"{clean}-dirty"


def test_characters_a_parameter_refuses_are_replaced(checkout):
    git(checkout, "tag", "-a", "release@2024#1", "-m", "release")
    assert deploy.template_version(checkout) == "release-2024-1"


def test_outside_a_git_checkout_the_package_version_is_used(tmp_path):
    assert deploy.template_version(tmp_path) == inference_platform.__version__


def test_without_git_the_package_version_is_used(checkout, monkeypatch):
    monkeypatch.setattr(deploy.shutil, "which", lambda name: None)
    assert deploy.template_version(checkout) == inference_platform.__version__


def test_the_version_goes_to_every_template_that_declares_it():
    config = load_config("local", DEPLOY_TEMPLATES / "params")

    targets, problems = deploy.build_targets(config, DEPLOY_TEMPLATES, "v3.1.4-2-gdeadbee-dirty")

    assert problems == []
    assert {t.role: t.parameters["TemplateVersion"] for t in targets} == {
        "primary": "v3.1.4-2-gdeadbee-dirty", "billing": "v3.1.4-2-gdeadbee-dirty"}


def test_a_template_without_the_parameter_gets_none():
    template = {"Parameters": {"Environment": {"Type": "String"}}}
    assert deploy.with_version(template, {"Environment": "dev"}, "v1", "x") == ({"Environment": "dev"}, [])


def test_a_params_file_may_not_set_the_version():
    main = load_template(DEPLOY_TEMPLATES / "main.yaml")
    _, problems = deploy.with_version(main, {"TemplateVersion": "v9"}, "v1", "params/dev.json (primary us-east-1)")
    assert problems == ["params/dev.json (primary us-east-1): TemplateVersion is set by the deploy (git describe "
                        "of the checkout); remove it from the params file"]
