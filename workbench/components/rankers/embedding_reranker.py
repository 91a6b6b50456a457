"""Offline reranking: rescore candidates with a second embedding model and blend with the first-stage rank.

No cross-encoder ships in any registry package (ENVIRONMENT.md), so the default reranker that works
here rescores with another embedder; :class:`CrossEncoderReranker` takes a user's local cross-encoder.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict

from workbench.components.retrievers.rank_fusion import reciprocal_rank_fusion
from workbench.components.worker import BlockingRanker, ComponentWorker
from workbench.models import EmbeddingModel, load_embedding_model

__all__ = ["EmbeddingReranker"]


@component
class EmbeddingReranker(BlockingRanker):
    """Reorders passages by cosine similarity under ``model``, fused with their incoming order.

    ``blend`` weighs the new ordering against the first-stage one (reciprocal rank fusion, k=10);
    1.0 uses the new similarity alone. Passage vectors are cached by passage id (bounded), so a warm
    service embeds only the query.

    ```python
    top = EmbeddingReranker("minilm", top_k=3).run(query="gold card fee", documents=candidates)["documents"]
    ```
    """

    def __init__(self, model: str = "minilm", *, top_k: int = 3, blend: float = 0.5, threads: int | None = 1,
                 cache_size: int = 20_000) -> None:
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        if not 0.0 <= blend <= 1.0:
            raise ValueError("blend must be within [0, 1]")
        self.model, self.top_k, self.blend, self.threads, self.cache_size = model, top_k, blend, threads, cache_size
        self._embedder: EmbeddingModel | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.worker = ComponentWorker("rerank")
        """The thread ``run_async`` computes on (one call at a time: the vector cache is not shared)."""

    def warm_up(self) -> None:
        """Load the model (once)."""
        if self._embedder is None:
            self._embedder = load_embedding_model(self.model, threads=self.threads)

    def _passage_vectors(self, documents: list[Document]) -> np.ndarray:
        assert self._embedder is not None
        missing = [d for d in documents if d.id not in self._cache]
        if missing:
            vecs = self._embedder.embed_passages([d.content or "" for d in missing])
            for d, v in zip(missing, vecs, strict=True):
                self._cache[d.id] = v
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return np.vstack([self._cache[d.id] for d in documents])

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document], top_k: int | None = None) -> dict[str, list[Document]]:
        """Rerank ``documents`` for ``query``.

        :param query: the question.
        :param documents: the first-stage candidates, best first.
        :param top_k: how many to keep (default: the component's ``top_k``).
        :returns: ``{"documents": the best top_k, scored}``.
        :raises ModelNotFoundError: the model is not installed.
        """
        if not documents:
            return {"documents": []}
        self.warm_up()
        assert self._embedder is not None
        q = self._embedder.embed_queries([query])[0]
        sims = self._passage_vectors(documents) @ q
        order = np.argsort(-sims, kind="stable")
        by_sim = [Document(id=documents[i].id, content=documents[i].content, meta=documents[i].meta,
                           score=float(sims[i])) for i in order]
        k = top_k or self.top_k
        if self.blend >= 1.0:
            return {"documents": by_sim[:k]}
        fused = reciprocal_rank_fusion({"rerank": by_sim, "first": documents},
                                       weights={"rerank": self.blend, "first": 1.0 - self.blend}, k=10, top_k=k)
        return {"documents": fused}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, model=self.model, top_k=self.top_k, blend=self.blend, threads=self.threads,
                               cache_size=self.cache_size)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingReranker:
        return default_from_dict(cls, data)
