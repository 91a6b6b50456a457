"""Small things the notebooks need besides widgets: run from the project folder, show one answer, show the
progress of a long cell, and a cleanup button.

JupyterLab starts a kernel in its notebook's folder; the workbench keeps its caches (``.workbench/indexes``,
``.workbench/experiments``) and reports relative to the project folder, so each notebook first calls
:func:`enter_project_dir`, which finds the project from the notebook's own folder (a second checkout's
notebooks use that checkout) and reuses what earlier runs built.

```python
root = enter_project_dir()          # Path('/…/rag-serving-workbench'); os.getcwd() is now that folder
show_answer(qp.run("gold card annual fee?"))
bar = ProgressBar("questions"); Experiment(cfg, ds).run(progress=bar)     # a bar under the cell
CleanupButton(target)               # closes the target only when clicked, never on Run All
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from workbench.dashboards.render import badges, escape, sources_table, timing_bar

__all__ = ["CleanupButton", "ProgressBar", "answer_html", "enter_project_dir", "project_dir", "show_answer"]


def _is_project(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "configs").is_dir()


def project_dir(start: str | Path | None = None) -> Path:
    """The project folder: the nearest folder at or above ``start`` (default: the working directory, which is the
    notebook's own folder in JupyterLab) holding ``pyproject.toml`` and ``configs/``; failing that, the nearest
    one holding ``.workbench/``; failing that, the source checkout the ``workbench`` package runs from; else
    ``start`` itself."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    chain = [here, *here.parents]
    for test in (_is_project, lambda f: (f / ".workbench").is_dir()):
        for folder in chain:
            if test(folder):
                return folder
    package_root = Path(__file__).resolve().parent.parent.parent
    return package_root if _is_project(package_root) else here


def enter_project_dir(start: str | Path | None = None) -> Path:
    """``chdir`` to :func:`project_dir` (searched from ``start``, default the working directory) and return it."""
    root = project_dir(start)
    os.chdir(root)
    return root


class ProgressBar:
    """A progress bar displayed under the running cell, fed by a ``progress`` callback.

    Called as ``bar(done, total)`` (an experiment's ``run(progress=)``), ``bar(label, done, total)`` (a sweep's)
    or ``bar(done=, total=)``; it displays itself on the first call, so a cell that only loads cached results
    shows nothing.

    ```python
    sweep.run(progress=ProgressBar("configs"))
    ```
    """

    def __init__(self, description: str = "") -> None:
        self.description = description
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description=description[:20],
                                       layout=widgets.Layout(width="60%"))
        self.label = widgets.HTML(value="")
        self.box = widgets.HBox([self.bar, self.label])
        self.shown = False
        self.calls = 0

    def __call__(self, *args: Any) -> None:
        if len(args) == 3:
            name, done, total = args
        elif len(args) == 2:
            name, (done, total) = None, args
        else:
            raise TypeError("a progress callback takes (done, total) or (label, done, total)")
        if not self.shown:
            from IPython.display import display

            display(self.box)
            self.shown = True
        self.calls += 1
        self.bar.max = max(1, int(total))
        self.bar.value = min(int(done), self.bar.max)
        self.label.value = f"{escape(name) + ': ' if name else ''}{int(done)}/{int(total)}"


class CleanupButton(widgets.HBox):
    """A button that closes ``resources`` (anything with ``close()``) when clicked, and says so; Run All never
    clicks it, so the widgets above stay usable until the user is done.

    ```python
    CleanupButton(target)        # in the notebook's Cleanup cell; .release() does what a click does
    ```
    """

    def __init__(self, *resources: Any, description: str = "Close") -> None:
        self.resources = resources
        self.button = widgets.Button(description=description, icon="power-off", button_style="warning")
        self.note = widgets.HTML(value="<span class='wb-note'>Click when done: the widgets above stop answering."
                                       "</span>")
        self.button.on_click(lambda _b: self.release())
        super().__init__(children=[self.button, self.note])

    def release(self) -> None:
        """Close every resource (what a click does); safe to call twice."""
        for resource in self.resources:
            closer = getattr(resource, "close", None)
            if callable(closer):
                closer()
        self.button.disabled = True
        self.note.value = "<span class='wb-note'>Closed. Re-run the notebook from the top to use the widgets again." \
                          "</span>"


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
