"""Summaries of per-question rows: metric means, latency percentiles (nearest rank), tokens, by language.

```python
summary = summarize(rows)          # {"overall": {...}, "by_language": {"en": {...}, "zh": {...}}}
flat_summary(summary)["ndcg@10"]
```
"""

from __future__ import annotations

import math
from typing import Any

from workbench.evaluation.metrics.latency import latency_summary, token_summary

__all__ = ["METRIC_PREFIXES", "flat_summary", "metric_columns", "summarize"]

#: Column prefixes of quality metrics (averaged over questions).
METRIC_PREFIXES = ("correct", "recall@", "precision@", "hit@", "ndcg@", "map", "mrr", "em", "f1", "rouge_l",
                   "semantic_sim", "ragas_", "judge_")


#: Columns that match a prefix but are not numbers to average.
_NOT_MEANS = frozenset({"ragas_errors", "correct_rule", "judge_verdict", "judge_errors", "judge_votes"})


def metric_columns(columns: Any) -> list[str]:
    """The quality-metric columns among ``columns``, in their order."""
    return [c for c in columns if any(c == p or c.startswith(p) for p in METRIC_PREFIXES)
            and c not in _NOT_MEANS]


def _mean(values: Any) -> float:
    clean = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(clean) / len(clean) if clean else math.nan


def _group(frame: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"questions": len(frame)}
    out["errors"] = int(frame["error"].notna().sum()) if "error" in frame else 0
    if "verdict" in frame:
        judged = frame["verdict"].dropna()
        if len(judged):
            out["partly"] = float((judged == "partly").mean())
    for col in metric_columns(frame.columns):
        out[col] = _mean(frame[col])
    if "latency_total_ms" in frame:
        lat = latency_summary(frame["latency_total_ms"])
        out.update({f"latency_{k}": v for k, v in lat.items() if k != "count"})
    for col in [c for c in frame.columns if c.startswith("latency_") and c != "latency_total_ms"]:
        out[f"{col.removesuffix('_ms')}_mean_ms"] = _mean(frame[col])
    if "tokens" in frame:
        tok = token_summary(frame["tokens"])
        out.update({f"tokens_{k}": v for k, v in tok.items()})
    return out


def summarize(rows: Any) -> dict[str, Any]:
    """``overall`` and ``by_language`` summaries of a per-question DataFrame."""
    summary: dict[str, Any] = {"overall": _group(rows), "by_language": {}}
    if "lang" in rows and len(rows):
        for lang, part in rows.groupby(rows["lang"].fillna("unknown"), sort=True):
            summary["by_language"][str(lang)] = _group(part)
    return summary


def flat_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The overall numbers plus ``<metric>[<lang>]`` for each language's F1, nDCG@10-like headline metrics."""
    flat = dict(summary["overall"])
    for lang, part in summary.get("by_language", {}).items():
        for key in ("correct", "f1", "em", "recall@5", "ndcg@10", "mrr", "latency_p50_ms"):
            if key in part:
                flat[f"{key}[{lang}]"] = part[key]
    return flat
