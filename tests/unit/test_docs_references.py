"""Every name the docs give a reader exists: README.md and docs/*.md name files, Python modules (and what they
define), make targets and console scripts, and each must be there, so a restructure that moves a file without
updating its doc fails here instead of leaving a newcomer with a path that is not there.

What counts as a reference, read from code spans and fenced blocks (module names and links from prose too):
- a path: a word whose first segment is a directory of this repository (`src/...`, `tests/...`, `emulator/x.py`),
  or a bare file name with a source extension (`model.py`); it must end a tracked file or directory path
  (`<env>` and `*` match one path segment). `file.py::test_name` must also define that test.
- a module: `inference_platform.x.y[.attribute]`; the module must be importable (find_spec) and define the
  attribute (read from its source, so nothing is imported).
- `make <target>`: a rule in the Makefile. `inference-<name>`: a console script in pyproject.toml.
- a relative link `[text](file.md#heading)` in prose: the file exists and has that heading (GitHub's anchor).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from inference_platform_ops.paths import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXTENSIONS = (".py", ".yaml", ".yml", ".json", ".md", ".toml", ".txt", ".guard", ".cjs", ".csv", ".cfg")
# File names the docs cite from an installed library, not from this repository: name -> (package, resource).
EXTERNAL = {"iam_definition.json": ("parliament", "iam_definition.json")}
# Names that look like files and are not in the checkout: what the cost report writes into build/, a template key.
NOT_FILES = {"hours.csv", "report.json", "week.png", "Metadata.guard"}
CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)
FENCED = re.compile(r"```.*?```", re.S)
MODULE = re.compile(r"\binference_platform(?:_ops)?(?:\.(?:\w+|<\w+>))*")
MAKE = re.compile(r"\bmake ([a-z][\w*-]*)")
SCRIPT = re.compile(r"(?<![\w:/.<-])(?:\.venv/bin/)?(inference-[a-z][a-z*-]*)(?![\w:/.-])")
LINK = re.compile(r"\]\((?!https?://)([^)#\s]*)(?:#([^)\s]*))?\)")
NOT_SCRIPTS = {"inference-component", "inference-platform"}  # a SageMaker resource type; the distribution name


@functools.cache
def tracked() -> tuple[str, ...]:
    """Files git knows (tracked, or new and not ignored) that are on disk."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.splitlines()
    return tuple(sorted(name for name in set(listed) if (ROOT / name).is_file()))


@functools.cache
def directories() -> frozenset[str]:
    return frozenset(part for name in tracked() for part in name.split("/")[:-1])


