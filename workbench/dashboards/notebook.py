"""Small things the notebooks need besides widgets: run from the project folder, show one answer.

JupyterLab starts kernels in ``notebooks/``; the workbench keeps its caches (``.workbench/indexes``,
``.workbench/experiments``) and reports relative to the project folder, so each notebook first calls
:func:`enter_project_dir` and reuses what earlier runs built.

```python
root = enter_project_dir()          # Path('/…/rag-serving-workbench'); os.getcwd() is now that folder
show_answer(qp.run("gold card annual fee?"))
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.dashboards.render import badges, escape, sources_table, timing_bar

__all__ = ["answer_html", "enter_project_dir", "project_dir", "show_answer"]


def project_dir() -> Path:
    """The folder that holds ``configs/`` next to the ``workbench`` package (a source checkout), else the cwd."""
    here = Path(__file__).resolve().parent.parent.parent
    return here if (here / "configs").is_dir() else Path.cwd()


def enter_project_dir() -> Path:
    """``chdir`` to :func:`project_dir` and return it."""
    root = project_dir()
    os.chdir(root)
    return root


def answer_html(answer: Any) -> str:
    """One answer (a ``RAGAnswer`` or ``ChatResponse``) as HTML: text, badges, timing bar, sources."""
    info = {k: getattr(answer, k) for k in ("language", "tokens", "cache_layer", "variant") if hasattr(answer, k)}
    if "cache_layer" in info:
        info["cache_layer"] = info["cache_layer"] or "miss"
    return (f'<div class="wb-answer" style="font-size:16px">{escape(answer.answer)}</div>{badges(info)}'
            f"{timing_bar(answer.timings_ms)}{sources_table(answer.sources)}")


def show_answer(answer: Any) -> Any:
    """Display :func:`answer_html` in the notebook (returns the ``IPython.display.HTML`` object)."""
    from IPython.display import HTML, display

    obj = HTML(answer_html(answer))
    display(obj)
    return obj
