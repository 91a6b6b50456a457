"""The report folder from constructed saved runs: the verdict comes first, the headline table is short, a run on
other questions is shown apart with the reason (never in the headline or the verdict), the full tables are folded,
metrics are defined, the percentile method is named, and the page loads nothing from elsewhere."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from workbench.evaluation.experiment import ExperimentResult
from workbench.reporting import ReportConfig, main, write_report

Maker = Callable[..., ExperimentResult]
Pattern = Callable[..., list[float]]


def test_report_recommends_and_separates(run: Maker, pattern: Pattern, tmp_path: Path) -> None:
    load = {"offered_rps": 20.0, "goodput_rps": 2.5, "latency_p50_ms": 900.0, "latency_p95_ms": 4000.0}
    runs = [run("fast", pattern(150, 0.55), 10), run("default", pattern(150, 0.75), 80),
            run("slow", pattern(150, 0.78), 90, load=load), run("quality", [1.0] * 40, 60, ds_hash="h40")]
    index = write_report(runs, tmp_path / "r", policy=ReportConfig(slo_p95_ms=1000, min_quality=0.6))
    page = index.read_text(encoding="utf-8")
    tags: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append(tag)
            assert tag not in ("script", "link"), "the report must not load anything"

    Collect().feed(page)
    order = [page.index(s) for s in ("Verdict", "<h2>Headline", "What each alternative", "<h2>Flags", "<h2>Not compared",
                                     "<h2>Full tables", "Metric definitions")]
    assert order == sorted(order)
    assert "Pick default" in page and "overloaded: goodput 2.5 of 20 req/s" in page
    assert "later than the load run&#x27;s SLO" in page or "later than the load run's SLO" in page
    headline = page[page.index("<h2>Headline"):page.index("What each alternative")]
    assert "<td>quality</td>" not in headline and "<td>fast</td>" in headline   # the run on 40 other questions is not in it
    assert headline.count("<th>") <= 13                             # short: not the 59-column summary
    apart = page[page.index("<h2>Not compared"):page.index("<h2>Plots")]
    assert "quality" in apart and "40 questions" in apart and "not comparable" in apart
    assert page.count("<details>") >= 4 and "latency percentiles: nearest-rank" in page
    assert "<dt>correct</dt>" in page and "<dt>goodput</dt>" in page and "Holm" in page
    markdown = (index.parent / "report.md").read_text(encoding="utf-8")
    assert markdown.index("## Verdict") < markdown.index("## Headline") < markdown.index("<details>")
    assert "**Pick default" in markdown and "latency percentiles: nearest-rank" in markdown
    payload = json.loads((index.parent / "results.json").read_text(encoding="utf-8"))
    assert payload["verdict"]["pick"] == "default"
    assert [s["config"] for s in payload["verdict"]["separated"]] == ["quality"]
    assert {r["config"] for r in payload["summary"]} == {"fast", "default", "slow"}
    assert re.search(r"p_holm", page)


def test_report_command_takes_the_bars(run: Maker, pattern: Pattern, tmp_path: Path) -> None:
    for r in (run("fast", pattern(60, 0.55), 10), run("default", pattern(60, 0.8), 300)):
        r.save(tmp_path / "runs" / r.name)
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "a"), "--slo-p95-ms", "100"]) == 0
    assert "Pick fast" in (tmp_path / "a" / "index.html").read_text(encoding="utf-8")
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "b"), "--slo-p95-ms", "1000"]) == 0
    assert "Pick default" in (tmp_path / "b" / "index.html").read_text(encoding="utf-8")


def _peak_side(mean_ms: float, p95_ms: float, goodput: float, correct_goodput: float, cached: float) -> dict:  # type: ignore[type-arg]
    return {"requests": 160, "ok": 160, "shed": 0, "errors": 0, "served_from_cache": cached, "wrong_hits": 3,
            "wrong_hit_share": 0.05, "latency_mean_ms": mean_ms, "latency_p50_ms": mean_ms / 2,
            "latency_p95_ms": p95_ms, "throughput_rps": 4.0, "goodput_rps": goodput, "slo_attainment": 0.9,
            "correct_share": 0.8, "correct_goodput_rps": correct_goodput, "percentile_method": "nearest-rank"}


def test_correct_goodput_per_preset_and_the_serving_comparison(run: Maker, pattern: Pattern, tmp_path: Path) -> None:
    scored = {"offered_rps": 20.0, "throughput_rps": 19.5, "goodput_rps": 19.0, "correct_share": 0.625,
              "correct_goodput_rps": 11.875, "latency_p50_ms": 9.0, "latency_p95_ms": 30.0}
    unscored = {"offered_rps": 20.0, "throughput_rps": 19.0, "goodput_rps": 18.0, "latency_p50_ms": 80.0,
                "latency_p95_ms": 200.0}          # a load test saved before answers were scored
    runs = [run("fast", pattern(60, 0.6), 10, load=scored), run("default", pattern(60, 0.8), 80, load=unscored)]
    cmp = {"profile": {"name": "morning-peak", "rate": 4.0, "duration_s": 40.0}, "slo": {"e2el_ms": 1500.0},
           "llm": "SimulatedLLM(...)", "runs": {"serving": {**_peak_side(200.0, 600.0, 3.6, 2.9, 0.7), "cache_made_wrong": 1},
                                                "bare": _peak_side(800.0, 2400.0, 1.8, 1.45, 0.0)}}
    out = tmp_path / "r"
    out.mkdir()
    (out / "serving_vs_bare.json").write_text(json.dumps(cmp), encoding="utf-8")
    index = write_report(runs, out, serving_vs_bare=out / "serving_vs_bare.json")
    page = index.read_text(encoding="utf-8")
    headline = page[page.index("<h2>Headline"):page.index("<h2>Serving stack")]
    assert "correct goodput req/s" in headline and "<td>11.9</td>" in headline
    load = page[page.index("Load test (correct goodput per preset)"):page.index("By language")]
    head = load[:load.index("</tr>")]
    assert head.index("correct_share") < head.index("correct_goodput_rps") < head.index("latency_p50_ms")
    assert "11.875" in load and "0.625" in load
    section = page[page.index("<h2>Serving stack vs bare"):page.index("<h2>Plots")]
    for measure, ratio in (("mean latency ms", "4"), ("p95 latency ms", "4"), ("goodput req/s", "2"),
                           ("correct goodput req/s", "2")):
        row = section[section.index(f"<td>{measure}</td>"):]
        row = row[:row.index("</tr>")]
        assert f"<td>{ratio}</td>" in row, (measure, row)
    assert "cache hits answered wrong" in section and "served from cache" in section and "morning-peak" in section
    made = section[section.index("<td>wrong answers the cache made</td>"):]
    assert "<td>1.000</td>" in made[:made.index("</tr>")]
    assert "<dt>correct goodput</dt>" in page and "<dt>cache hits answered wrong</dt>" in page
    assert "<dt>wrong answers the cache made</dt>" in page
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## Serving stack vs bare pipeline (morning peak)" in markdown and "| correct goodput req/s |" in markdown
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {r["config"]: r["correct_goodput_rps"] for r in payload["load"]} == {"fast": 11.875, "default": None}
    assert [r["measure"] for r in payload["serving_vs_bare"]["table"]][:3] == ["requests", "served from cache",
                                                                              "cache hits answered wrong"]
    plain = write_report(runs, out).read_text(encoding="utf-8")   # not given: not shown, even beside the report
    assert "Serving stack vs bare" not in plain


def test_the_report_command_finds_the_comparison_in_the_run_dir(run: Maker, pattern: Pattern, tmp_path: Path) -> None:
    for r in (run("fast", pattern(60, 0.55), 10), run("default", pattern(60, 0.8), 300)):
        r.save(tmp_path / "runs" / r.name)
    cmp = {"profile": {"name": "morning-peak", "rate": 4.0, "duration_s": 40.0}, "slo": {"e2el_ms": 1500.0},
           "llm": "sim", "runs": {"serving": {**_peak_side(200.0, 600.0, 3.6, 2.9, 0.7), "cache_made_wrong": 1},
                                  "bare": _peak_side(800.0, 2400.0, 1.8, 1.45, 0.0)}}
    (tmp_path / "runs" / "serving_vs_bare.json").write_text(json.dumps(cmp), encoding="utf-8")
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "a")]) == 0
    assert "Serving stack vs bare" in (tmp_path / "a" / "index.html").read_text(encoding="utf-8")
