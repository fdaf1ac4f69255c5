"""Properties every template shares: it parses, and every parameter says what it accepts."""

from __future__ import annotations

import pytest

from inference_platform.shared.constants import ENVIRONMENTS
from tests.helpers.template_loader import TEMPLATES, load_template

OWN = ["main.yaml", "endpoints.yaml", "scaling.yaml", "state-store.yaml", "billing-alarms.yaml", "bootstrap.yaml"]
ALL = sorted(path.name for path in TEMPLATES.glob("*.yaml"))
CONSTRAINTS = ("AllowedValues", "AllowedPattern", "MinValue", "MaxValue")


@pytest.mark.parametrize("name", ALL)
def test_template_parses_with_a_description_and_resources(name):
    template = load_template(name)
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Description"].strip()
    assert template["Resources"]


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_is_constrained_and_says_how(name):
    for parameter, spec in (load_template(name).get("Parameters") or {}).items():
        assert any(key in spec for key in CONSTRAINTS), f"{name}: {parameter} has no constraint"
        assert str(spec.get("ConstraintDescription", "")).strip(), f"{name}: {parameter} has no ConstraintDescription"


@pytest.mark.parametrize("name", OWN)
def test_own_templates_are_present(name):
    assert (TEMPLATES / name).is_file()


def test_loader_refuses_a_missing_template():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_template("no-such-template.yaml")


@pytest.mark.parametrize("name", OWN)
def test_conditions_reference_conditions_in_the_long_form(name):
    """moto's YAML loader reads `!Condition X` as Fn::Condition and evaluates it as false, which would
    silently switch capabilities off in the local emulator; `{Condition: X}` means the same to AWS."""
    text = (TEMPLATES / name).read_text()
    assert "!Condition" not in text
    for condition, expr in (load_template(name).get("Conditions") or {}).items():
        assert set(expr) != {"Condition"}, f"{name}: {condition} is a bare alias of another condition"


@pytest.mark.parametrize("name", ALL)
def test_environment_parameter_accepts_exactly_the_platform_environments(name):
    """The code's one list of environments (shared.constants) and every template agree, so a new environment
    is added in both or the gate fails."""
    spec = (load_template(name).get("Parameters") or {}).get("Environment")
    if spec is not None:
        assert tuple(spec["AllowedValues"]) == ENVIRONMENTS, name


@pytest.mark.parametrize("name", ALL)
def test_every_lambda_names_its_metrics_namespace_and_service(name):
    """The code hard-codes neither: Powertools reads them from the function's environment."""
    for logical, resource in (load_template(name).get("Resources") or {}).items():
        if resource.get("Type") == "AWS::Lambda::Function":
            variables = resource["Properties"]["Environment"]["Variables"]
            assert variables.get("POWERTOOLS_METRICS_NAMESPACE"), f"{name}: {logical}"
            assert variables.get("POWERTOOLS_SERVICE_NAME"), f"{name}: {logical}"