@functools.cache
def make_targets() -> frozenset[str]:
    return frozenset(re.findall(r"^([a-zA-Z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


@functools.cache
def console_scripts() -> frozenset[str]:
    return frozenset(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])


def code_of(text: str) -> list[tuple[str, bool]]:
    """Inline code spans and fenced blocks (flagged True), in order."""
    return [(fenced or inline, bool(fenced)) for fenced, inline in CODE.findall(text)]


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens (repeats get -1, -2 ...)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in re.findall(r"^#+ (.+)$", FENCED.sub("", markdown), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        result.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return result


def link_problem(doc: Path, target: str, anchor: str | None) -> str | None:
    path = (doc.parent / target).resolve() if target else doc
    if not path.exists():
        return f"]({target}): no such file"
    if anchor and path.suffix == ".md" and anchor not in anchors(path.read_text()):
        return f"]({target}#{anchor}): no such heading"
    return None


def _matches(pattern: str, names) -> bool:
    return any(re.fullmatch(_segment_regex(pattern), name) for name in names)


def _segment_regex(pattern: str) -> str:
    """`<name>` and `*` match within one path segment; everything else literally."""
    parts = re.split(r"(<[^>]*>|\*)", pattern)
    return "".join("[^/]*" if part == "*" or part.startswith("<") else re.escape(part) for part in parts)


def path_problem(word: str, bare_names: bool = True) -> str | None:
    """Why `word` names no file of the repository, or None (also for words that are not repository paths).

    Bare file names (no `/`) are checked only when `bare_names` (not in fenced blocks: sample output, user files)."""
    word = word.lstrip("('\"").rstrip(".,;:)'\"")
    name, _, test = word.partition("::")
    name = re.sub(r"/?\.\.\.$", "/", name)  # `unit/<package>/...`
    if not name or "://" in name or name.startswith(("/", "$", "!", "@")) or re.search(r"[{}$=:|]", name):
        return None
    segments = name.split("/")
    if len(segments) > 1:
        if segments[0] not in directories():
            return None  # an S3 key, a metric namespace, org/repo ...: not a path in this checkout
    elif not bare_names or not name.endswith(EXTENSIONS) or name.startswith(".") or name in NOT_FILES:
        return None
    if name in EXTERNAL:
        package, resource = EXTERNAL[name]
        spec = importlib.util.find_spec(package)  # a top-level name: found without importing the package
        folders = (spec.submodule_search_locations or []) if spec else []
        return None if any((Path(folder) / resource).is_file() for folder in folders) else f"{name}: not in {package}"
    is_dir = name.endswith("/")
    stem = r"(?:^|.*/)" + _segment_regex(name.rstrip("/"))
    matches = [path for path in tracked() if re.match(stem + ("/.+$" if is_dir else "$"), path)]
    if not matches and not is_dir and any(re.match(stem + "/.+$", path) for path in tracked()):
        return None  # a directory named without its trailing slash
    if not matches:
        return f"{word}: no such {'directory' if is_dir else 'file'}"
    if test:
        test = test.removesuffix("...")
        if not any(re.search(rf"^\s*def {re.escape(test)}", (ROOT / path).read_text(), re.M) for path in matches):
            return f"{word}: no test {test} in {matches}"
    return None


@functools.cache
def defined_names(module: str) -> frozenset[str] | None:
    """Top-level names a module defines or imports, read from its source; None if it is not a module."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    tree = ast.parse(Path(spec.origin).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return frozenset(names)


def submodules(package: str) -> list[str]:
    spec = importlib.util.find_spec(package)
    folder = Path(spec.origin).parent
    return [f"{package}.{path.stem}" for path in sorted(folder.glob("*.py")) if path.stem != "__init__"]


def module_problem(reference: str) -> str | None:
    """Why the dotted `reference` (a module, then at most one name it defines) does not exist, or None.

    Resolved from the top down, so only packages are imported (find_spec imports a name's parents)."""
    parts = reference.split(".")
    if any(part.startswith("<") for part in parts):  # `inference_platform.handlers.<name>.handler`: every module
        index = next(i for i, part in enumerate(parts) if part.startswith("<"))
        rest = ".".join(parts[index + 1:])
        problems = [problem for module in submodules(".".join(parts[:index]))
                    if (problem := module_problem(f"{module}.{rest}" if rest else module))]
        return "; ".join(problems) or None
    cut = 1
    while cut < len(parts):
        spec = importlib.util.find_spec(".".join(parts[:cut]))
        if spec is None or spec.submodule_search_locations is None:
            break
        cut += 1
    if importlib.util.find_spec(".".join(parts[:cut])) is None:
        cut -= 1  # the last name is not a module: an attribute of its parent
    module, attributes = ".".join(parts[:cut]), parts[cut:]
    if cut == 0:
        return f"{reference}: no such module"
    if not attributes:
        return None
    if len(attributes) > 1:
        return f"{reference}: no module {module}.{attributes[0]}"
    if attributes[0] not in (defined_names(module) or frozenset()):
        return f"{reference}: {module} defines no {attributes[0]}"
    return None


def problems_in(text: str, doc: Path = ROOT / "docs" / "any.md") -> list[str]:
    problems = []
    for code, fenced in code_of(text):
        for word in code.split():
            if problem := path_problem(word, bare_names=not fenced):
                problems.append(problem)
        problems += [f"make {target}: no such target" for target in MAKE.findall(code)
                     if not _matches(target, make_targets())]
        problems += [f"{script}: no such console script" for script in SCRIPT.findall(code)
                     if not _matches(script, console_scripts() | NOT_SCRIPTS)]
    problems += [problem for target, anchor in LINK.findall(CODE.sub("", text))
                 if (problem := link_problem(doc, target, anchor))]
    problems += [problem for reference in sorted(set(MODULE.findall(text))) if (problem := module_problem(reference))]
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_path_module_target_and_script_a_doc_names_exists(doc):
    assert problems_in(doc.read_text(), doc) == []


def test_the_checker_reports_what_is_not_there():
    text = """
Run `make deploy` then `make deplyo`; `.venv/bin/inference-deploy --env local` or `inference-depoly`.
See `src/inference_platform/workflow/routing.py`, `tests/template_loader.py`, `emulator/compat.py`,
`templates/params/<env>.json`, `scripts/run_guard.py` and `test_routing.py::test_no_such_test`.
`inference_platform.routing.resolve_inference_strategy`, `inference_platform.template_params.validate_parameters`,
`inference_platform.routing.no_such_function`; keys such as `production/` or `AWS/Billing` are not paths.
Links: [routing](workflow.md#routing), [gone](workflow.md#no-such-heading), [moved](no-such.md).
```
make lint        inference-guard     guard/gate.py -> guard/no_such_check.py
```
"""
    assert problems_in(text) == [
        "make deplyo: no such target",
        "inference-depoly: no such console script",
        "tests/template_loader.py: no such file",
        "scripts/run_guard.py: no such file",
        "test_routing.py::test_no_such_test: no test test_no_such_test in "
        "['tests/unit/inference_platform/workflow/test_routing.py']",
        "guard/no_such_check.py: no such file",
        "](workflow.md#no-such-heading): no such heading",
        "](no-such.md): no such file",
        "inference_platform.routing.no_such_function: inference_platform.routing defines no no_such_function",
        "inference_platform.template_params.validate_parameters: no module inference_platform.template_params",
    ]
