"""The layout's rules, checked on the source: no import cycles, no function over 120 lines.

Imports inside functions count too (a lazy import still ties two modules together), and so does
`importlib.import_module("literal")`, the way the method registry once hid its cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "envs", "oracle_cache")
MAX_FUNCTION_LINES = 120


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    """Modules one AST node imports (relative imports resolved against `module`).

    `from pkg import sub` imports the submodule; it is an edge to `pkg` itself only for names
    that are not submodules (a package's `__init__` importing its own submodules is no cycle).
    """
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = module.split(".")
            anchor = anchor if is_package else anchor[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "import_module"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return []


def import_graph() -> dict[str, set[str]]:
    """module -> project modules it imports anywhere in its body."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            for target in _imported(node, name, path.name == "__init__.py", set(modules)):
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_and_dynamic_imports_are_edges() -> None:
    tree = ast.parse("from . import b\nimportlib.import_module('pkg.c')")
    known = {"pkg.a", "pkg.b", "pkg.c"}
    names = [n for node in ast.walk(tree) for n in _imported(node, "pkg.a", False, known)]
    assert "pkg.b" in names and "pkg.c" in names


def test_no_import_cycles_among_the_projects_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def _long_functions() -> list[str]:
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name} ({n} lines)")
    return long


def test_no_function_is_longer_than_120_lines() -> None:
    long = _long_functions()
    assert not long, "split these: " + ", ".join(long)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_package_is_found(pkg: str) -> None:
    assert pkg in _modules()


def test_every_env_declares_its_capabilities() -> None:
    """The loops read capabilities from the env; each env class declares them (no probing)."""
    from envs.alfred.thor import ThorAlfredEnv
    from envs.alfred.twin import AlfredTwinEnv
    from envs.metaworld.env import MetaWorldEnv
    from envs.real_robot.client import RobotEnv
    from envs.spec import EnvCapabilities

    for cls in (MetaWorldEnv, AlfredTwinEnv, ThorAlfredEnv, RobotEnv):
        assert issubclass(cls, EnvCapabilities), cls
    assert MetaWorldEnv.has_privileged_state and MetaWorldEnv.shared_hardware is None
    assert AlfredTwinEnv.obs_structure is not None  # SlotNet's input layout
    assert RobotEnv.end_of_run is not EnvCapabilities.end_of_run  # deletes its frame stores
    assert isinstance(RobotEnv.shared_hardware, property)  # the robot's address
