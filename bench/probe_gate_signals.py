"""Which cheap signals separate in-domain unanswerable questions from answerable ones (issue 12 item 3)?

    .venv/bin/python bench/probe_gate_signals.py [--limit N]

For the ``default`` preset's retrieval (gate off) on the tune halves, per language: each signal's AUC for
"in-domain unanswerable scores higher than answerable" (0.5 = no separation; below 0.5 the signal is lower
on unanswerable questions), then gates fit on tune (``GateModel.fit``, at most 5% of the tune answerable
questions abstained) with the shipped signals and with the candidates added, applied to both halves.

Candidates beside the gate's own signals (:func:`workbench.pipelines.abstention.retrieval_signals`):

* ``sentence_coverage`` / ``top3_coverage``: the IDF share of the question's words in the extractive
  answerer's best sentence / its three best sentences;
* ``missing_max_idf``: the highest IDF among the question's words that the first three passages lack,
  over the question's highest IDF (``missing_idf``: not divided);
* ``typed_span``: a span of the asked type in the three best sentences (1/0; 0.5 for untyped questions);
* ``dense_gap``: the first dense cosine minus the second; ``sentence_score``: the best sentence's score
  over the question's IDF mass.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_answers import MAX_FALSE_ABSTAIN, SEED, questions

import workbench  # noqa: F401  (offline switches)
from workbench.components.generators.answer_spans import best_span, question_type
from workbench.components.generators.extractive import rank_sentences
from workbench.config import PipelineConfig
from workbench.pipelines import QueryPipeline, load_knowledge_base
from workbench.pipelines import abstention as gate
from workbench.text import tokenize

SHIPPED = ("dense_top1", "bm25_per_token", "coverage", "unknown_words")
CANDIDATES = ("sentence_coverage", "top3_coverage", "missing_max_idf", "missing_idf", "typed_span", "dense_gap",
              "sentence_score")
TYPED = ("money", "rate", "duration", "time", "date", "count", "phone", "path")


def signals(qp: QueryPipeline, vocab: gate.CorpusVocabulary, q: dict) -> dict[str, float]:  # type: ignore[type-arg]
    """The shipped and candidate signals of one question."""
    st = qp.retrieval_state(q["question"])
    docs, lang = st["documents"], q["lang"]
    out = gate.retrieval_signals(q["question"], docs, dense=st["dense"], bm25=st["bm25"], vocabulary=vocab,
                                 language=lang)
    w = {t: vocab.idf(t) for t in dict.fromkeys(tokenize(q["question"], "auto"))}
    mass = sum(w.values()) or 1.0
    own = [d for d in docs if d.meta.get("lang", lang) == lang and not d.meta.get("cross_lingual")][:3]
    ranked = rank_sentences(q["question"], own, max_passages=3)
    best = set(tokenize(ranked[0].text, "auto")) if ranked else set()
    top3 = set().union(*(set(tokenize(s.text, "auto")) for s in ranked[:3])) if ranked else set()
    seen = set(tokenize(" ".join(d.content or "" for d in own), "auto"))
    missing = [v for t, v in w.items() if t not in seen]
    kind = question_type(q["question"])
    dense = sorted((float(d.score or 0.0) for d in st["dense"]), reverse=True)
    out.update(
        sentence_coverage=sum(v for t, v in w.items() if t in best) / mass,
        top3_coverage=sum(v for t, v in w.items() if t in top3) / mass,
        missing_max_idf=max(missing) / max(w.values()) if missing else 0.0,
        missing_idf=max(missing, default=0.0),
        typed_span=float(any(best_span(kind, s.text, q["question"]) for s in ranked[:3])) if kind in TYPED else 0.5,
        dense_gap=dense[0] - dense[1] if len(dense) > 1 else 0.0,
        sentence_score=ranked[0].score / mass if ranked else 0.0,
    )
    return out  # type: ignore[return-value]


def auc(pos: list[float], neg: list[float]) -> float:
    """P(a positive row scores above a negative one), ties half."""
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="answerable questions per language and half (seeded)")
    args = ap.parse_args(argv)
    cfg = PipelineConfig.load("default").with_overrides({"abstention.enabled": False})
    kb = load_knowledge_base(cfg, progress=False)
    qp = QueryPipeline(cfg, kb)
    vocab = gate.CorpusVocabulary(d.content or "" for d in kb.store.documents)
    rows = [q for q in questions() if q["kind"] != "off_topic"]
    if args.limit is not None:
        keep = {q["id"] for lang in ("en", "zh") for half in ("tune", "test") for q in random.Random(SEED).sample(
            [r for r in rows if r["kind"] == "answerable" and r["lang"] == lang and r["split"] == half], args.limit)}
        rows = [q for q in rows if q["kind"] != "answerable" or q["id"] in keep]
    for q in rows:
        q["signals"] = signals(qp, vocab, q)
    names = (*SHIPPED, *CANDIDATES)
    gate.SIGNALS = names  # the candidates may be fit here (the shipped gate knows only its own)
    for lang in ("en", "zh"):
        tune = [q for q in rows if q["split"] == "tune" and q["lang"] == lang]
        un = [q["signals"] for q in tune if q["kind"] == "in_domain"]
        an = [q["signals"] for q in tune if q["kind"] == "answerable"]
        print(f"{lang} tune: {len(un)} in-domain unanswerable, {len(an)} answerable; AUC per signal:")
        print("  " + "  ".join(f"{n} {auc([s[n] for s in un], [s[n] for s in an]):.2f}" for n in names))
        for chosen in (SHIPPED, names, (*SHIPPED, "missing_max_idf", "sentence_coverage", "typed_span")):
            model = gate.GateModel.fit([q["signals"] for q in tune], [q["kind"] != "answerable" for q in tune],
                                       signals=chosen, max_false_abstain=MAX_FALSE_ABSTAIN)
            line = []
            for half in ("tune", "test"):
                group = [q for q in rows if q["split"] == half and q["lang"] == lang]
                hit = {k: [model.logit(q["signals"]) > 0 for q in group if q["kind"] == k]  # type: ignore[operator]
                       for k in ("in_domain", "answerable")}
                line.append(f"{half}: in-domain {sum(hit['in_domain'])}/{len(hit['in_domain'])}, answerable "
                            f"{sum(hit['answerable'])}/{len(hit['answerable'])}")
            print(f"  gate {'+'.join(chosen[len(SHIPPED):]) or 'shipped'}: " + "; ".join(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
