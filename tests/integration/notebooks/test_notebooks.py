"""Every notebook runs top to bottom headless, with small parameters, and shows what it promises.

Notebooks run in order (04 and 05 save experiments that 06 reports on). The kernel is this venv's
``python3``; the index cache under ``.workbench/indexes`` is reused, so a warm run takes well under a minute.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

EXPECTED = ["01_build_pipeline", "02_chat", "03_load_test", "04_compare_configs", "05_evaluate", "06_export_report"]


def test_the_notebooks_are_the_expected_ones_and_committed_clean(nbkit) -> None:  # type: ignore[no-untyped-def]
    NOTEBOOKS = nbkit.notebooks
    found = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert found == EXPECTED
    for name in found:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), f"{name}: first code cell must be the parameters"
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name} was committed with outputs"
        assert any(c.cell_type == "markdown" and c.source.startswith("## Cleanup") for c in nb.cells), name
        assert max(len(c.source.splitlines()) for c in code) <= 8, f"{name}: a cell grew beyond a few lines"


def test_01_build_pipeline(nbkit) -> None:  # type: ignore[no-untyped-def]
    nb = nbkit.execute("01_build_pipeline", {"preset": "fast", "question": "how much is the gold card annual fee"})
    text = nbkit.text(nb)
    assert "RMB 600" in text and "wb-timing" in text and "wb-sources" in text


def test_02_chat(nbkit) -> None:  # type: ignore[no-untyped-def]
    """Run All leaves the chat usable (the Cleanup cell only shows a button); after the button, a question shows
    a visible error in the widget instead of an answer."""
    nb = nbkit.execute("02_chat", {"preset": "fast", "question": "how much is the gold card annual fee",
                                   "other": "fast"}, then=(
        'resp = await chat.submit("what is the annual fee of the gold card")\nprint("AFTER RUN ALL:", resp.answer)',
        'print("PAIR:", pair.status.value)',
        'CleanupButton(target).release()\nawait chat.submit("gold card fee?")\nprint("AFTER CLOSE:", chat.status.value)',
    ))
    assert nbkit.widget_views(nb) >= 3                         # the chat, the side-by-side pair, the cleanup button
    text = nbkit.text(nb)
    assert "RMB 600" in text and "RMB 2,000" in text           # the follow-up is read with the turn before it
    after = text[text.index("AFTER RUN ALL:"):]
    assert "RMB 600" in after.splitlines()[0]
    closed = text[text.index("AFTER CLOSE:"):].splitlines()[0]
    assert "wb-error" in closed and "closed" in closed
    pair = text[text.index("PAIR:"):].splitlines()[0]
    assert "same answer" in pair and "RMB 600" in text          # one preset twice: the same answer side by side


def test_03_load_test(nbkit) -> None:  # type: ignore[no-untyped-def]
    nb = nbkit.execute("03_load_test", {"preset": "fast", "rate": 10.0, "duration_s": 2.0}, then=(
        'dash.start()\nagain = await dash.wait()\nprint("SECOND RUN:", again.summary()["requests"])',))
    text = nbkit.text(nb)
    assert int(text[text.index("SECOND RUN:"):].split()[2]) > 0       # Run All did not close the target
    assert nbkit.widget_views(nb) >= 1
    assert "throughput_rps" in text and "hit_rate_exact" in text
    assert any("image/png" in out.get("data", {}) for c in nb.cells for out in c.get("outputs", [])), "no plot"


def test_04_compare_configs(nbkit) -> None:  # type: ignore[no-untyped-def]
    nb = nbkit.execute("04_compare_configs", {"base": "fast", "values": ["bm25", "hybrid"], "limit": 6})
    text = nbkit.text(nb)
    assert "fast[retriever.mode=bm25]" in text and "fast[retriever.mode=hybrid]" in text and "pareto" in text
    assert "Pick " in text or "No configuration meets both" in text                 # the verdict is printed
    assert "p_holm" in text


def test_05_evaluate(nbkit) -> None:  # type: ignore[no-untyped-def]
    nb = nbkit.execute("05_evaluate", {"preset": "fast", "limit": 6}, then=(
        'dash.question.value = dash.question.options[-1][1]\nprint("DRILL:", "Gold answer" in dash.drill.value)',))
    assert nbkit.widget_views(nb) >= 1
    assert "hit@1" in nbkit.text(nb) and "DRILL: True" in nbkit.text(nb)


def test_06_export_report(nbkit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report"
    nb = nbkit.execute("06_export_report", {"out_dir": str(out), "keep": True})
    text = nbkit.text(nb)
    assert "index.html" in text and "Open the report" in text
    assert "Pick " in text or "No configuration meets both" in text
    assert (out / "index.html").read_text(encoding="utf-8").startswith("<!")
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["runs"]
    nb = nbkit.execute("06_export_report", {"out_dir": str(out), "keep": False})
    assert not out.exists(), "Cleanup with keep=False removes the report"
