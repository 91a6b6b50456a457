"""A self-contained HTML report: inline CSS, tables, and plots embedded as base64 PNG (no external files).

```python
html = render_html(tables, figures={"Quality": png_bytes}, manifests=[...], title="Sweep 2026-11-24")
```
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from workbench.percentiles import PERCENTILE_METHOD

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
"""


def _table(frame: pd.DataFrame, *, digits: int = 3) -> str:
    if frame is None or frame.empty:
        return "<p class='note'>(none)</p>"
    shown = frame.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
    return shown.to_html(index=False, escape=True, border=0)


def render_html(tables: Mapping[str, Any], *, figures: Mapping[str, bytes], manifests: Sequence[Mapping[str, Any]],
                title: str, notes: Sequence[str] = ()) -> str:
    """The report page as one string."""
    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>",
             f"<style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>"]
    for note in notes:
        parts.append(f"<p class='note'>{esc(note)}</p>")
    if any(m.get("labels", {}).get("simulated") for m in manifests):
        parts.append("<p class='sim'>Some runs used the simulated LLM service (see the 'simulated' column).</p>")
    parts.append("<h2>Summary</h2>")
    parts.append(_table(tables["summary"]))
    parts.append(f"<p class='note'>Pareto front over {esc(json.dumps(tables['objectives']))}; latency percentiles: "
                 f"{PERCENTILE_METHOD}.</p>")
    load = tables.get("load")
    if load is not None and not load.empty:
        parts.append("<h2>Load test</h2>")
        parts.append(_table(load))
        parts.append("<p class='note'>Open loop (Poisson arrivals), latency from the scheduled start, so queueing "
                     f"is counted; goodput = requests within the end-to-end SLO per second; latency percentiles: "
                     f"{PERCENTILE_METHOD}.</p>")
    parts.append("<h2>By language</h2>")
    parts.append(_table(tables["by_language"]))
    parts.append("<h2>Plots</h2>")
    for caption, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    parts.append("<h2>Differences against the first run</h2>")
    parts.append(_table(tables["deltas"], digits=4))
    parts.append("<p class='note'>delta = run − baseline, paired by question; interval: paired percentile bootstrap "
                 f"(2,000 resamples, seed 0, {PERCENTILE_METHOD} percentiles).</p>")
    parts.append("<h2>Manifests</h2>")
    for m in manifests:
        ds = m.get("dataset", {})
        parts.append(f"<details><summary>{esc(str(m.get('config_name')))} — config {esc(str(m.get('config_hash')))}, "
                     f"dataset {esc(str(ds.get('name')))} {esc(str(ds.get('hash')))}</summary>"
                     f"<pre>{esc(json.dumps(m, ensure_ascii=False, indent=1, default=str))}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)
