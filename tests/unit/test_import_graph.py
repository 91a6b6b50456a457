"""The package's floors, read from the source with ``ast`` (every import, module-level or inside a function).

* The data package (:mod:`workbench.datasets`) has no import cycle, and imports none of the packages
  that use the data.
* Core packages never import the code that measures them: evaluation, load tests, dashboards, reports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "workbench"
CORE = ("cache", "components", "memory", "pipelines", "serving", "stores", "tools")
MEASURING = ("workbench.evaluation", "workbench.loadtest", "workbench.dashboards", "workbench.reporting",
             "workbench.demo")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """The workbench modules ``path`` imports (``from a.b import c`` counts ``a.b.c`` when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES}


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _cycles(nodes: Iterable[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself), by Tarjan."""
    keep = set(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v] & keep:
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
            if len(component) > 1 or v in GRAPH[v]:
                out.append(sorted(component))

    for v in sorted(keep):
        if v not in index:
            visit(v)
    return out


DATA = sorted(m for m in MODULES if m == "workbench.datasets" or m.startswith("workbench.datasets."))


def test_the_graph_is_read() -> None:
    """A guard for the tests below: the reader finds the edges it should (so an empty graph cannot pass)."""
    assert "workbench.datasets.records" in GRAPH["workbench.datasets.jsonl"]
    assert "workbench.evaluation.streams" in GRAPH["workbench.loadtest.workload"]
    assert _cycles(["workbench.datasets.records", "workbench.datasets.jsonl"]) == []
    GRAPH["workbench.datasets.records"].add("workbench.datasets.jsonl")  # a loader imported by the records
    try:
        assert _cycles(DATA) == [["workbench.datasets.fields", "workbench.datasets.jsonl",
                                  "workbench.datasets.records"]]
    finally:
        GRAPH["workbench.datasets.records"].discard("workbench.datasets.jsonl")


def test_the_data_package_has_no_import_cycle() -> None:
    assert len(DATA) >= 10
    assert _cycles(DATA) == []


def test_the_data_package_imports_only_low_floors() -> None:
    allowed = {"workbench", "workbench.errors", "workbench.text", *DATA}
    bad = {m: sorted(GRAPH[m] - allowed) for m in DATA if GRAPH[m] - allowed}
    assert bad == {}, "the data package must not import the packages that use the data"


def test_the_records_import_no_loader() -> None:
    assert GRAPH["workbench.datasets.records"] <= {"workbench.errors"}


@pytest.mark.parametrize("package", CORE)
def test_core_packages_do_not_import_what_measures_them(package: str) -> None:
    prefix = f"workbench.{package}"
    members = [m for m in MODULES if m == prefix or m.startswith(prefix + ".")]
    assert members
    bad = {m: sorted(i for i in GRAPH[m] if i.startswith(MEASURING)) for m in members}
    assert {m: v for m, v in bad.items() if v} == {}


def test_every_data_module_imports_first_in_a_fresh_interpreter() -> None:
    """Importing any module of the data package first (the order a cycle breaks in) works."""
    code = ("import importlib, sys\n"
            f"for name in {DATA!r}:\n"
            "    for loaded in [m for m in sys.modules if m.startswith('workbench')]:\n"
            "        del sys.modules[loaded]\n"
            "    importlib.import_module(name)\n"
            "print('ok', len(sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")
