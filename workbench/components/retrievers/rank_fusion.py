"""Hybrid retrieval: weighted reciprocal rank fusion of dense and BM25 results."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

__all__ = ["RankFusion", "reciprocal_rank_fusion"]


def reciprocal_rank_fusion(ranked_lists: dict[str, list[Document]], *, weights: dict[str, float] | None = None,
                           k: int = 60, top_k: int | None = None) -> list[Document]:
    """Fuse ranked lists: ``score(d) = sum_i weight_i / (k + rank_i(d))`` with ranks from 1.

    Ties keep the order of first appearance (dense before BM25 when listed first). A document's
    fused score replaces its retriever score; ``meta["ranks"]`` records where each list ranked it.
    """
    weights = weights or {}
    fused: dict[str, float] = {}
    first: dict[str, Document] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, docs in ranked_lists.items():
        w = weights.get(name, 1.0)
        seen: set[str] = set()
        for rank, doc in enumerate(docs, start=1):
            if doc.id in seen:  # a duplicate in one list counts once, at its best rank
                continue
            seen.add(doc.id)
            fused[doc.id] = fused.get(doc.id, 0.0) + w / (k + rank)
            first.setdefault(doc.id, doc)
            ranks.setdefault(doc.id, {})[name] = rank
    order = sorted(fused, key=lambda i: -fused[i])  # stable: first appearance breaks ties
    out = [Document(id=i, content=first[i].content, meta={**first[i].meta, "ranks": ranks[i]}, score=fused[i])
           for i in order]
    return out[:top_k] if top_k is not None else out


@component
class RankFusion:
    """Joins dense and BM25 result lists by weighted reciprocal rank fusion.

    ```python
    fused = RankFusion(weights={"dense": 1.0, "bm25": 0.7}).run(dense=d, bm25=b)["documents"]
    ```
    """

    def __init__(self, *, weights: dict[str, float] | None = None, k: int = 60, top_k: int = 5) -> None:
        if k < 1 or top_k < 1:
            raise ValueError("k and top_k must be >= 1")
        self.weights = dict(weights or {"dense": 1.0, "bm25": 1.0})
        self.k = k
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(self, dense: list[Document], bm25: list[Document], top_k: int | None = None) -> dict[str, list[Document]]:
        """Fuse the two lists."""
        return {"documents": reciprocal_rank_fusion({"dense": dense, "bm25": bm25}, weights=self.weights, k=self.k,
                                                    top_k=top_k or self.top_k)}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, weights=self.weights, k=self.k, top_k=self.top_k)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RankFusion:
        return default_from_dict(cls, data)
