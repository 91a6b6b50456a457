"""Notebook helpers: the project is found from the notebook's own folder (a second checkout uses its own caches),
a progress bar fed by experiment and sweep callbacks, and a cleanup button that closes only when clicked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.dashboards import CleanupButton, ProgressBar, enter_project_dir, project_dir


def test_the_project_is_found_from_the_notebook_folder(tmp_path: Path) -> None:
    checkout = tmp_path / "second-checkout"
    (checkout / "configs").mkdir(parents=True)
    (checkout / "notebooks").mkdir()
    (checkout / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    assert project_dir(checkout / "notebooks") == checkout.resolve()
    assert project_dir(checkout) == checkout.resolve()
    plain = tmp_path / "analysis" / "nb"
    plain.mkdir(parents=True)
    (tmp_path / "analysis" / ".workbench").mkdir()
    assert project_dir(plain) == (tmp_path / "analysis").resolve()       # a folder that already holds caches
    here = os.getcwd()
    try:
        os.chdir(checkout / "notebooks")
        assert enter_project_dir() == checkout.resolve() and Path.cwd() == checkout.resolve()
    finally:
        os.chdir(here)


def test_progress_bar_takes_experiment_and_sweep_callbacks() -> None:
    bar = ProgressBar("questions")
    assert not bar.shown
    bar(3, 12)
    assert bar.shown and (bar.bar.value, bar.bar.max) == (3, 12) and bar.label.value == "3/12"
    bar("fast[retriever.top_k=3]", 12, 12)
    assert bar.bar.value == 12 and bar.label.value.startswith("fast[retriever.top_k=3]: 12/12")
    with pytest.raises(TypeError):
        bar(1)


def test_cleanup_button_closes_only_when_clicked() -> None:
    class Resource:
        closed = 0

        def close(self) -> None:
            self.closed += 1

    res = Resource()
    button = CleanupButton(res, object())       # things without close() are skipped
    assert res.closed == 0 and not button.button.disabled
    button.button.click()
    assert res.closed == 1 and button.button.disabled and "Closed" in button.note.value
