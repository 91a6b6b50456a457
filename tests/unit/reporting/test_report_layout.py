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
