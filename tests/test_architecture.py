"""The package's shape: imports only go downwards, nothing imports in a circle, and the speed
layer (stamping) stays at the edge. Lazy imports inside functions count as imports too."""

from __future__ import annotations

import ast
from pathlib import Path

import bpquiz

PACKAGE = Path(bpquiz.__file__).parent
LAYERS = {
    "bpquiz": 0,  # the package root: its version only
    "bpquiz.errors": 0,
    "bpquiz.files": 0,
    "bpquiz.forms": 0,
    "bpquiz.maths": 1,
    "bpquiz.exercises": 2,
    "bpquiz.sheets": 3,
    "bpquiz.grading": 4,
    "bpquiz.lms": 4,  # beside grading: the two never import each other
    "bpquiz.api": 5,
    "bpquiz.cli": 6,
    "bpquiz.__main__": 7,
}
"""Each part of the package, from the bottom: a module may import its own part and those below."""
STAMPING = "bpquiz.sheets.stamping"
EDGE = {"bpquiz.sheets.render"}
"""The only module outside the stamping package that may use it."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """The bpquiz modules `path` imports, anywhere in it (a name from a package counts as the
    module of that name when there is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("bpquiz"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bpquiz"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
    return found


def layer(module: str) -> int:
    while module not in LAYERS:
        module = module.rpartition(".")[0]
    return LAYERS[module]


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(path, known) - {name} for name, path in found.items()}


def test_every_module_belongs_to_a_layer() -> None:
    for name in modules():
        assert layer(name) >= 0, name


def test_imports_only_go_downwards() -> None:
    upward = [
        f"{name} → {target}"
        for name, targets in graph().items()
        for target in targets
        if layer(target) > layer(name)
    ]
    assert not upward


def test_content_never_imports_the_speed_layer() -> None:
    reaching = [
        f"{name} → {target}"
        for name, targets in graph().items()
        for target in targets
        if target.startswith(STAMPING) and not name.startswith(STAMPING) and name not in EDGE
    ]
    assert not reaching


def test_no_module_imports_in_a_circle() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " → ".join(cycle))
        if name in done:
            return
        for target in sorted(edges.get(name, ())):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(edges):
        visit(name, [])


def test_grading_and_lms_stay_apart() -> None:
    """Exporting questions and reading responses back are two sides of one round trip that share
    only the key: neither imports the other."""
    crossing = [
        f"{name} → {target}"
        for name, targets in graph().items()
        for target in targets
        for a, b in (("bpquiz.grading", "bpquiz.lms"), ("bpquiz.lms", "bpquiz.grading"))
        if name.startswith(a) and target.startswith(b)
    ]
    assert not crossing


def test_the_check_sees_imports() -> None:
    """The checks above would catch something: the CLI does import the library."""
    edges = graph()
    assert "bpquiz.api" in edges["bpquiz.cli"]
    assert "bpquiz.sheets.stamping.batch" in edges["bpquiz.sheets.render"]
