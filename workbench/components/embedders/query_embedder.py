"""Embed one query (or a batch of queries) for dense retrieval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from haystack import component, default_from_dict, default_to_dict

from workbench.models import EmbeddingModel, load_embedding_model

__all__ = ["QueryEmbedder"]


@component
class QueryEmbedder:
    """Embeds a query with the query role of the model (e5's ``query:`` prefix); outputs a 1-D float32 array.

    ```python
    vec = QueryEmbedder("e5-small").run(text="金卡年费多少")["embedding"]   # shape (384,)
    ```
    """

    def __init__(self, model: str = "e5-small", *, threads: int | None = 1) -> None:
        self.model = model
        self.threads = threads
        self._embedder: EmbeddingModel | None = None

    def warm_up(self) -> None:
        """Load the model (once; shared with a DocumentEmbedder of the same model)."""
        if self._embedder is None:
            self._embedder = load_embedding_model(self.model, threads=self.threads)

    @property
    def embedder(self) -> EmbeddingModel:
        self.warm_up()
        assert self._embedder is not None
        return self._embedder

    @component.output_types(embedding=np.ndarray)
    def run(self, text: str) -> dict[str, np.ndarray]:
        """The query's embedding, shape ``(dim,)``."""
        return {"embedding": self.embedder.embed_queries([text])[0]}

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Several queries in one model call, shape ``(n, dim)`` (used by the serving micro-batcher)."""
        return self.embedder.embed_queries(list(texts))

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, model=self.model, threads=self.threads)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueryEmbedder:
        return default_from_dict(cls, data)
