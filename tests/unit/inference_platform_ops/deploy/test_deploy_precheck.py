"""The deploy refuses, in one line naming file and field, every setting a Lambda would refuse at cold start.

Each case used to deploy (or crash with a traceback) and then fail every execution. The real templates and
a copy of templates/params/local.json; nothing is reached over the network: the checks run before any
AWS call (the endpoint given here does not exist).
"""

from __future__ import annotations

import json
import shutil

import pytest

from inference_platform_ops.deploy import deploy, lambda_settings
from inference_platform_ops.paths import TEMPLATES
from inference_platform_ops.templates import load_template

NOWHERE = "http://127.0.0.1:9"  # the discard port: anything that got this far would fail differently


@pytest.fixture
def templates(tmp_path):
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy)
    return copy


def edit(templates, **top_level) -> None:
    path = templates / "params" / "local.json"
    config = json.loads(path.read_text())
    config["Parameters"].update(top_level.pop("Parameters", {}))
    config.update(top_level)
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(("change", "expected"), [
    ({"Parameters": {"BusinessTimezone": "Mars/Olympus"}},
     "Parameters.BusinessTimezone: unknown time zone 'Mars/Olympus'"),
    ({"Parameters": {"InputPrefix": "", "OutputPrefix": "output/"}},
     "Parameters.OutputPrefix 'output/' must not be inside Parameters.InputPrefix ''"),
    ({"Parameters": {"BusinessHoursMaxCapacity": "4.5"}},
     "Parameters.BusinessHoursMaxCapacity must be a whole number, got '4.5'"),
    ({"Parameters": {"BatchThreshold": "500000"}},
     "Parameters.BatchThreshold must be between 1 and 100000, got 500000"),  # the template's bound = the router's
    ({"StackName": "ml inference local"}, "StackName 'ml inference local' is not a CloudFormation stack name"),
    ({"Tags": [{"Key": "Environment", "Value": "local"}]}, "Tags must be an object of tag name to value"),
])
def test_a_setting_a_lambda_or_resource_would_refuse_is_refused_before_anything_is_uploaded(templates, capsys,
                                                                                             change, expected):
    edit(templates, **change)

    code = deploy.main(["--env", "local", "--templates-dir", str(templates), "--endpoint-url", NOWHERE, "--no-deps"])

    out = capsys.readouterr().out
    assert code == deploy.EXIT_BAD_INPUT, out
    assert len(out.strip().splitlines()) == 1 and out.startswith("deploy: error: "), out
    assert "local.json" in out and expected in out
    assert "Traceback" not in out


def test_the_shipped_params_files_pass_every_lambdas_own_checks():
    from inference_platform_ops.deploy.config import load_config

    for env in ("local", "dev", "staging", "production"):
        config = load_config(env, TEMPLATES / "params")
        assert deploy.build_targets(config, TEMPLATES)[1] == [], env


def test_every_lambda_of_the_templates_has_its_settings_known():
    handlers = {resource["Properties"]["Handler"].rpartition(".")[0]
                for path in sorted(TEMPLATES.glob("*.yaml"))
                for resource in (load_template(path).get("Resources") or {}).values()
                if resource.get("Type") == "AWS::Lambda::Function"}
    assert handlers and handlers <= set(lambda_settings.SETTINGS_OF_HANDLER), \
        "add the new handler's settings class to lambda_settings.SETTINGS_OF_HANDLER"


@pytest.mark.parametrize("template", ["main.yaml", "workflow.yaml"])
def test_the_templates_batch_threshold_range_is_the_routers(template):
    """The template refuses what the router Lambda would refuse at cold start, and allows all it accepts."""
    from inference_platform.shared.settings import ConfigError
    from inference_platform.workflow.config import RouteConfig

    spec = load_template(TEMPLATES / template)["Parameters"]["BatchThreshold"]
    env = {"INPUT_LOCATION": "bucket-alias-s3alias", "INPUT_PREFIX": "input/", "OUTPUT_PREFIX": "output/"}
    for accepted in (spec["MinValue"], spec["MaxValue"]):
        assert RouteConfig.from_env({**env, "BATCH_THRESHOLD": str(accepted)}).batch_threshold == int(accepted)
    for refused in (int(spec["MinValue"]) - 1, int(spec["MaxValue"]) + 1):
        with pytest.raises(ConfigError):
            RouteConfig.from_env({**env, "BATCH_THRESHOLD": str(refused)})
