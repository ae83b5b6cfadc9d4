"""The package's layers form a DAG: no import cycle between ocseg's subpackages or modules.

Imports are read from the source (static, lazy imports inside functions included), so a cycle
that only a rarely taken code path would trigger is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

SRC = REPO / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """ocseg modules that ``path`` imports (``from ocseg.x import y`` counts ``ocseg.x.y`` when
    that is a module, else ``ocseg.x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t.split(".")[0] == "ocseg" and t in known}
    return found


def _graph() -> dict[str, set[str]]:
    paths = {(_module_name(p)): p for p in (SRC / "ocseg").rglob("*.py")}
    known = set(paths)
    return {name: _imports(path, name, known) - {name} for name, path in paths.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_module_import_cycle():
    # a package's __init__ re-exporting its modules is not a cycle with them
    graph = {m: {t for t in deps if not m.startswith(t + ".") and not t.startswith(m + ".")}
             for m, deps in _graph().items()}
    assert _cycle(graph) is None, " → ".join(_cycle(graph))


def test_no_package_import_cycle():
    packages: dict[str, set[str]] = {}
    for module, deps in _graph().items():
        source = _subpackage(module)
        packages.setdefault(source, set()).update(
            _subpackage(d) for d in deps if _subpackage(d) != source and d != "ocseg")
    packages.pop("ocseg", None)  # the package root re-exports from its layers (lazily)
    assert _cycle(packages) is None, " → ".join(_cycle(packages))


def test_the_cycle_finder_can_fail():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
