"""What the guard gate's Python checks share: findings and suppressions (templates are read by
:mod:`inference_platform_ops.templates`).

A suppression is ``Metadata: {guard: {SuppressedRules: [RULE, ...], Reason: "<why>"}}`` on a resource.
It skips RULE for that resource only when Reason is a non-empty string; the gate fails a suppression
without one (rule SUPPRESSION_REASON) and lists every suppression it honoured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inference_platform_ops.templates import resources

SUPPRESSION_RULE = "SUPPRESSION_REASON"


@dataclass(frozen=True, order=True)
class Finding:
    """One failure: which template, which resource (or Parameters/<name>, or -), which rule, what to do."""

    template: str
    resource: str
    rule: str
    message: str

    def line(self) -> str:
        return f"FAIL {self.template} {self.resource} {self.rule}: {self.message}"


@dataclass(frozen=True, order=True)
class Suppression:
    template: str
    resource: str
    rule: str
    reason: str

    def line(self) -> str:
        return f"SUPPRESSED {self.template} {self.resource} {self.rule}: {self.reason}"


def read_suppressions(template_name: str, template: dict[str, Any]) -> tuple[list[Suppression], list[Finding]]:
    """Valid suppressions, and a SUPPRESSION_REASON finding for each malformed or unexplained one."""
    valid: list[Suppression] = []
    invalid: list[Finding] = []
    for name, resource in resources(template).items():
        metadata = resource.get("Metadata")
        guard = metadata.get("guard") if isinstance(metadata, dict) else None
        if guard is None:
            continue
        rules = guard.get("SuppressedRules") if isinstance(guard, dict) else None
        if not isinstance(rules, list) or not rules or not all(isinstance(rule, str) for rule in rules):
            invalid.append(Finding(template_name, name, SUPPRESSION_RULE,
                                   "Metadata.guard.SuppressedRules must be a non-empty list of rule names. "
                                   "Fix: SuppressedRules: [RULE_NAME] with Reason: \"<why>\"."))
            continue
        reason = guard.get("Reason")
        if not isinstance(reason, str) or not reason.strip():
            invalid.append(Finding(template_name, name, SUPPRESSION_RULE,
                                   f"suppression of {', '.join(rules)} has no written Reason, so it is not honoured. "
                                   "Fix: add Metadata.guard.Reason: \"<why this exception is justified>\"."))
            continue
        valid.extend(Suppression(template_name, name, rule, " ".join(reason.split())) for rule in rules)
    return valid, invalid


def is_suppressed(suppressions: list[Suppression], template_name: str, resource: str, rule: str) -> bool:
    return any(s.template == template_name and s.resource == resource and s.rule == rule for s in suppressions)
