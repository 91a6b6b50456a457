"""Helpers for the notebook tests: execute a notebook headless with nbclient, papermill-style (overrides go in a
cell after the ``parameters`` cell), and read its outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS = ROOT / "notebooks"


def inject_parameters(nb: nbformat.NotebookNode, params: dict[str, Any]) -> nbformat.NotebookNode:
    """Insert ``name = repr(value)`` lines right after the cell tagged ``parameters`` (which must exist)."""
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), None)
    if index is None:
        raise AssertionError("the notebook has no cell tagged 'parameters'")
    if params:
        cell = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
        cell.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(index + 1, cell)
    return nb


def execute_notebook(name: str, params: dict[str, Any], *, then: tuple[str, ...] = (),
                     timeout_s: int = 240) -> nbformat.NotebookNode:
    """Run ``notebooks/{name}.ipynb`` top to bottom (kernel ``python3`` of this venv), then the ``then`` cells (what a
    user does with the widgets after Run All), and return the executed copy."""
    nb = inject_parameters(nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4), params)
    nb.cells.extend(nbformat.v4.new_code_cell(code) for code in then)
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return nb


def outputs_text(nb: nbformat.NotebookNode) -> str:
    """Every text/plain, text/html, text/markdown and stream output of the notebook, joined."""
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in out.get("data", {}):
                    parts.append(str(out["data"][mime]))
    return "\n".join(parts)


def widget_views(nb: nbformat.NotebookNode) -> int:
    """How many widget views the notebook displayed."""
    return sum("application/vnd.jupyter.widget-view+json" in out.get("data", {})
               for cell in nb.cells for out in cell.get("outputs", []))


class NotebookKit:
    """The helpers above, as one fixture (tests here cannot import each other's modules under importlib mode)."""

    notebooks = NOTEBOOKS
    root = ROOT
    execute = staticmethod(execute_notebook)
    text = staticmethod(outputs_text)
    widget_views = staticmethod(widget_views)


@pytest.fixture(scope="session")
def nbkit() -> NotebookKit:
    """Run notebooks and read their outputs."""
    return NotebookKit()
