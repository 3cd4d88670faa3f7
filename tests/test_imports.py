"""No import cycle among metricsync's modules: imports at module level, inside functions and under
TYPE_CHECKING all count, and so does a platform record's Lazy("module", "name"), which is imported
on first use. Read with `ast` only: nothing of the package is imported to check it."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "metricsync"

Graph = dict[str, set[str]]


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its __init__.py)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, modules: set[str]) -> Iterator[tuple[str, bool]]:
    """(module, deferred) for each import in `module`'s source and each module its Lazy strings
    name; deferred: inside a function or under TYPE_CHECKING. `from pkg import name` imports
    pkg.name when that is a module, else pkg."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, deferred in _nodes(ast.parse(path.read_text(), str(path)), False):
        if isinstance(node, ast.Import):
            yield from ((alias.name, deferred) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                name = f"{base}.{alias.name}"
                yield (name if name in modules else base), deferred
        elif isinstance(node, ast.Call) and _called(node.func) == "Lazy" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value, deferred


def _nodes(node: ast.AST, deferred: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node below `node`, and whether it runs only when called (a function's body) or
    only for type checkers (under TYPE_CHECKING)."""
    for child in ast.iter_child_nodes(node):
        yield child, deferred
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            later, now = child.body, [*child.decorator_list, child.args]
        elif isinstance(child, ast.If) and _called(child.test) == "TYPE_CHECKING":
            later, now = child.body, [child.test, *child.orelse]
        else:
            later, now = [], [child]
        for part in later:
            yield part, True
            yield from _nodes(part, True)
        for part in now:
            if part is not child:
                yield part, deferred
            yield from _nodes(part, deferred)


def _called(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def import_graph() -> Graph:
    """Every import among the package's modules, except what a platform's commands import in
    their bodies or for their annotations. The record lists its commands for `metricsync`'s main
    (platforms/base.py), and what the commands run (the workspace, the config file) reads the
    registry: the one cycle by design, broken at run time because a command imports what it
    runs when it runs (cli/__init__.py). At import time a commands module may import only click,
    cli.options and its platform's cheap modules, and that is checked like everything else."""
    modules = module_names()
    names = set(modules)
    return {
        module: {
            m
            for m, deferred in imported(module, path, names)
            if m in names and m != module and not (deferred and _commands(module))
        }
        for module, path in modules.items()
    }


def _commands(module: str) -> bool:
    parts = module.split(".")
    return parts[:2] == ["metricsync", "platforms"] and parts[-1] == "commands"


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for after in sorted(graph[node]):
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            group: set[str] = set()
            while node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: Graph, group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, through the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    for node in queue:
        for after in sorted(graph[node] & group):
            if after == start:
                return [*paths[node], start]
            if after not in paths:
                paths[after] = [*paths[node], after]
                queue.append(after)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def test_no_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    shown = [
        f"{' -> '.join(cycle)} (one of {len(_group(graph, cycle[0]))} modules that import each "
        f"other: {', '.join(sorted(_group(graph, cycle[0])))})"
        for cycle in found
    ]
    assert not found, "import cycles:\n" + "\n".join(shown)


def _group(graph: Graph, start: str) -> set[str]:
    """The modules `start` reaches that reach it back."""
    return {m for m in _reached(graph, start) if start in _reached(graph, m)}


def _reached(graph: Graph, start: str) -> set[str]:
    seen, queue = {start}, [start]
    for node in queue:
        queue += [m for m in graph[node] if m not in seen]
        seen.update(graph[node])
    return seen


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    modules = {"metricsync.x", "metricsync.x.y", "metricsync.z"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from metricsync.x import y\n"
        "@decorated(Lazy('metricsync.x', 'y'))\n"
        "def f():\n    from metricsync.x import Name\n"
        "P = Lazy('metricsync.z', 'Z')\n"
    )
    path = tmp_path / "w.py"
    path.write_text(source)
    found = set(imported("metricsync.w", path, modules))
    assert found == {
        ("typing", False),
        ("metricsync.x.y", True),
        ("metricsync.x", True),
        ("metricsync.x", False),
        ("metricsync.z", False),
    }


def test_help_loads_only_click_and_the_platform_records() -> None:
    """`metricsync --help` starts fast: the records name their providers lazily (Lazy), and each
    command imports what it runs when it runs (cli/__init__.py)."""
    script = (
        "import sys\n"
        "from metricsync.cli.main import run\n"
        "run(['--help'])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.partition('.')[0] in HEAVY)))\n"
    )
    heavy = "HEAVY = {'httpx', 'yaml', 'jsonschema', 'jsonschema_rs', 'msgspec'}\n"
    ran = subprocess.run(
        [sys.executable, "-c", heavy + script], capture_output=True, text=True, check=True
    )
    assert ran.stdout.splitlines()[-1] == ""
