"""Load CloudFormation YAML (with !Ref, !Sub, !GetAtt ... short forms) as plain dicts.

Uses cfn-lint's own decoder so tests read templates exactly as the linter does: short-form tags
come back in long form (``{"Ref": "X"}``, ``{"Fn::Sub": "..."}``).
"""

from __future__ import annotations

from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


def load_template(name: str) -> dict:
    path = TEMPLATES / name
    if not path.is_file():
        raise FileNotFoundError(f"template {path} does not exist")
    return cfn_yaml.load(str(path))
