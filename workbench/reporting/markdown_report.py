"""The Markdown version of a report (the verdict and tables; plots are in the HTML).

```python
text = render_markdown(tables, title="fast vs default")
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from workbench.percentiles import PERCENTILE_METHOD

__all__ = ["markdown_table", "render_markdown"]


def markdown_table(frame: pd.DataFrame, *, digits: int = 3) -> str:
    """A GitHub-style pipe table (no extra dependency)."""
    if frame is None or frame.empty:
        return "(none)\n"

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if pd.isna(v):
                return ""
            return f"{v:.0f}" if v.is_integer() and abs(v) >= 2 else f"{v:.{digits}f}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def render_markdown(tables: Mapping[str, Any], *, title: str) -> str:
    """The verdict, the headline table, the alternatives, flags and runs not compared; the full tables folded
    in ``<details>``; the metric definitions (tables from :func:`~workbench.reporting.tables.report_tables`)."""
    from workbench.reporting.definitions import definitions_for, report_columns

    verdict = tables["verdict"]
    policy = verdict.policy
    out = [f"# {title}\n", "## Verdict\n", f"**{verdict.headline}**\n", *[f"- {r}" for r in verdict.reasons],
           f"\nAsked: p95 latency ≤ {policy.slo_p95_ms:g} ms and {verdict.metric} ≥ {policy.min_quality:g}.\n",
           "## Headline\n", markdown_table(tables["headline"]),
           f"\n{'★ the pick; ' if verdict.pick else ''}{verdict.metric}: mean [{policy.confidence:.0%} interval]; "
           f"latency percentiles: {PERCENTILE_METHOD}.\n", *[f"_{n}_\n" for n in verdict.notes]]
    if not verdict.alternatives.empty:
        out += ["## What each alternative gains or costs\n", markdown_table(verdict.alternatives, digits=4),
                "\nPaired by question; p by sign-flip permutation, p_holm Holm-corrected over the alternatives.\n"]
    flags = [f"- {s.config}: {f}" for s in verdict.scores for f in s.flags]
    if flags:
        out += ["## Flags\n", *flags, ""]
    separated = tables.get("separated")
    if separated is not None and not separated.empty:
        out += ["## Not compared\n", markdown_table(separated)]
    peak = tables.get("serving_vs_bare")
    if peak is not None:
        about = tables.get("serving_peak") or {}
        profile = about.get("profile") or {}
        out += ["## Serving stack vs bare pipeline (morning peak)\n", markdown_table(peak),
                f"\nProfile {profile.get('name', 'morning-peak')}: {profile.get('rate')} req/s at the peak for "
                f"{profile.get('duration_s')} s; SLO {about.get('slo')}; LLM tier {about.get('llm')}; answers scored "
                f"against the gold. Ratio above 1: the serving stack does better. Latency percentiles: "
                f"{PERCENTILE_METHOD}.\n"]

    def folded(summary: str, body: str) -> list[str]:
        return [f"<details><summary>{summary}</summary>\n", body, "</details>\n"]

    out += ["## Full tables\n", *folded("Every number of every compared run", markdown_table(tables["summary"]))]
    if "load" in tables and not tables["load"].empty:
        out += folded("Load test (correct goodput per preset)", markdown_table(tables["load"]) +
                      f"\ncorrect_goodput_rps: within the SLO and correct. Latency percentiles: {PERCENTILE_METHOD}.\n")
    out += folded("By language", markdown_table(tables["by_language"]))
    deltas = tables["deltas"]
    if deltas is not None and not deltas.empty:
        deltas = deltas[[c for c in ("baseline", "config", "metric", "delta", "ci_low", "ci_high", "n", "p_value",
                                     "p_holm", "significant") if c in deltas]]
    out += folded("Differences against the first run (paired bootstrap 95% CI, Holm-corrected p)",
                  markdown_table(deltas, digits=4))
    columns = report_columns(tables)
    out += ["## Metric definitions\n", *[f"- **{n}**: {t}" for n, t in definitions_for(columns)], ""]
    return "\n".join(out)
