"""Can a cheap signal tell a paraphrase from another question at the semantic cache's candidates (issue 17)?

    .venv/bin/python bench/probe_cache_signals.py [--top-k 4] [--floor 0.85]

On the cache-truth halves (``workbench.evaluation.cache_truth``: a half's stored questions in the cache, its
asked questions looked up), every candidate among a query's ``--top-k`` nearest stored questions (e5-small
cosine >= ``--floor``) is a pair labelled "same intent" or not. Per signal, the ROC AUC of that label on the
test half (below 0.5: the signal is lower on same-intent pairs; 1 - AUC is its strength); then a logistic regression over all of them, fit on the tuning half's pairs only, serving a query
the first candidate (nearest first) whose probability clears a cutoff. The cutoff is picked on the tuning half
(most paraphrases served with the upper end of the wrong-hit Wilson interval <= 1%) and applied to the test
half, as ``bench_cache_truth.py`` picks its settings.

Signals (all cheap: no model call beyond the query embedding and the retrieval the miss path runs anyway):

* ``cosine``: the candidate's e5-small cosine; ``gap``: the nearest candidate's cosine minus this one's;
  ``rank``: its rank among the candidates;
* ``rules``: the bank lexicon's verifier refuses the pair (1/0);
* ``same_passage`` / ``same_document``: the ``default`` retrieval's first passage / document is the same
  for the query and the stored question; ``passage_overlap``: shared passages among both first three;
  ``rank_overlap``: a rank-biased overlap of both first five passages.

Writes bench/results/cache_signals.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import workbench  # noqa: F401  (offline switches)
from workbench.cache.verifier import RuleVerifier
from workbench.config import PipelineConfig
from workbench.evaluation.cache_truth import load_truth_split, wilson_interval
from workbench.models import load_embedding_model
from workbench.pipelines import QueryPipeline, load_knowledge_base

OUT = Path(__file__).resolve().parent / "results" / "cache_signals.json"
SIGNALS = ("cosine", "gap", "rank", "rules", "same_passage", "same_document", "passage_overlap", "rank_overlap")


def _rank_overlap(a: list[str], b: list[str], p: float = 0.8) -> float:
    """Rank-biased overlap of two rankings' first five items, normalised to 0..1."""
    score, weight = 0.0, 1.0
    for k in range(1, 6):
        score += weight * len(set(a[:k]) & set(b[:k])) / k
        weight *= p
    return score * (1 - p) / (1 - p**5)


def half_pairs(half: Any, model: Any, qp: QueryPipeline, top_k: int, floor: float) -> dict[str, Any]:
    """The half's candidate pairs: signals, labels, and which query and rank each belongs to."""
    stored: dict[str, str] = {}
    for g in half.groups:
        for text, intent in g.stored:
            stored.setdefault(text, intent)
    queries = [(t, i, g.kind) for g in half.groups for t, i in g.asked if t not in stored]
    texts = list(stored)
    sv = np.asarray(model.embed_queries(texts))
    qv = np.asarray(model.embed_queries([q[0] for q in queries]))
    sims = qv @ sv.T

    def hits(text: str) -> list[tuple[str, str]]:
        return [(d.id, str(d.meta.get("doc_id"))) for d in qp.retrieve(text, top_k=5)]

    stored_hits = [hits(t) for t in texts]
    rules = RuleVerifier()
    rows: list[list[float]] = []
    labels: list[bool] = []
    where: list[tuple[int, int]] = []
    for qi, (text, intent, _kind) in enumerate(queries):
        order = np.argsort(-sims[qi])[:top_k]
        q_hits = hits(text)
        for rank, si in enumerate(order):
            cos = float(sims[qi, si])
            if cos < floor:
                break
            s_hits = stored_hits[si]
            qp_, sp_ = [h[0] for h in q_hits], [h[0] for h in s_hits]
            rows.append([cos, float(sims[qi, order[0]]) - cos, rank, rules.verify(text, texts[si]) is not None,
                         bool(qp_ and sp_ and qp_[0] == sp_[0]),
                         bool(q_hits and s_hits and q_hits[0][1] == s_hits[0][1]),
                         len(set(qp_[:3]) & set(sp_[:3])) / 3, _rank_overlap(qp_, sp_)])
            labels.append(stored[texts[si]] == intent)
            where.append((qi, rank))
    return {"X": np.asarray(rows, dtype=float), "y": np.asarray(labels), "where": where,
            "kinds": [q[2] for q in queries]}


