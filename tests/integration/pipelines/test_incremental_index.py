"""Incremental re-index of a small knowledge base (real e5-small embeddings, FAISS and BM25): only the changed
documents are embedded, removed ones leave both indexes, the rest keep their vectors, retrievers built on the
knowledge base before the update see the change, and the updated index is saved next to the original."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from haystack import Document

from workbench.components import BM25Retriever, FaissRetriever
from workbench.components.generators.extractive import passage_sentences
from workbench.components.generators.sentence_vectors import SentenceVectors
from workbench.config import PipelineConfig
from workbench.datasets import load_dataset
from workbench.errors import InputError
from workbench.models import load_embedding_model
from workbench.pipelines import QueryPipeline, load_knowledge_base
from workbench.pipelines.knowledge_base import KnowledgeBase, update_knowledge_base, wants_sentence_vectors
from workbench.stores import FaissDocumentStore

DOCS = ("cards-gold-card-en", "cards-platinum-card-en", "cards-classic-card-en", "cards-lost-stolen-en",
        "cards-limit-decrease-en", "cards-debit-limits-en")
NEW_GOLD = ("The Meridian Gold Credit Card costs RMB 880 per year from 2027. The fee is charged in the month the "
            "card year starts. Gold cardholders earn 1 point per RMB 10 and get 4 free airport lounge visits.")


def small_kb(tmp_path: Path, preset: str = "fast") -> tuple[PipelineConfig, KnowledgeBase]:
    ds = load_dataset("meridian_bank")
    path = tmp_path / "kb.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for d in ds.documents:
            if d.id in DOCS:
                out.write(json.dumps({"id": d.id, "title": d.title, "lang": d.lang, "text": d.text}) + "\n")
    cfg = PipelineConfig.load(preset).with_overrides({"knowledge_base.dataset": None,
                                                      "knowledge_base.paths": [str(path)],
                                                      "index_dir": str(tmp_path / "indexes")})
    return cfg, load_knowledge_base(cfg, progress=False)


def doc_ids(kb: KnowledgeBase) -> set[str]:
    return {d.meta["doc_id"] for d in kb.store.documents}


def test_update_embeds_only_the_changed_documents(tmp_path: Path) -> None:
    cfg, kb = small_kb(tmp_path)
    assert doc_ids(kb) == set(DOCS)
    embedder = load_embedding_model(cfg.embedder.model)
    lost_q = embedder.embed_queries(["what do i do if my card is stolen"])[0]
    before = {d.id: d.score for d in kb.store.search(lost_q, top_k=50)}
    dense, lexical = FaissRetriever(kb.store, top_k=3), BM25Retriever(kb.bm25, top_k=3)  # built before the update
    assert not any("RMB 880" in d.content for d in lexical.run("gold card annual fee")["documents"])

    gold = Document(content=NEW_GOLD, meta={"doc_id": "cards-gold-card-en", "title": "Gold card", "lang": "en"})
    update = update_knowledge_base(kb, cfg, changed=[gold], removed=["cards-platinum-card-en", "never-indexed"])

    assert update.changed == ("cards-gold-card-en",) and update.removed == ("cards-platinum-card-en",)
    assert update.doc_ids == ("cards-gold-card-en", "cards-platinum-card-en") and update.revision == kb.revision == 1
    assert doc_ids(kb) == set(DOCS) - {"cards-platinum-card-en"}
    gold_passages = [d for d in kb.store.documents if d.meta["doc_id"] == "cards-gold-card-en"]
    assert len(gold_passages) == update.passages_added and all("RMB 880" in d.content for d in gold_passages)
    assert gold_passages[0].meta["tenant"] == cfg.knowledge_base.tenant
    assert [d.id for d in kb.bm25.documents] == [d.id for d in kb.store.documents]  # one passage list
    assert not any(d.meta["doc_id"] == "cards-platinum-card-en" for d in kb.bm25.search("platinum card fee", top_k=50))
    after = {d.id: d.score for d in kb.store.search(lost_q, top_k=50) if d.meta["doc_id"] not in update.doc_ids}
    assert len(after) >= 4 and after == pytest.approx({k: before[k] for k in after}, abs=1e-5)  # vectors kept
    new_q = embedder.embed_queries(["gold card costs RMB 880 per year from 2027"])[0]
    assert kb.store.search(new_q, top_k=1)[0].meta["doc_id"] == "cards-gold-card-en"
    found = lexical.run("how much is the gold card annual fee")["documents"] + \
        dense.run(query_embedding=embedder.embed_queries(["how much is the gold card annual fee"])[0])["documents"]
    assert any("RMB 880" in d.content for d in found)
    assert "cards-platinum-card-en" not in {d.meta["doc_id"] for d in found}

    assert kb.path is not None and kb.path.name.endswith(".r1")
    saved = FaissDocumentStore.load(kb.path)
    assert saved.count == kb.store.count
    assert np.allclose(saved.search(new_q, top_k=1)[0].score, kb.store.search(new_q, top_k=1)[0].score)


def test_bad_updates_are_refused(tmp_path: Path) -> None:
    cfg, kb = small_kb(tmp_path)
    with pytest.raises(InputError, match="no text"):
        update_knowledge_base(kb, cfg, changed=[Document(content=" ", meta={"doc_id": "x"})])
    with pytest.raises(InputError, match="both changed and removed"):
        update_knowledge_base(kb, cfg, changed=[Document(content="text", meta={"doc_id": "x"})], removed=["x"])
    assert kb.revision == 0


def test_an_hnsw_index_is_updated_too(tmp_path: Path) -> None:
    cfg, kb = small_kb(tmp_path, "default")
    cfg = cfg.with_overrides({"index.kind": "hnsw"})
    kb = load_knowledge_base(cfg, progress=False)
    update = update_knowledge_base(kb, cfg, removed=["cards-lost-stolen-en"])
    assert update.removed == ("cards-lost-stolen-en",) and update.passages_added == 0
    assert kb.store.kind == "hnsw" and "cards-lost-stolen-en" not in doc_ids(kb)


def test_sentence_vectors_are_saved_reused_and_updated_for_the_changed_documents(tmp_path: Path) -> None:
    cfg, kb = small_kb(tmp_path, "default")  # hybrid + extractive: the answerer's dense signal is wanted
    assert wants_sentence_vectors(cfg) and not wants_sentence_vectors(PipelineConfig.load("fast"))
    assert not wants_sentence_vectors(cfg.with_overrides({"generator.sentence_dense_weight": 0}))
    quality = PipelineConfig.load("quality")  # an LLM whose prompt ranks its sentences with them
    assert wants_sentence_vectors(quality)
    assert not wants_sentence_vectors(quality.with_overrides({"prompt.sentence_dense_weight": 0}))
    assert not wants_sentence_vectors(quality.with_overrides({"prompt.context": "passages"}))
    vectors = kb.sentences
    assert vectors is not None and vectors.model == cfg.embedder.model and vectors.key == kb.version
    assert "sentence_vectors_build_s" in kb.stats and kb.stats["sentence_vectors"] == vectors.sentences > 0
    assert all(len(vectors.vectors(p)) == len(passage_sentences(p)) for p in kb.store.documents)  # type: ignore[arg-type]
    assert vectors.path is not None and vectors.path.parent == kb.path

    again = load_knowledge_base(cfg, progress=False)  # read from the file: nothing embedded
    assert again.sentences is not None and "sentence_vectors_build_s" not in again.stats
    assert "sentence_vectors_load_s" in again.stats and again.sentences.sentences == vectors.sentences
    first = kb.store.documents[0]
    assert np.array_equal(again.sentences.vectors(first), vectors.vectors(first))  # type: ignore[arg-type]

    qp = QueryPipeline(cfg, kb)  # built before the update: holds the same vectors
    kept = {p.id: vectors.vectors(p) for p in kb.store.documents if p.meta["doc_id"] != "cards-gold-card-en"}
    old_gold = [p for p in kb.store.documents if p.meta["doc_id"] == "cards-gold-card-en"]
    gold = Document(content=NEW_GOLD, meta={"doc_id": "cards-gold-card-en", "title": "Gold card", "lang": "en"})
    update_knowledge_base(kb, cfg, changed=[gold], removed=["cards-platinum-card-en"])
    new_gold = [p for p in kb.store.documents if p.meta["doc_id"] == "cards-gold-card-en"]
    assert vectors.stats["sentences"] == len({s for p in new_gold for s in passage_sentences(p)})  # only these
    assert all(vectors.vectors(p) is not None for p in new_gold) and all(vectors.vectors(p) is None for p in old_gold)
    for p in kb.store.documents:
        if p.id in kept:
            assert vectors.vectors(p) is kept[p.id]  # not re-embedded
    assert len(vectors) == kb.store.count
    saved = SentenceVectors.load(kb.path, cfg.embedder.model, key=kb.version)  # type: ignore[arg-type]
    assert saved is not None and saved.path is not None and saved.path.parent.name.endswith(".r1")
    assert saved.sentences == vectors.sentences
    assert qp.run("how much is the gold card annual fee").generator_meta["dense"] is True
    cosine = qp.generator.similarity(qp.retrieval_state("gold card annual fee")["embedding"])  # type: ignore[attr-defined]
    assert cosine is not None and len(cosine(new_gold[0])) == len(passage_sentences(new_gold[0]))  # the new vectors
