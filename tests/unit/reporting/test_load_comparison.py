"""The load-run comparison report: found from folders, dispatched from ``report_from_run_dir``, every file written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import DatasetError
from workbench.reporting import report_from_run_dir
from workbench.reporting.load_comparison import find_load_runs, load_runs, write_load_comparison

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "loadtest"))
from test_compare import _run  # the synthetic runs of the comparison's own tests


def test_a_folder_of_load_runs_is_reported_as_a_comparison(tmp_path: Path) -> None:
    fast, slow = _run(300, 20.0, seed=1), _run(300, 60.0, seed=2, error_every=8)
    fast.meta["created_at"], slow.meta["created_at"] = "2026-01-01T00:00:00", "2026-01-02T00:00:00"
    slow.save(tmp_path / "runs" / "b-slow")          # saved first, but made later: the order is by creation
    fast.save(tmp_path / "runs" / "a" / "fast")
    assert [p.name for p in find_load_runs(tmp_path / "runs")] == ["fast", "b-slow"]
    index = report_from_run_dir(tmp_path / "runs", tmp_path / "rep", seed=3)
    assert index == tmp_path / "rep" / "index.html"
    diffs = pd.read_csv(tmp_path / "rep" / "comparison.csv").set_index("metric")
    assert set(diffs.run_a) == {"a/fast"} and set(diffs.run_b) == {"b-slow"}
    assert diffs.loc["latency_p50_ms", "better"] == "a/fast" and diffs.loc["error_rate", "better"] == "a/fast"
    assert "seed 3003" in diffs.loc["latency_p50_ms", "ci_method"]
    runs = pd.read_csv(tmp_path / "rep" / "runs.csv")
    assert runs.run.tolist() == ["a/fast", "b-slow"] and runs.latency_p50_ms.iloc[0] == fast.summary()["latency_ms"]["p50"]
    doc = json.loads((tmp_path / "rep" / "comparison.json").read_text())
    assert doc["seed"] == 3 and doc["sources"]["b-slow"].endswith("b-slow") and len(doc["differences"]) == len(diffs)
    page = index.read_text(encoding="utf-8")
    assert "<h3>e2e latency p99 (ms)</h3>" in page and "data:image/png;base64," in page
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "### error rate (share)" in md and "- e2e latency p50: a/fast better (b-slow − a/fast = +" in md
    assert "<li>e2e latency p50: a/fast better" in page


def test_names_clash_across_folders_and_one_run_compares_nothing(tmp_path: Path) -> None:
    for side, mean in (("before", 20.0), ("after", 25.0)):
        _run(50, mean, seed=int(mean)).save(tmp_path / side / "peak")
    runs = load_runs([tmp_path / "before", tmp_path / "after"])
    assert list(runs) == ["before/peak", "after/peak"]
    write_load_comparison({"only": runs["before/peak"]}, tmp_path / "one")
    assert "nothing to compare" in (tmp_path / "one" / "report.md").read_text(encoding="utf-8")
    assert (tmp_path / "one" / "comparison.csv").is_file()


def test_a_folder_without_runs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        report_from_run_dir(tmp_path / "empty", tmp_path / "rep")
    with pytest.raises(DatasetError):
        load_runs([tmp_path / "empty"])
    with pytest.raises(DatasetError):
        report_from_run_dir(tmp_path / "missing", tmp_path / "rep")
