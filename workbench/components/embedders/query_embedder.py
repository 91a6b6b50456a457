"""Embed one query (or a batch of queries) for dense retrieval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from haystack import component, default_from_dict, default_to_dict

from workbench.components.worker import ComponentWorker
from workbench.models import EmbeddingModel, load_embedding_model

__all__ = ["QueryEmbedder"]


@component
class QueryEmbedder:
    """Embeds a query with the query role of the model (e5's ``query:`` prefix); outputs a 1-D float32 array.

    ``run_async`` computes on the component's worker thread (:class:`ComponentWorker`), which is also the
    executor a serving micro-batcher of this embedder should use (:attr:`worker`).

    ```python
    vec = QueryEmbedder("e5-small").run(text="金卡年费多少")["embedding"]   # shape (384,)
    ```
    """

    def __init__(self, model: str = "e5-small", *, threads: int | None = 1) -> None:
        """:param model: a bundled embedding model name (``e5-small``, ``minilm``, ...).
        :param threads: compute threads of the model (``None``: the library default)."""
        self.model = model
        self.threads = threads
        self._embedder: EmbeddingModel | None = None
        self.worker = ComponentWorker("embed")
        """The thread ``run_async`` and a micro-batcher of this embedder compute on."""

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
        """The query's embedding.

        :param text: the query.
        :returns: ``{"embedding": array of shape (dim,)}``.
        :raises ModelNotFoundError: the model is not installed.
        """
        return {"embedding": self.embedder.embed_queries([text])[0]}

    @component.output_types(embedding=np.ndarray)
    async def run_async(self, text: str) -> dict[str, np.ndarray]:
        """:meth:`run` on the worker thread (the event loop never blocks on the model)."""
        return await self.worker.call(self.run, text=text)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Several queries in one model call, shape ``(n, dim)`` (used by the serving micro-batcher)."""
        return self.embedder.embed_queries(list(texts))

    def close(self) -> None:
        """Stop the worker thread (the model stays loaded)."""
        self.worker.close()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, model=self.model, threads=self.threads)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueryEmbedder:
        return default_from_dict(cls, data)
