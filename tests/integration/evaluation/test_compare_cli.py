"""`workbench compare`: a --sweep of a preset on a small SQuAD fixture, saved where `workbench report` reads the runs,
with the verdict printed and the report written; bad --sweep input and a lone config are refused."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from workbench.cli import main as cli
from workbench.evaluation.cli import compare_command, parse_sweep
from workbench.evaluation.experiment import ExperimentResult
from workbench.reporting import main as report_main

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "evaluation"


def test_compare_a_sweep_saves_runs_and_reports(tmp_path: Path) -> None:
    args = ["fast", "--sweep", "retriever.top_k=1,3", "--dataset", f"squad:{FIX / 'squad_en.json'}", "--limit", "2",
            "--set", f"index_dir={tmp_path / 'indexes'}", "--out", str(tmp_path / "runs"), "--slo-p95-ms", "60000",
            "--min-quality", "0"]
    res = CliRunner().invoke(cli, ["compare", *args, "--json", "--report", str(tmp_path / "report")])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output.strip().splitlines()[-1])
    assert set(body["runs"]) == {"fast[retriever.top_k=1]", "fast[retriever.top_k=3]"}
    runs = [ExperimentResult.load(p) for p in body["runs"].values()]
    assert all(len(r.rows) == 2 for r in runs)
    assert runs[0].rows["question_id"].tolist() == runs[1].rows["question_id"].tolist()   # the same questions
    for r in runs:                  # one warm-up question answered first, its time apart from the measured ones
        assert r.summary["warmup"]["cold_start_ms"] > 0 and not r.rows["question_id"].str.startswith("warm").any()
        assert r.summary_row()["cold_start_ms"] == r.summary["warmup"]["cold_start_ms"]
    assert body["pick"] in body["runs"] and body["separated"] == []
    page = Path(body["report"]).read_text(encoding="utf-8")
    assert "Verdict" in page and f"Pick {body['pick']}" in page
    assert report_main([str(tmp_path / "runs"), "--out", str(tmp_path / "again")]) == 0   # workbench report reads them
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "runs"), "--out", str(tmp_path / "strict"),
                                   "--min-quality", "1.0", "--slo-p95-ms", "0.001"])
    assert res.exit_code == 0, res.output
    assert "No configuration meets both bars" in (tmp_path / "strict" / "index.html").read_text(encoding="utf-8")

    table = CliRunner().invoke(compare_command, args)                 # saved: instant, and the human-readable form
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert "Pick " in out and "latency percentiles: nearest-rank" in out and out.count("(saved earlier)") == 2
    assert "excludes one warm-up question per run; its cold start: fast[retriever.top_k=1]" in out


def test_bad_sweeps_and_a_lone_config_are_refused(tmp_path: Path) -> None:
    assert parse_sweep(("retriever.top_k=3,5", "retriever.mode=bm25")) == {"retriever.top_k": [3, 5],
                                                                           "retriever.mode": ["bm25"]}
    for bad in (("retriever.top_k",), ("retriever.top_k=",), ("a=1", "a=2")):
        with pytest.raises(click.BadParameter):
            parse_sweep(bad)
    res = CliRunner().invoke(compare_command, ["fast", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "at least two configs" in res.output
    res = CliRunner().invoke(compare_command, ["fast", "default", "--sweep", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "FIELD=V1,V2" in res.output
