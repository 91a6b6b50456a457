"""Per-document invalidation with a real incremental re-index: answers are built from real retrieval over a
small knowledge base (BM25; their ``sources`` as the pipeline's answer payload has them), the cache stores
them, a document changes and one is removed, and exactly the answers that cited them go; the others are
still served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from haystack import Document

from workbench.cache import CacheStack
from workbench.cache.testing import HashingEmbedder
from workbench.components import BM25Retriever
from workbench.config import PipelineConfig
from workbench.datasets import load_dataset
from workbench.pipelines import load_knowledge_base
from workbench.pipelines.knowledge_base import KnowledgeBase, update_knowledge_base

KEEP = ["cards-gold-card-en", "cards-platinum-card-en", "cards-lost-stolen-en", "cards-debit-limits-en"]
QUESTIONS = ["gold card annual fee", "platinum card annual fee", "i lost my card what do i do",
             "debit card daily atm limit"]


def answer(kb: KnowledgeBase, question: str) -> dict[str, Any]:
    """The payload shape of ``RAGAnswer.to_dict()``: an answer and its ``sources`` (document ids)."""
    docs = BM25Retriever(kb.bm25, top_k=1).run(question)["documents"]
    return {"question": question, "answer": docs[0].content[:80] if docs else "",
            "sources": [{"id": d.meta["doc_id"], "passage_id": d.id, "title": d.meta.get("title", ""),
                         "text": d.content, "score": d.score} for d in docs]}


def test_a_re_index_invalidates_exactly_the_citing_answers(tmp_path: Path) -> None:
    docs = {d.id: d for d in load_dataset("meridian_bank").documents}
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": i, "title": docs[i].title, "lang": "en", "text": docs[i].text}) + "\n"
                              for i in KEEP), encoding="utf-8")
    cfg = PipelineConfig.load("fast").with_overrides({
        "knowledge_base.dataset": None, "knowledge_base.paths": [str(source)], "index_dir": str(tmp_path / "ix"),
        "retriever.top_k": 1, "cache.enabled": True, "cache.semantic.enabled": False})
    kb = load_knowledge_base(cfg, progress=False)
    stack = CacheStack.from_config(cfg, kb_version=kb.version, embedder=HashingEmbedder())
    cited = {}
    for q in QUESTIONS:
        payload = answer(kb, q)
        stack.store("default", q, payload)
        cited[q] = {s["id"] for s in payload["sources"]}
    assert cited["gold card annual fee"] == {"cards-gold-card-en"}
    assert cited["platinum card annual fee"] == {"cards-platinum-card-en"}

    gold = Document(content=docs["cards-gold-card-en"].text.replace("600", "880"),
                    meta={"doc_id": "cards-gold-card-en", "title": docs["cards-gold-card-en"].title, "lang": "en"})
    update = update_knowledge_base(kb, cfg, changed=[gold], removed=["cards-platinum-card-en"])
    done = stack.invalidate_documents(update.doc_ids)

    stale = {q for q, ids in cited.items() if ids & set(update.doc_ids)}
    assert stale == {"gold card annual fee", "platinum card annual fee"}
    assert done.complete and done.removed["exact"] == len(stale)
    for q in QUESTIONS:
        assert (stack.lookup("default", q) is None) == (q in stale), q
    fresh = answer(kb, "gold card annual fee")  # the miss is answered from the updated index
    assert any("880" in s["text"] for s in fresh["sources"])
    stack.store("default", "gold card annual fee", fresh)
    assert "880" in stack.lookup("default", "gold card annual fee").payload["sources"][0]["text"]
