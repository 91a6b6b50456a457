"""What each number in a report means, shown under the report's tables.

```python
definitions_for(["correct", "ndcg@10", "latency_p95_ms"])   # [("correct", "..."), ("ndcg@k", "..."), ...]
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from workbench.percentiles import PERCENTILE_METHOD

__all__ = ["METRIC_DEFINITIONS", "definitions_for", "report_columns"]

#: Metric name (``@k`` stands for every cut-off) → one-sentence definition.
METRIC_DEFINITIONS: dict[str, str] = {
    "correct": "Share of questions whose answer the answer-type-aware matcher judges correct against the "
               "reference (amounts, dates, yes/no polarity, menu paths...; 'partly' counts as its score); on an "
               "unanswerable question only an abstention is correct. The measure that agreed best with hand labels.",
    "em": "Exact match: 1 when the normalised answer equals a reference (SQuAD rules for English, CMRC for Chinese).",
    "f1": "Token-overlap F1 between the answer and the best-matching reference (characters for Chinese).",
    "rouge_l": "ROUGE-L F-measure: longest common subsequence between answer and reference.",
    "hit@k": "Share of questions with at least one gold document among the first k retrieved.",
    "recall@k": "Share of a question's gold documents found among the first k retrieved, averaged over questions.",
    "precision@k": "Share of the first k retrieved documents that are gold, averaged over questions.",
    "mrr": "Mean reciprocal rank of the first gold document (0 when none is retrieved).",
    "ndcg@k": "Normalised discounted cumulative gain of the first k retrieved documents (graded relevance).",
    "map": "Mean average precision over the retrieved ranking.",
    "latency_p50_ms": f"Median end-to-end latency in ms ({PERCENTILE_METHOD} percentile).",
    "latency_p95_ms": f"95th-percentile end-to-end latency in ms ({PERCENTILE_METHOD}); under a load test it counts "
                      "from each request's scheduled start, so queueing is included.",
    "goodput": "Requests per second that succeeded within the load test's end-to-end SLO, beside the offered rate; "
               "far below the offered rate means the configuration was overloaded.",
    "correct_share": "Share of a load test's scored answers judged correct against the gold by the same matcher as "
                     "'correct' (a cached or degraded wrong answer counts as wrong).",
    "correct goodput": "Requests per second answered within the load test's SLO and correct: goodput that counts "
                       "right answers only (correct_goodput_rps in the tables).",
    "served from cache": "Share of the answered requests a cache layer served (exact, semantic or retrieval).",
    "cache hits answered wrong": "Answers served from the cache that the matcher judged not correct against the gold; "
                                 "this includes the pipeline's own wrong answers, replayed.",
    "wrong answers the cache made": "Cache hits answered wrong where the same pipeline without the cache answered "
                                    "the same request right (same seeded workload, matched by request index).",
    "compute s / 1k q": "Seconds of pipeline time to answer 1,000 questions one at a time on this machine (mean "
                        "end-to-end latency of the evaluation pass × 1,000 / 1,000): the cost of the configuration.",
    "tokens / 1k q": "Tokens generated per 1,000 questions (the cost driver of a paid LLM API).",
    "partly": "Share of answers the matcher judges partly correct.",
    "Δ": "Difference run − baseline of per-question scores, averaged over the questions both answered; interval by "
         "paired percentile bootstrap, p by paired sign-flip permutation test, p_holm Holm-corrected over the table.",
}


#: Column names shown under another name in the definitions.
_ALIASES = {"correct_goodput_rps": "correct goodput", "correct goodput req/s": "correct goodput",
            "served_from_cache": "served from cache", "wrong_hits": "cache hits answered wrong",
            "cache_made_wrong": "wrong answers the cache made"}


def definitions_for(columns: Iterable[str]) -> list[tuple[str, str]]:
    """The definitions of the metrics among ``columns`` (``hit@5`` → ``hit@k``), each once, in order."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for col in columns:
        name = _ALIASES.get(str(col), str(col).split("[", 1)[0].strip())
        key = name.split("@", 1)[0] + "@k" if "@" in name else name
        if key in METRIC_DEFINITIONS and key not in seen:
            seen.add(key)
            out.append((key, METRIC_DEFINITIONS[key]))
    return out


def report_columns(tables: Mapping[str, Any]) -> list[str]:
    """Every column a report shows whose definition it lists (``tables`` from
    :func:`~workbench.reporting.tables.report_tables`, with the serving-vs-bare comparison when present)."""
    columns = [tables["verdict"].metric, *tables["summary"].columns, "goodput", "correct goodput",
               "compute s / 1k q", "tokens / 1k q", "Δ"]
    load = tables.get("load")
    if load is not None and not load.empty:
        columns += list(load.columns)
    if tables.get("serving_vs_bare") is not None:
        columns += ["served from cache", "cache hits answered wrong", "wrong answers the cache made"]
    return columns
