"""The layout docs/internals/architecture.md describes, held by the code itself.

Read from the source (every import, at any depth in a module): the stages never
reach the speed-ups but through resolver/acceleration.py; the modules import one
another without cycles; and only _speed/forked.py forks.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "resolver"
CHOOSERS = {"resolver.cli", "resolver.cli.commands", "resolver.cli.mkvenv",
            "resolver.cli.speed"}
"""The entry point and the command line: they choose the implementation (cli/speed.py)
and run what precedes the full command line (the up-to-date path, recipes)."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime(tree: ast.AST) -> list[ast.AST]:
    # Every node but those under ``if TYPE_CHECKING:`` (imports for annotations only).
    nodes: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and (
                node.test.id == "TYPE_CHECKING"):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def _imports(path: Path) -> set[str]:
    # Every module of the package this one imports when it runs (``from . import x``
    # names x), at any depth: a function's imports count as well.
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("resolver"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if not origin.startswith("resolver"):
                continue
            found.add(origin)
            found.update(f"{origin}.{a.name}" for a in node.names)
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    paths = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in paths and m != name}
            for name, path in paths.items()}


def test_no_stage_imports_speed_code() -> None:
    edges = graph()
    reaching = sorted(f"{name} -> {dep}" for name, deps in edges.items()
                      if not name.startswith("resolver._speed") and name not in CHOOSERS
                      for dep in deps if dep.startswith("resolver._speed"))
    assert reaching == []


def test_the_modules_import_one_another_without_cycles() -> None:
    edges = graph()
    # Tarjan's strongly connected components: any with two modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in edges[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    # A package's __init__ importing its own modules is not a cycle of modules.
    cycles = [c for c in cycles
              if not all(m.startswith(min(c, key=len)) for m in c)]
    assert cycles == []


def test_only_forked_py_forks() -> None:
    forking = sorted(_module(p) for p in PACKAGE.rglob("*.py")
                     if "os.fork()" in p.read_text(encoding="utf-8"))
    assert forking == ["resolver._speed.forked"]
