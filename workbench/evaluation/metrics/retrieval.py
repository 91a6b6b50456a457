"""Ranking metrics of one query as trec_eval defines them: recall, precision, success (hit), reciprocal
rank, nDCG and average precision, each optionally cut at ``k``.

A run is a ranked list of document ids (best first) or a ``{doc_id: score}`` mapping; qrels map a
document id to its relevance level (``> 0`` is relevant, as trec_eval's default ``relevance_level`` 1)::

    qrels = {"d1": 1, "d4": 2}
    ndcg_at_k(["d4", "d2", "d1"], qrels, 10)     # gains 2, 0, 1 over the ideal 2, 1
    recall_at_k(["d4", "d2", "d1"], qrels, 1)    # 0.5

Conventions (the same as trec_eval 9 / pytrec_eval, which BEIR uses):

* **Ties.** A scored run is ordered by score descending, ties broken by document id *descending*
  (trec_eval's ``comp_sim_docno``). A plain list is taken in the order given.
* **Duplicates.** A document id that appears again lower in the ranking is dropped (the first, best
  rank counts once); otherwise one relevant document could be counted twice.
* **precision@k** divides by ``k`` even when fewer than ``k`` documents were retrieved (``P_k``).
* **nDCG@k** uses the relevance level itself as the gain and ``log2(rank + 1)`` as the discount;
  the ideal ranking is the qrels sorted by level, cut at ``k`` (``ndcg_cut``).
* **AP** (``map``, ``map_cut``): the precision at the rank of each relevant retrieved document,
  summed and divided by the number of relevant documents (retrieved or not).
* **No relevant documents.** Every measure is 0.0 (no relevant document can be found; trec_eval's
  per-query values are 0 too) and :func:`has_relevant` lets callers exclude such queries.
* An empty run scores 0.0 on every measure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "Qrels",
    "Run",
    "average_precision",
    "dedupe",
    "has_relevant",
    "hit_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "rank_run",
    "recall_at_k",
    "reciprocal_rank",
    "retrieval_scores",
]

Run = Sequence[str] | Mapping[str, float]
"""Ranked document ids (best first), or document id → score (higher is better)."""
Qrels = Mapping[str, int] | Iterable[str]
"""Document id → relevance level, or a collection of relevant ids (level 1 each)."""


def dedupe(doc_ids: Iterable[str]) -> list[str]:
    """Ids in rank order, each kept at its first (best) position.

    >>> dedupe(["a", "b", "a", "c"])
    ['a', 'b', 'c']
    """
    seen: set[str] = set()
    out = []
    for d in doc_ids:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def rank_run(run: Run) -> list[str]:
    """The ranking of a run: a list is deduplicated in order; a mapping is sorted by score descending,
    ties by document id descending (as trec_eval)."""
    if isinstance(run, Mapping):
        items = sorted(run.items(), key=lambda kv: kv[0], reverse=True)      # secondary key: docno desc
        items.sort(key=lambda kv: kv[1], reverse=True)                       # stable: primary key score desc
        return [d for d, _ in items]
    if isinstance(run, str):
        raise TypeError("a run is a sequence of document ids, not a single string")
    return dedupe(run)


def _levels(qrels: Qrels) -> dict[str, int]:
    if isinstance(qrels, Mapping):
        return {str(k): int(v) for k, v in qrels.items()}
    if isinstance(qrels, str):
        raise TypeError("qrels are a collection of document ids or a mapping id → level, not a single string")
    return {str(k): 1 for k in qrels}


def _relevant(qrels: Qrels) -> dict[str, int]:
    return {d: lvl for d, lvl in _levels(qrels).items() if lvl > 0}


def _check_k(k: int | None) -> None:
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def has_relevant(qrels: Qrels) -> bool:
    """True when at least one document has a positive relevance level."""
    return bool(_relevant(qrels))


def recall_at_k(run: Run, qrels: Qrels, k: int | None = None) -> float:
    """Relevant documents in the top ``k`` / all relevant documents (trec_eval ``recall_k``)."""
    _check_k(k)
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    top = rank_run(run)[:k]
    return sum(1 for d in top if d in rel) / len(rel)


def precision_at_k(run: Run, qrels: Qrels, k: int) -> float:
    """Relevant documents in the top ``k`` / ``k`` (trec_eval ``P_k``: a short run is not rewarded)."""
    _check_k(k)
    rel = _relevant(qrels)
    top = rank_run(run)[:k]
    return sum(1 for d in top if d in rel) / k


def hit_at_k(run: Run, qrels: Qrels, k: int | None = None) -> float:
    """1.0 when a relevant document is in the top ``k`` (trec_eval ``success_k``), else 0.0."""
    _check_k(k)
    rel = _relevant(qrels)
    return 1.0 if any(d in rel for d in rank_run(run)[:k]) else 0.0


def reciprocal_rank(run: Run, qrels: Qrels, k: int | None = None) -> float:
    """1 / rank of the first relevant document, 0.0 if none in the top ``k`` (``recip_rank``; MRR is its mean)."""
    _check_k(k)
    rel = _relevant(qrels)
    for rank, d in enumerate(rank_run(run)[:k], start=1):
        if d in rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(run: Run, qrels: Qrels, k: int | None = None) -> float:
    """Normalized discounted cumulative gain, gain = relevance level, discount log2(rank + 1) (``ndcg_cut_k``)."""
    _check_k(k)
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    dcg = sum(rel.get(d, 0) / math.log2(rank + 1) for rank, d in enumerate(rank_run(run)[:k], start=1))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg


def average_precision(run: Run, qrels: Qrels, k: int | None = None) -> float:
    """Average precision (``map``; ``map_cut_k`` with ``k``): sum of precision at each relevant retrieved rank
    within ``k``, divided by the number of relevant documents."""
    _check_k(k)
    rel = _relevant(qrels)
    if not rel:
        return 0.0
    found, total = 0, 0.0
    for rank, d in enumerate(rank_run(run)[:k], start=1):
        if d in rel:
            found += 1
            total += found / rank
    return total / len(rel)


def retrieval_scores(run: Run, qrels: Qrels, ks: Sequence[int] = (1, 3, 5, 10)) -> dict[str, float]:
    """Every measure of one query: ``recall@k``, ``precision@k``, ``hit@k``, ``ndcg@k`` for each ``k``,
    ``mrr`` (uncut reciprocal rank), ``map`` (uncut AP) and ``map@k`` for the largest ``k``.

    >>> retrieval_scores(["d1", "d2"], {"d2": 1}, ks=(1, 2))["mrr"]
    0.5
    """
    ranking = rank_run(run)
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(ranking, qrels, k)
        out[f"precision@{k}"] = precision_at_k(ranking, qrels, k)
        out[f"hit@{k}"] = hit_at_k(ranking, qrels, k)
        out[f"ndcg@{k}"] = ndcg_at_k(ranking, qrels, k)
    out["mrr"] = reciprocal_rank(ranking, qrels)
    out["map"] = average_precision(ranking, qrels)
    if ks:
        out[f"map@{max(ks)}"] = average_precision(ranking, qrels, max(ks))
    return out
