"""Two real load runs saved by ``workbench loadtest --out``, compared by ``workbench report``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from workbench.loadtest import DelayTarget, LoadResult, create_contract_app
from workbench.testing import UvicornServer


def _load_run(delay_s: float, out: Path) -> None:
    """40 req/s for 1.5 s against the contract app answering after ``delay_s``, saved to ``out``."""
    from workbench.loadtest.cli import loadtest

    with UvicornServer(create_contract_app(DelayTarget(delay_s=delay_s))) as server:
        r = CliRunner().invoke(loadtest, ["fast", "--url", server.url, "--profile", "constant", "--rate", "40",
                                          "--max-seconds", "1.5", "--slo", "e2el_ms=25", "--score",
                                          "--warm-requests", "0", "--no-progress", "--out", str(out)],
                               catch_exceptions=False)
    assert r.exit_code == 0, r.output


@pytest.mark.slow
def test_report_compares_two_saved_load_runs(tmp_path: Path) -> None:
    from workbench.cli import main

    runs = tmp_path / "runs"
    _load_run(0.003, runs / "before")
    _load_run(0.040, runs / "after")
    assert {p.name for p in (runs / "before").iterdir()} == {"run.json", "requests.csv"}
    assert json.loads((runs / "after" / "run.json").read_text())["aggregates"]["latency_ms"]["p50"] >= 40
    assert len(LoadResult.load(runs / "before")) >= 50

    out = tmp_path / "cmp"
    r = CliRunner().invoke(main, ["report", str(runs / "before"), str(runs / "after"), "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == str(out / "index.html")
    for name in ("index.html", "report.md", "comparison.csv", "runs.csv", "comparison.json"):
        assert (out / name).is_file(), name
    diffs = pd.read_csv(out / "comparison.csv").set_index("metric")
    assert set(diffs.run_a) == {"before"} and set(diffs.run_b) == {"after"}
    assert {"throughput_rps", "goodput_rps", "correct_goodput_rps", "latency_p50_ms", "latency_p99_ms", "ttft_p95_ms",
            "error_rate", "shed_rate", "cache_hit_rate", "slo_attainment"} <= set(diffs.index)
    p50 = diffs.loc["latency_p50_ms"]
    assert p50["diff"] > 30 and p50.ci_low > 0 and p50.better == "before"        # 40 ms against 3 ms: clear
    assert diffs.loc["goodput_rps", "better"] == "before"                          # within 25 ms: only before
    assert diffs.loc["shed_rate", "better"] == "no clear difference"               # neither sheds
    html = (out / "index.html").read_text(encoding="utf-8")
    md = (out / "report.md").read_text(encoding="utf-8")
    for text in ("e2e latency p50 (ms)", "B − A", "95% CI low", "nearest-rank", "Newcombe"):
        assert text in html and text in md, text
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["baseline"] == "before" and doc["slo"] == {"e2el_ms": 25.0} and doc["seed"] == 0

    # one folder holding both runs: the same comparison, found below it (oldest first: before is the baseline)
    r = CliRunner().invoke(main, ["report", str(runs), "--out", str(tmp_path / "one")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    again = pd.read_csv(tmp_path / "one" / "comparison.csv")
    assert set(again.run_a) == {"before"} and again.set_index("metric").loc["latency_p50_ms", "better"] == "before"
    pd.testing.assert_series_equal(again["ci_low"], diffs.reset_index()["ci_low"])   # seeded: the same intervals
