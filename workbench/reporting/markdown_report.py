"""The Markdown version of a report (tables only; plots are in the HTML).

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
            return "" if pd.isna(v) else f"{v:.{digits}f}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def render_markdown(tables: Mapping[str, Any], *, title: str) -> str:
    """Summary, per-language and delta tables."""
    from workbench.reporting.tables import HEADLINE

    summary = tables["summary"]
    cols = ["config", *[c for c in HEADLINE if c in summary], "pareto"]
    out = [f"# {title}\n", "## Summary\n", markdown_table(summary[[c for c in cols if c in summary]]),
           f"\nPareto front over {dict(tables['objectives'])}; latency percentiles: {PERCENTILE_METHOD}.\n",
           *(["## Load test\n", markdown_table(tables["load"]), f"\nLatency percentiles: {PERCENTILE_METHOD}.\n"]
             if "load" in tables and not tables["load"].empty else []),
           "## By language\n", markdown_table(tables["by_language"]),
           "\n## Differences against the first run (paired bootstrap 95% CI)\n",
           markdown_table(tables["deltas"], digits=4)]
    return "\n".join(out)
