"""The notebooks' one source is ``notebooks/_make_notebooks.py``: the committed ``.ipynb`` files are exactly what it
makes (an edit made in Jupyter and not carried over fails here), an edit is detected, and the notebooks' code and
the generator pass ruff."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "_make_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_notebooks_are_what_the_generator_makes() -> None:
    gen = _generator()
    assert gen.stale(NOTEBOOKS) == [], "run .venv/bin/python notebooks/_make_notebooks.py and commit the notebooks"
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(gen.NOTEBOOKS)


def test_an_edit_made_in_jupyter_is_detected(tmp_path: Path) -> None:
    gen = _generator()
    for path in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(path, tmp_path / path.name)
    nb = nbformat.read(tmp_path / "02_chat.ipynb", as_version=4)
    nb.cells[-1].source = "target.close()"
    nbformat.write(nb, tmp_path / "02_chat.ipynb")
    (tmp_path / "05_evaluate.ipynb").unlink()
    assert gen.stale(tmp_path) == ["02_chat", "05_evaluate"]


def test_notebook_code_and_generator_pass_ruff() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    res = subprocess.run([str(ruff), "check", "--no-cache", str(NOTEBOOKS)], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "All checks passed" in res.stdout
