"""The house's gates, run by the test command so they stay clean in every commit: ruff (lint and import order)
and mypy, both configured in pyproject.toml and installed by the test extra."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing(tmp_path):
    result = _run("mypy", "--cache-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path, package: str) -> set[str]:
    """Every module of `package` a file imports, wherever the import stands (also under TYPE_CHECKING, or inside
    a function): a circle is a circle to whoever reads the code, even when Python tolerates it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # a module, or a name in one
            found.add(node.module)
    return {name for name in found if name.split(".")[0] == package}


def _module_graph(package: str) -> dict[str, set[str]]:
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (ROOT / package).rglob("*.py")}
    return {module: {name for name in _imports(path, package) if name in files and name != module}
            for module, path in files.items()}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, if there is any (an iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if root in state:
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_import_graph_has_no_circles():
    graph = _module_graph("sequin_emulator")
    assert len(graph) > 40 and "sequin_emulator.domain.tenant" in graph["sequin_emulator.domain.streams"]
    assert _circle(graph) is None, " → ".join(_circle(graph) or [])


def test_the_circle_finder_finds_a_circle():
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _circle({"a": {"b"}, "b": set()}) is None


def test_the_domain_knows_the_providers_through_the_catalogue_only():
    """The one arrow of the house that runs upward (the domain reading the provider plugins) goes through one
    module; the rest of the domain asks it."""
    graph = _module_graph("sequin_emulator")
    readers = {module for module, imported in graph.items() if module.startswith("sequin_emulator.domain.")
               and any(name.startswith("sequin_emulator.providers") for name in imported)}
    assert readers == {"sequin_emulator.domain.catalog"}
