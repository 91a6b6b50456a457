"""Checks on the real SciFact and CMRC 2018 files in ../shared/data (skipped when the folder is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.datasets import load_beir, load_squad
from workbench.evaluation.metrics import cmrc_em, cmrc_f1, retrieval_scores

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (SHARED / "scifact" / "corpus.jsonl").is_file(),
                                reason="../shared/data is not present")


def test_scifact_loads_and_bm25_subset_is_in_the_published_range() -> None:
    from haystack import Document

    from workbench.stores import BM25Index

    ds = load_beir(SHARED / "scifact", split="test")
    assert len(ds.documents) == 5183 and len(ds.questions) == 300
    assert sum(len(q.qrels) for q in ds.questions) == 339
    index = BM25Index(tokenizer="auto")
    index.write([Document(id=d.id, content=f"{d.title} {d.text}", meta={"doc_id": d.id}) for d in ds.documents])
    subset = ds.sample(60, seed=0).questions
    ndcg = [retrieval_scores([h.meta["doc_id"] for h in index.search(q.question, top_k=10)], q.qrels, ks=(10,))
            ["ndcg@10"] for q in subset]
    assert 0.5 < float(np.mean(ndcg)) < 0.85          # published BM25: 0.665 over all 300 queries


def test_cmrc_gold_scores_itself_and_not_a_shifted_set() -> None:
    ds = load_squad(SHARED / "cmrc2018" / "cmrc2018_dev.json")
    assert len(ds.questions) == 3219 and all(len(q.answers) == 3 for q in ds.questions)
    qs = ds.questions[:300]
    assert np.mean([cmrc_em(q.answers[0], q.answers) for q in qs]) == 1.0
    assert np.mean([cmrc_f1(q.answers[0], q.answers) for q in qs]) == 1.0
    shifted = [cmrc_f1(qs[(i + 1) % len(qs)].answers[0], q.answers) for i, q in enumerate(qs)]
    assert np.mean(shifted) < 0.1
