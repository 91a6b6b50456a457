"""A self-contained HTML report: inline CSS, tables, and plots embedded as base64 PNG (no external files).

```python
html = render_html(tables, figures={"Quality": png_bytes}, manifests=[...], title="Sweep 2026-11-24")
```
Order: the verdict, the headline table, what each alternative gains or costs, flags, runs not compared (and
why), the serving stack vs the bare pipeline (when given), plots, the worst questions, then the full tables collapsed, the metric definitions and the manifests.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from workbench.evaluation.experiment import BOOTSTRAP_METHOD, PERMUTATION_METHOD
from workbench.percentiles import PERCENTILE_METHOD
from workbench.reporting.definitions import definitions_for, report_columns

__all__ = ["CSS", "render_html"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
  padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.85rem}
figure{display:inline-block;margin:.5rem}img{max-width:100%}
details pre{font-size:.75rem;background:#f8f8f8;padding:.5rem}
.sim{color:#b00;font-weight:bold}
.verdict{border:2px solid #2a7;border-radius:6px;padding:.5rem 1rem;background:#f3fbf6}
.verdict.none{border-color:#c80;background:#fff8ec}.verdict p.pick{font-size:1.1rem;font-weight:bold}
.flag{color:#a40}.wide{overflow-x:auto}dt{font-weight:bold}dd{margin:0 0 .4rem 1rem;font-size:.85rem}
td:last-child{text-align:left;max-width:32rem;white-space:normal}
@media print{body{max-width:none;margin:0}table{display:table;font-size:.7rem}details{display:block}
  details>summary{font-weight:bold}}
"""


def _table(frame: pd.DataFrame | None, *, digits: int = 3) -> str:
    if frame is None or frame.empty:
        return "<p class='note'>(none)</p>"
    shown = frame.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.0f}" if v.is_integer() and abs(v) >= 2
                                        else f"{v:.{digits}f}")
        elif shown[col].map(lambda v: isinstance(v, list | dict)).any():
            shown[col] = shown[col].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict)
                                        else v)
    return "<div class='wide'>" + shown.to_html(index=False, escape=True, border=0, na_rep="") + "</div>"


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def _verdict(verdict: Any) -> list[str]:
    esc = html.escape
    policy = verdict.policy
    cls = "verdict" if verdict.pick else "verdict none"
    parts = [f"<section class='{cls}'><h2>Verdict</h2><p class='pick'>{esc(verdict.headline)}</p>"]
    if verdict.reasons:
        parts.append("<ul>" + "".join(f"<li>{esc(r)}</li>" for r in verdict.reasons) + "</ul>")
    parts.append(f"<p class='note'>Asked: p95 latency ≤ {policy.slo_p95_ms:g} ms and {esc(verdict.metric)} ≥ "
                 f"{policy.min_quality:g} (set with <code>workbench report --slo-p95-ms --min-quality</code> or "
                 "<code>ReportConfig</code>).</p></section>")
    return parts


def _serving_section(tables: Mapping[str, Any]) -> list[str]:
    """The serving stack against the same pipeline bare at the morning peak (when the report has it)."""
    frame = tables.get("serving_vs_bare")
    if frame is None:
        return []
    esc = html.escape
    about = tables.get("serving_peak") or {}
    profile = about.get("profile") or {}
    return ["<h2>Serving stack vs bare pipeline (morning peak)</h2>",
            f"<p class='note'>Profile {esc(str(profile.get('name', 'morning-peak')))}: "
            f"{esc(str(profile.get('rate')))} req/s at the peak for {esc(str(profile.get('duration_s')))} s; "
            f"SLO {esc(str(about.get('slo')))}; LLM tier {esc(str(about.get('llm')))}; answers scored against the "
            f"gold. Ratio above 1: the serving stack does better. Latency percentiles: {PERCENTILE_METHOD}.</p>",
            _table(frame)]


