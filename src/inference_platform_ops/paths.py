"""Where the checkout's files are: every ops tool works on a clone of this repository."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
PARAMS = TEMPLATES / "params"
RULES = ROOT / "rules"
REQUIREMENTS = ROOT / "requirements"
RUNTIME_PACKAGE = ROOT / "src" / "inference_platform"
BUILD = ROOT / "build"
TOOLS = ROOT / ".tools"
TRAFFIC = ROOT / "data" / "traffic"