def serve(pairs: dict[str, Any], probs: np.ndarray, cutoff: float) -> dict[str, Any]:
    """Each query served its first candidate (nearest first) at or above ``cutoff``: hits, wrong, served."""
    first: dict[int, bool] = {}
    for (qi, _rank), p, y in zip(pairs["where"], probs, pairs["y"], strict=True):
        if qi not in first and p >= cutoff:
            first[qi] = bool(y)
    hits, wrong = len(first), sum(not y for y in first.values())
    paraphrases = sum(k == "paraphrase" for k in pairs["kinds"])
    served = sum(y for qi, y in first.items() if pairs["kinds"][qi] == "paraphrase")
    return {"cutoff": round(float(cutoff), 4), "hits": hits, "wrong": wrong,
            "wrong_rate": wrong / hits if hits else 0.0, "wrong_ci": wilson_interval(wrong, hits),
            "paraphrases_served": served / paraphrases if paraphrases else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top-k", type=int, default=4)
    ap.add_argument("--floor", type=float, default=0.85)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    t0 = time.perf_counter()
    tuning, test = load_truth_split()
    model = load_embedding_model("e5-small")
    cfg = PipelineConfig.load("default").with_overrides({"abstention.enabled": False})
    qp = QueryPipeline(cfg, load_knowledge_base(cfg, progress=False))
    tr = half_pairs(tuning, model, qp, args.top_k, args.floor)
    te = half_pairs(test, model, qp, args.top_k, args.floor)
    auc = {name: round(float(roc_auc_score(te["y"], te["X"][:, i])), 3) for i, name in enumerate(SIGNALS)}
    mu, sd = tr["X"].mean(0), tr["X"].std(0) + 1e-9
    lr = LogisticRegression(C=1.0, max_iter=5000).fit((tr["X"] - mu) / sd, tr["y"])
    p_tr = lr.predict_proba((tr["X"] - mu) / sd)[:, 1]
    p_te = lr.predict_proba((te["X"] - mu) / sd)[:, 1]
    auc["logistic (all, fit on tuning)"] = round(float(roc_auc_score(te["y"], p_te)), 3)
    grid = np.linspace(0.3, 0.999, 300)
    ok = [r for r in (serve(tr, p_tr, c) for c in grid) if r["hits"] and r["wrong_ci"][1] <= 0.01]
    picked = max(ok, key=lambda r: r["paraphrases_served"]) if ok else None
    out = {
        "what": "pairs at the semantic cache's candidates (e5-small top-k >= floor): does a cheap signal separate "
                "same-intent pairs? AUC on the test half; a logistic regression fit on tuning pairs",
        "top_k": args.top_k, "floor": args.floor,
        "pairs": {"tuning": len(tr["y"]), "test": len(te["y"]), "same_intent_share_test": float(te["y"].mean())},
        "test_auc": auc,
        "picked_on_tuning": picked,
        "picked_on_test": serve(te, p_te, picked["cutoff"]) if picked else None,
        "test_at_cutoffs": [serve(te, p_te, c) for c in (0.5, 0.7, 0.8, 0.9)],
        "target": "wrong hits <= 1% (upper end of the Wilson interval) at >= 60% of paraphrases served",
        "load_average": list(os.getloadavg()), "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(f"pairs: tuning {out['pairs']['tuning']}, test {out['pairs']['test']} "
          f"({out['pairs']['same_intent_share_test']:.0%} same intent)")
    print("test-half ROC AUC per signal (same intent scores higher; below 0.5: lower, 1 - AUC is its strength):")
    for name, v in auc.items():
        print(f"  {name:32} {v:.3f}")
    if picked is None:
        print("no cutoff keeps the wrong-hit interval's upper end <= 1% on the tuning half")
    else:
        print(f"picked on tuning: {picked}\n  on test: {out['picked_on_test']}")
    for r in out["test_at_cutoffs"]:
        print(f"  test, cutoff {r['cutoff']}: {r['hits']} hits, {r['wrong']} wrong ({r['wrong_rate']:.1%}), "
              f"paraphrases served {r['paraphrases_served']:.1%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
