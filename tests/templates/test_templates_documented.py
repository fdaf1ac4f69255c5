"""Templates read like documentation: every parameter says what it is, the console groups every parameter once,
the one cfn-lint exception is stated once, and the deployed version is an output."""

from __future__ import annotations

import copy
import functools

import pytest

from tests.helpers.template_loader import TEMPLATES
from tests.helpers.template_loader import load_template as read_template

ALL = sorted(path.name for path in TEMPLATES.glob("*.yaml"))
DESCRIPTION_LIMIT = 4000  # CloudFormation refuses a longer parameter Description
VERSIONED = ["main.yaml", "billing-alarms.yaml", "bootstrap.yaml"]
# Each template is read once for all the checks below (they never modify it; the broken copy is a deep copy).
load_template = functools.cache(read_template)


def undocumented(template: dict) -> list[str]:
    """Parameters whose Description is missing, blank or longer than CloudFormation accepts."""
    problems = []
    for name, spec in (template.get("Parameters") or {}).items():
        text = spec.get("Description")
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{name}: no Description")
        elif len(text) > DESCRIPTION_LIMIT:
            problems.append(f"{name}: Description is {len(text)} characters (limit {DESCRIPTION_LIMIT})")
    return problems


def interface_problems(template: dict) -> list[str]:
    """Parameters missing from the console groups or grouped twice, and groups or labels naming no parameter."""
    interface = (template.get("Metadata") or {}).get("AWS::CloudFormation::Interface") or {}
    declared = set(template.get("Parameters") or {})
    grouped: list[str] = [name for group in interface.get("ParameterGroups") or [] for name in group["Parameters"]]
    problems = [f"{name}: in no ParameterGroup" for name in sorted(declared - set(grouped))]
    problems += [f"{name}: in {grouped.count(name)} ParameterGroups" for name in sorted(set(grouped))
                 if grouped.count(name) > 1]
    problems += [f"{name}: grouped but not a parameter" for name in sorted(set(grouped) - declared)]
    for group in interface.get("ParameterGroups") or []:
        if not str((group.get("Label") or {}).get("default", "")).strip():
            problems.append(f"group {group['Parameters']}: no Label")
    for name, label in (interface.get("ParameterLabels") or {}).items():
        if name not in declared:
            problems.append(f"{name}: labelled but not a parameter")
        elif not str((label or {}).get("default", "")).strip():
            problems.append(f"{name}: empty label")
    return problems


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_says_what_it_is(name):
    assert undocumented(load_template(name)) == []


@pytest.mark.parametrize("name", ALL)
def test_the_console_groups_every_parameter_exactly_once(name):
    assert interface_problems(load_template(name)) == []


def test_main_has_console_groups():
    assert load_template("main.yaml")["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]


def test_the_checks_fail_on_a_template_that_breaks_them():
    broken = copy.deepcopy(load_template("main.yaml"))
    del broken["Parameters"]["BatchThreshold"]["Description"]
    broken["Parameters"]["IdleWindowHours"]["Description"] = "  "
    broken["Parameters"]["DrTier"]["Description"] = "x" * (DESCRIPTION_LIMIT + 1)
    groups = broken["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    groups[0]["Parameters"].remove("Environment")
    groups[1]["Parameters"].append("InstanceType")
    groups[2]["Parameters"].append("NoSuchParameter")
    broken["Metadata"]["AWS::CloudFormation::Interface"]["ParameterLabels"]["Gone"] = {"default": "Gone"}

    assert undocumented(broken) == ["DrTier: Description is 4001 characters (limit 4000)",
                                    "BatchThreshold: no Description", "IdleWindowHours: no Description"]
    assert interface_problems(broken) == ["Environment: in no ParameterGroup", "InstanceType: in 2 ParameterGroups",
                                          "NoSuchParameter: grouped but not a parameter",
                                          "Gone: labelled but not a parameter"]


def _resource_level_ignores(template: dict) -> list[str]:
    return [logical_id for logical_id, resource in (template.get("Resources") or {}).items()
            if "W3002" in (((resource.get("Metadata") or {}).get("cfn-lint") or {}).get("config") or {}).get(
                "ignore_checks", [])]


@pytest.mark.parametrize("name", ALL)
def test_the_relative_template_url_exception_is_stated_once_for_the_template(name):
    """cfn-lint W3002 (relative TemplateURL, packaged by the deploy) is ignored at template level in main.yaml
    only, beside its reason, never again per resource."""
    template = load_template(name)
    assert _resource_level_ignores(template) == []
    ignored = ((template.get("Metadata") or {}).get("cfn-lint") or {}).get("config", {}).get("ignore_checks", [])
    nested = [r for r in (template.get("Resources") or {}).values() if r["Type"] == "AWS::CloudFormation::Stack"]
    assert ignored == (["W3002"] if nested else [])
    if nested:
        assert "W3002" in (TEMPLATES / name).read_text().split("ignore_checks")[0]  # the reason is written beside it


@pytest.mark.parametrize("name", VERSIONED)
def test_deployed_templates_output_the_version_they_were_deployed_with(name):
    template = load_template(name)
    parameter = template["Parameters"]["TemplateVersion"]
    assert parameter["Default"] == "unversioned"
    assert template["Outputs"]["TemplateVersion"]["Value"] == {"Ref": "TemplateVersion"}
    assert "Condition" not in template["Outputs"]["TemplateVersion"]
