"""The tables a report shows, built from experiment results alone.

```python
tables = report_tables(results)     # {"verdict": Verdict, "headline": DataFrame, "summary": DataFrame, ...}
```
Only runs answered on the same questions are compared (see :func:`~workbench.reporting.verdict.split_by_questions`):
``summary``, ``by_language``, ``deltas``, ``rows`` and the plots hold those; ``separated`` lists the others with
the reason they are apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from workbench.evaluation.experiment import ExperimentResult, compare_runs, holm_adjust, pareto_front
from workbench.reporting.verdict import ReportConfig, RunScore, recommend

__all__ = ["HEADLINE", "LOAD_COLUMNS", "headline_quality", "load_table", "report_tables", "serving_comparison",
           "worst_questions"]

#: Columns of the headline summary table, when present.
HEADLINE = ("questions", "errors", "correct", "hit@1", "hit@5", "recall@5", "mrr", "ndcg@10", "map", "em", "f1", "rouge_l",
            "latency_p50_ms", "latency_p95_ms", "tokens_mean")


#: The per-preset load-test table's first columns (always shown; empty when a run did not measure one: a load
#: test saved before answers were scored has no correct share).
LOAD_COLUMNS = ("config", "offered_rps", "throughput_rps", "goodput_rps", "correct_share", "correct_goodput_rps",
                "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate", "shed_rate")

#: The serving-vs-bare rows: (label, key in each side's summary, how the ratio reads: ``"bare/serving"`` for
#: latencies, ``"serving/bare"`` for rates, ``None`` for none).
_PEAK_ROWS = (("requests", "requests", None), ("served from cache", "served_from_cache", None),
              ("cache hits answered wrong", "wrong_hits", None),
              ("wrong share of scored cache hits", "wrong_hit_share", None),
              ("wrong answers the cache made", "cache_made_wrong", None),
              ("mean latency ms", "latency_mean_ms", "bare/serving"), ("p50 latency ms", "latency_p50_ms", None),
              ("p95 latency ms", "latency_p95_ms", "bare/serving"), ("throughput req/s", "throughput_rps", None),
              ("goodput req/s", "goodput_rps", "serving/bare"), ("SLO attainment", "slo_attainment", None),
              ("correct share", "correct_share", None),
              ("correct goodput req/s", "correct_goodput_rps", "serving/bare"), ("shed", "shed", None),
              ("errors", "errors", None))


def load_table(results: Sequence[ExperimentResult]) -> pd.DataFrame:
    """One row per run with a load test (``summary["load"]``): :data:`LOAD_COLUMNS` first, then the rest."""
    rows = [{"config": r.name, **r.summary["load"]} for r in results if isinstance(r.summary.get("load"), dict)]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    for col in LOAD_COLUMNS:
        if col not in frame:
            frame[col] = float("nan")
    return frame[[*LOAD_COLUMNS, *(c for c in frame.columns if c not in LOAD_COLUMNS)]]


def serving_comparison(cmp: dict[str, Any]) -> pd.DataFrame:
    """The serving stack against the same pipeline bare at the morning peak, one row per measure.

    :param cmp: what :meth:`workbench.demo.ServingPeak.run` returns (``serving_vs_bare.json``): ``runs`` with a
        ``serving`` and a ``bare`` summary.
    :returns: columns ``measure``, ``serving``, ``bare``, ``ratio`` (bare/serving for latencies, serving/bare for
        goodputs: above 1 means the serving stack does better) and ``ratio of``; measures neither side has are left out.
    :raises ValueError: ``cmp`` lacks the two runs.
    """
    runs = cmp.get("runs", {})
    if "serving" not in runs or "bare" not in runs:
        raise ValueError("a serving-vs-bare comparison needs runs['serving'] and runs['bare']")
    s, b = runs["serving"], runs["bare"]
    rows = []
    for label, key, ratio_of in _PEAK_ROWS:
        sv, bv = s.get(key), b.get(key)
        if sv is None and bv is None:
            continue
        ratio = None
        if ratio_of is not None and isinstance(sv, int | float) and isinstance(bv, int | float):
            num, den = (bv, sv) if ratio_of == "bare/serving" else (sv, bv)
            ratio = num / den if den else None
        rows.append({"measure": label, "serving": sv, "bare": bv, "ratio": ratio,
                     "ratio of": ratio_of if ratio is not None else ""})
    frame = pd.DataFrame(rows)
    for col in ("serving", "bare", "ratio"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def headline_quality(summary: pd.DataFrame) -> str:
    """The quality column that ranks configs: ``f1`` when answers were scored, else ``ndcg@10``, else ``mrr``."""
    for col in ("f1", "ndcg@10", "mrr"):
        if col in summary and summary[col].notna().any():
            return col
    return "hit@1"


def worst_questions(results: Sequence[ExperimentResult], metric: str, *, per_run: int = 5) -> pd.DataFrame:
    """Up to ``per_run`` lowest-scoring questions of each run on ``metric`` (ties: slowest first), with the
    question, the answer and the references."""
    parts = []
    for r in results:
        if metric not in r.rows:
            continue
        frame = r.rows.copy()
        frame["_lat"] = frame["latency_total_ms"] if "latency_total_ms" in frame else 0.0
        frame = frame.sort_values([metric, "_lat"], ascending=[True, False]).head(per_run)
        cols = [c for c in ("question_id", "lang", "question", metric, "answer", "references", "error")
                if c in frame]
        part = frame[cols].copy()
        part.insert(0, "config", r.name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _score_columns(scores: Sequence[RunScore]) -> pd.DataFrame:
    return pd.DataFrame([{"config": s.config, "quality": s.quality, "quality_low": s.quality_low,
                          "quality_high": s.quality_high, "p95_ms": s.p95_ms} for s in scores])


def report_tables(results: Sequence[ExperimentResult], policy: ReportConfig | None = None) -> dict[str, Any]:
    """``verdict`` (:class:`~workbench.reporting.verdict.Verdict`), ``headline`` (its short table), ``scores``
    (quality with CI and the p95 the SLO sees, per run), ``summary`` (one row per compared run, every number,
    Pareto flag), ``separated`` (runs on other questions, with the reason), ``by_language``, ``deltas`` (each run
    against the first, Holm-corrected over the whole table), ``worst`` (lowest-scoring questions per run),
    ``rows`` (all per-question rows), the ``quality`` column of the front and its ``objectives``."""
    verdict = recommend(results, policy)
    separated = verdict.separated
    apart = {id(r) for r, _ in separated}
    results = [r for r in results if id(r) not in apart]
    summary = pd.DataFrame([r.summary_row() for r in results])
    quality = verdict.metric
    # the front over what the verdict weighs: quality and the p95 the SLO sees (under load when measured)
    objectives = {quality: "max", "p95_ms": "min"}
    scores = pareto_front(_score_columns(verdict.scores).rename(columns={"quality": quality}), objectives)
    summary["pareto"] = summary["config"].map(dict(zip(scores["config"], scores["pareto"], strict=True)))
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
    delta_frame = pd.concat(deltas, ignore_index=True) if deltas else pd.DataFrame()
    if not delta_frame.empty:
        delta_frame["p_holm"] = holm_adjust(delta_frame["p_value"].tolist())
        delta_frame["significant"] = delta_frame["p_holm"] < verdict.policy.alpha
    parts = []
    for r in results:
        part = r.rows.copy()
        part.insert(0, "config_hash", r.config_hash)
        part.insert(0, "config", r.name)
        parts.append(part)
    load = load_table(results)
    separated_frame = pd.DataFrame([{**{k: v for k, v in r.summary_row().items()
                                         if k in ("config", "dataset", *HEADLINE)}, "why apart": why}
                                    for r, why in separated])
    return {
        "verdict": verdict,
        "headline": verdict.headline_frame(),
        "scores": scores,
        "separated": separated_frame,
        "worst": worst_questions(results, verdict.metric),
        "load": load,
        "summary": summary,
        "by_language": pd.DataFrame(by_lang),
        "deltas": delta_frame,
        "rows": pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(),
        "quality": quality,
        "objectives": objectives,
    }
