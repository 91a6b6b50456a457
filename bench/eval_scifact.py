"""SciFact (BEIR, test split, 300 queries): BM25 and MiniLM nDCG@10 next to their published values.

    .venv/bin/python bench/eval_scifact.py [--data ../shared/data/scifact] [--threads 1] [--skip-dense]

Indexes the 5,183 abstracts (title + " " + text) with workbench.stores: BM25Index (tokenizer "auto":
lower-cased words, English stopwords dropped; and "whitespace": lower-cased whitespace split, punctuation
kept) and FaissDocumentStore (flat, cosine) over all-MiniLM-L6-v2 embeddings. Scores every query with
workbench.evaluation's trec_eval measures at depth 100 and writes bench/results/scifact.json.
The corpus embeddings are cached in .workbench/bench/ (they take minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

import workbench
import workbench.text
from workbench.datasets import load_beir
from workbench.evaluation.metrics import average_precision, retrieval_scores

ROOT = Path(__file__).resolve().parent.parent
KS = (1, 3, 5, 10, 100)
PUBLISHED = {
    "BM25": {"ndcg@10": 0.665, "source": "BEIR paper Table 2 (Elasticsearch, title+body multifield)"},
    "BM25 (Anserini flat)": {"ndcg@10": 0.6789, "recall@100": 0.9253, "source": "Anserini BEIR regression, flat"},
    "BM25 (Anserini multifield)": {"ndcg@10": 0.6647, "recall@100": 0.9076, "source": "Anserini, multifield"},
    "all-MiniLM-L6-v2": {"ndcg@10": 0.64508, "ndcg@1": 0.50333, "map@10": 0.59593, "recall@10": 0.78333,
                         "recall@100": 0.925, "source": "MTEB (mtebpaper results, mteb 0.0.2)"},
}


def mean_scores(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    per_query = [{**retrieval_scores(rankings.get(qid, []), rels, KS),
                  "map@10": average_precision(rankings.get(qid, []), rels, 10)} for qid, rels in qrels.items()]
    keys = per_query[0].keys()
    return {k: float(np.mean([s[k] for s in per_query])) for k in keys}


def run_bm25(ds, tokenizer: str) -> tuple[dict[str, list[str]], float]:
    from haystack import Document

    from workbench.stores import BM25Index

    docs = [Document(id=d.id, content=f"{d.title} {d.text}", meta={"doc_id": d.id}) for d in ds.documents]
    index = BM25Index(tokenizer=tokenizer)  # k1 1.5, b 0.75 (bm25s "lucene" variant)
    t0 = time.perf_counter_ns()
    index.write(docs)
    rankings = {q.id: [h.meta["doc_id"] for h in index.search(q.question, top_k=100)] for q in ds.questions}
    return rankings, (time.perf_counter_ns() - t0) / 1e9


def run_minilm(ds, threads: int) -> tuple[dict[str, list[str]], float]:
    from haystack import Document

    from workbench.models import load_embedding_model
    from workbench.stores import FaissDocumentStore

    model = load_embedding_model("minilm", threads=threads, batch_size=32)
    texts = [f"{d.title} {d.text}" for d in ds.documents]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = ROOT / ".workbench" / "bench" / f"scifact-minilm-{digest}.npy"
    t0 = time.perf_counter_ns()
    if cache.is_file():
        vectors = np.load(cache)
    else:
        vectors = model.embed_passages(texts)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    embed_s = (time.perf_counter_ns() - t0) / 1e9
    store = FaissDocumentStore(dim=model.dim, kind="flat", metric="cosine")
    store.write([Document(id=d.id, content="", meta={"doc_id": d.id}) for d in ds.documents], vectors)
    qvecs = model.embed_queries([q.question for q in ds.questions])
    hits = store.search_batch(qvecs, top_k=100)
    rankings = {q.id: [h.meta["doc_id"] for h in row] for q, row in zip(ds.questions, hits, strict=True)}
    return rankings, embed_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads for MiniLM (the machine is shared)")
    parser.add_argument("--skip-dense", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scifact.json"))
    args = parser.parse_args(argv)
    if not Path(args.data, "corpus.jsonl").is_file():
        print(f"SciFact not found under {args.data}; nothing to do")
        return 1
    ds = load_beir(args.data, split="test")
    qrels = ds.qrels
    runs: dict[str, dict] = {}
    for tok in ("auto", "whitespace"):
        rankings, seconds = run_bm25(ds, tok)
        runs[f"BM25 ({tok})"] = {**mean_scores(rankings, qrels), "seconds": round(seconds, 1)}
        print(f"BM25 {tok}: done in {seconds:.1f} s", file=sys.stderr)
    if not args.skip_dense:
        rankings, seconds = run_minilm(ds, args.threads)
        runs["all-MiniLM-L6-v2 (flat cosine)"] = {**mean_scores(rankings, qrels), "embed_seconds": round(seconds, 1)}
    cols = ("ndcg@10", "ndcg@1", "recall@10", "recall@100", "map@10", "mrr", "hit@1")
    print(f"\nSciFact test: {len(ds.questions)} queries, {len(ds.documents)} documents\n")
    print(f"| run | {' | '.join(cols)} |")
    print("|---|" + "---|" * len(cols))
    for name, s in runs.items():
        print(f"| {name} | " + " | ".join(f"{s[c]:.4f}" for c in cols) + " |")
    for name, s in PUBLISHED.items():
        print(f"| published: {name} | " + " | ".join(f"{s[c]:.4f}" if c in s else "" for c in cols) + " |")
    out = {"dataset": {"name": "scifact", "split": "test", "queries": len(ds.questions), "documents": len(ds.documents),
                       "hash": ds.hash},
           "depth": 100, "measured": runs, "published": PUBLISHED,
           "tokenizer_source_sha256": hashlib.sha256(Path(workbench.text.__file__).read_bytes()).hexdigest()[:16],
           "notes": "map@10 is trec_eval map_cut_10 (MTEB MAP@10); map@100 is map_cut_100; mrr is uncut recip_rank."}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
