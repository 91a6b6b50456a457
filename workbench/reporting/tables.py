"""The tables a report shows, built from experiment results alone.

```python
tables = report_tables(results)     # {"summary": DataFrame, "by_language": DataFrame, "deltas": DataFrame, ...}
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from workbench.evaluation.experiment import ExperimentResult, compare_runs, pareto_front

__all__ = ["HEADLINE", "headline_quality", "report_tables"]

#: Columns of the headline summary table, when present.
HEADLINE = ("questions", "errors", "hit@1", "hit@5", "recall@5", "mrr", "ndcg@10", "map", "em", "f1", "rouge_l",
            "latency_p50_ms", "latency_p95_ms", "tokens_mean")


def headline_quality(summary: pd.DataFrame) -> str:
    """The quality column that ranks configs: ``f1`` when answers were scored, else ``ndcg@10``, else ``mrr``."""
    for col in ("f1", "ndcg@10", "mrr"):
        if col in summary and summary[col].notna().any():
            return col
    return "hit@1"


def report_tables(results: Sequence[ExperimentResult]) -> dict[str, Any]:
    """``summary`` (one row per run, Pareto flag), ``by_language``, ``deltas`` (each run against the first),
    ``rows`` (all per-question rows) and the ``quality`` column used for the front."""
    summary = pd.DataFrame([r.summary_row() for r in results])
    quality = headline_quality(summary)
    objectives = {quality: "max"}
    if "latency_p50_ms" in summary and summary["latency_p50_ms"].notna().any():
        objectives["latency_p50_ms"] = "min"
    if "tokens_mean" in summary and summary["tokens_mean"].notna().any():
        objectives["tokens_mean"] = "min"
    summary = pareto_front(summary, objectives)
    by_lang = []
    for r in results:
        for lang, part in r.summary.get("by_language", {}).items():
            by_lang.append({"config": r.name, "lang": lang, **{k: part.get(k) for k in HEADLINE if k in part}})
    deltas = []
    for r in results[1:]:
        frame = compare_runs(results[0], r, seed=0)
        if not frame.empty:
            frame.insert(0, "config", r.name)
            frame.insert(0, "baseline", results[0].name)
            deltas.append(frame)
    parts = []
    for r in results:
        part = r.rows.copy()
        part.insert(0, "config_hash", r.config_hash)
        part.insert(0, "config", r.name)
        parts.append(part)
    load = pd.DataFrame([{"config": r.name, **r.summary["load"]} for r in results
                         if isinstance(r.summary.get("load"), dict)])
    return {
        "load": load,
        "summary": summary,
        "by_language": pd.DataFrame(by_lang),
        "deltas": pd.concat(deltas, ignore_index=True) if deltas else pd.DataFrame(),
        "rows": pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(),
        "quality": quality,
        "objectives": objectives,
    }
