"""The CloudFormation execution role covers the registry handlers' permissions of every deployed resource
(inference_platform_ops.iam.handler_permissions), evaluated with the policy evaluator."""

from __future__ import annotations

import shutil

from inference_platform_ops.iam import handler_permissions
from tests.helpers.template_loader import TEMPLATES


def test_the_execution_role_covers_every_handler_permission_the_deployed_resources_need():
    result = handler_permissions.coverage(TEMPLATES)
    assert [f"{r.resource_type} {r.handler}: {r.permission} on {r.resource}: {why}" for r, why in result.gaps] == []
    assert result.total > 200  # every type of every params file, read/delete always, create/update where set
    assert all(reason for reason in handler_permissions.OMISSIONS.values())


def test_a_missing_read_permission_is_a_gap(tmp_path):
    """Without events:ListTargetsByRule, deleting the transform-job rule ends DELETE_FAILED."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy)
    bootstrap = copy / "bootstrap.yaml"
    bootstrap.write_text(bootstrap.read_text().replace("events:ListTargetsByRule", "events:ListRules"))
    result = handler_permissions.coverage(copy, types={"AWS::Events::Rule"})
    gaps = {(r.resource_type, r.permission) for r, _ in result.gaps}
    assert ("AWS::Events::Rule", "events:ListTargetsByRule") in gaps