def render_html(tables: Mapping[str, Any], *, figures: Mapping[str, bytes], manifests: Sequence[Mapping[str, Any]],
                title: str, notes: Sequence[str] = ()) -> str:
    """The report page as one string (``tables`` from :func:`~workbench.reporting.tables.report_tables`)."""
    esc = html.escape
    verdict = tables["verdict"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{esc(title)}</title><style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>"]
    for note in notes:
        parts.append(f"<p class='note'>{esc(note)}</p>")
    if any(m.get("labels", {}).get("simulated") for m in manifests):
        parts.append("<p class='sim'>Some runs used the simulated LLM service (see the flags column).</p>")
    parts += _verdict(verdict)
    parts.append("<h2>Headline</h2>")
    parts.append(_table(tables["headline"]))
    star = "★ the pick. " if verdict.pick else ""
    parts.append(f"<p class='note'>{star}{esc(verdict.metric)}: mean [{verdict.policy.confidence:.0%} interval]; "
                 f"latency percentiles: {PERCENTILE_METHOD}; goodput: requests within the load test's SLO per second, "
                 "of the offered rate. Definitions below.</p>")
    for note in verdict.notes:
        parts.append(f"<p class='note'>{esc(note)}</p>")
    if not verdict.alternatives.empty:
        parts.append(f"<h2>What each alternative gains or costs (against {esc(str(verdict.alternatives['vs'][0]))})"
                     "</h2>")
        parts.append(_table(verdict.alternatives, digits=4))
        parts.append(f"<p class='note'>Paired by question; interval: {BOOTSTRAP_METHOD}; p: {PERMUTATION_METHOD}; "
                     f"p_holm: Holm-corrected over the alternatives (significant when below {verdict.policy.alpha:g})."
                     "</p>")
    flags = [(s.config, f) for s in verdict.scores for f in s.flags]
    if flags:
        parts.append("<h2>Flags</h2><ul>" + "".join(f"<li class='flag'>{esc(c)}: {esc(f)}</li>" for c, f in flags)
                     + "</ul>")
    separated = tables.get("separated")
    if separated is not None and not separated.empty:
        parts.append("<h2>Not compared</h2><p>These runs answered other questions than the compared ones, so "
                     "their averages are not comparable; they are shown here only.</p>")
        parts.append(_table(separated))
    parts += _serving_section(tables)
    parts.append("<h2>Plots</h2>")
    for caption, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    worst = tables.get("worst")
    if worst is not None and not worst.empty:
        parts.append("<h2>Worst questions</h2>")
        for config, part in worst.groupby("config", sort=False):
            parts.append(_details(f"{config}: the {len(part)} lowest {verdict.metric}",
                                  _table(part.drop(columns=["config"]))))
    parts.append("<h2>Full tables</h2>")
    parts.append(_details("Every number of every compared run (Pareto flag: quality vs the p95 the SLO sees)",
                          _table(tables["summary"]) + f"<p class='note'>latency percentiles: {PERCENTILE_METHOD}.</p>"))
    load = tables.get("load")
    if load is not None and not load.empty:
        parts.append(_details("Load test (correct goodput per preset)", _table(load) + "<p class='note'>Open loop "
                              "(Poisson arrivals), latency from the scheduled start, so queueing is counted; goodput = "
                              "requests within the end-to-end SLO per second; correct_goodput_rps = those also "
                              "answered correctly (every answer scored against the gold); latency percentiles: "
                              f"{PERCENTILE_METHOD}.</p>"))
    parts.append(_details("By language", _table(tables["by_language"])))
    deltas = tables["deltas"]
    if deltas is not None and not deltas.empty:
        keep = [c for c in ("baseline", "config", "metric", "mean_a", "mean_b", "delta", "ci_low", "ci_high", "n",
                            "p_value", "p_holm", "significant") if c in deltas]
        deltas = deltas[keep]
    parts.append(_details("Differences against the first run, every metric", _table(deltas, digits=4) +
                          f"<p class='note'>delta = run − baseline, paired by question; interval: {BOOTSTRAP_METHOD} "
                          f"(2,000 resamples, seed 0); p: {PERMUTATION_METHOD}; p_holm: Holm-corrected over this "
                          "whole table, significant below 0.05.</p>"))
    parts.append("<h2>Metric definitions</h2><dl>")
    columns = report_columns(tables)
    for name, text in definitions_for(columns):
        parts.append(f"<dt>{esc(name)}</dt><dd>{esc(text)}</dd>")
    parts.append("</dl>")
    parts.append("<h2>Manifests</h2>")
    for m in manifests:
        ds = m.get("dataset", {})
        parts.append(f"<details><summary>{esc(str(m.get('config_name')))} — config {esc(str(m.get('config_hash')))}, "
                     f"dataset {esc(str(ds.get('name')))} {esc(str(ds.get('hash')))}</summary>"
                     f"<pre>{esc(json.dumps(m, ensure_ascii=False, indent=1, default=str))}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)
