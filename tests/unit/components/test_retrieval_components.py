import numpy as np
from haystack import Document

from workbench.components import BM25Retriever, EmbeddingReranker, FaissRetriever, RankFusion
from workbench.components.retrievers.rank_fusion import reciprocal_rank_fusion
from workbench.stores import BM25Index, FaissDocumentStore


def _docs(ids: list[str]) -> list[Document]:
    return [Document(id=i, content=i) for i in ids]


def test_rrf_hand_computed() -> None:
    fused = reciprocal_rank_fusion({"dense": _docs(["a", "b", "c"]), "bm25": _docs(["c", "a", "d"])}, k=60)
    scores = {d.id: d.score for d in fused}
    assert np.isclose(scores["a"], 1 / 61 + 1 / 62)
    assert np.isclose(scores["c"], 1 / 63 + 1 / 61)
    assert np.isclose(scores["d"], 1 / 63)
    assert [d.id for d in fused] == ["a", "c", "b", "d"]
    assert fused[0].meta["ranks"] == {"dense": 1, "bm25": 2}


def test_rrf_weights_ties_duplicates_and_empty() -> None:
    # equal fused scores keep first appearance order
    tie = reciprocal_rank_fusion({"dense": _docs(["a", "b"]), "bm25": _docs(["b", "a"])})
    assert [d.id for d in tie] == ["a", "b"]
    # a duplicate within one list counts once, at its best rank
    dup = reciprocal_rank_fusion({"dense": _docs(["a", "a", "b"])}, k=1)
    assert np.isclose({d.id: d.score for d in dup}["b"], 1 / 4)
    # weights shift the order
    w = reciprocal_rank_fusion({"dense": _docs(["a"]), "bm25": _docs(["b"])}, weights={"dense": 0.5, "bm25": 1.0})
    assert [d.id for d in w] == ["b", "a"]
    assert reciprocal_rank_fusion({"dense": [], "bm25": []}) == []
    assert RankFusion(top_k=1).run(dense=_docs(["a"]), bm25=_docs(["b"]))["documents"][0].id == "a"


def test_retriever_components_over_stores() -> None:
    docs = [Document(id=f"d{i}", content=t, meta={"tenant": "t"}) for i, t in
            enumerate(["gold card annual fee", "platinum lounge access", "金卡年费600元"])]
    vecs = np.eye(3, 8, dtype=np.float32)
    store = FaissDocumentStore(dim=8)
    store.write(docs, vecs)
    bm25 = BM25Index()
    bm25.write(docs)
    dense = FaissRetriever(store, top_k=2).run(query_embedding=vecs[1])["documents"]
    assert dense[0].id == "d1" and len(dense) == 2
    lex = BM25Retriever(bm25, top_k=5).run(query="金卡 年费")["documents"]
    assert [d.id for d in lex] == ["d2"]
    assert BM25Retriever(bm25).run(query="zzz unknown")["documents"] == []


def test_embedding_reranker_moves_the_relevant_passage_up() -> None:
    cands = [Document(id="x", content="ATM withdrawals abroad cost RMB 12 each."),
             Document(id="y", content="Opening hours of branches on weekends."),
             Document(id="g", content="The Gold Card annual fee is RMB 600 per year.")]
    out = EmbeddingReranker("minilm", top_k=2, blend=1.0).run(query="gold card yearly fee", documents=cands)["documents"]
    assert out[0].id == "g" and len(out) == 2
    blended = EmbeddingReranker("minilm", top_k=3, blend=0.5).run(query="gold card yearly fee", documents=cands)
    assert {d.id for d in blended["documents"]} == {"x", "y", "g"}
    assert EmbeddingReranker("minilm").run(query="q", documents=[])["documents"] == []
