"""Dense retrieval from a :class:`~workbench.stores.FaissDocumentStore`."""

from __future__ import annotations

from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict

from workbench.errors import ConfigError
from workbench.stores.faiss_store import FaissDocumentStore

__all__ = ["FaissRetriever"]


@component
class FaissRetriever:
    """The ``top_k`` passages nearest to a query embedding, optionally filtered by metadata (e.g. tenant).

    ```python
    docs = FaissRetriever(store, top_k=5).run(query_embedding=vec, filters={"tenant": "default"})["documents"]
    ```
    """

    def __init__(self, store: FaissDocumentStore, *, top_k: int = 5) -> None:
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        self.store = store
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(self, query_embedding: np.ndarray, top_k: int | None = None,
            filters: dict[str, Any] | None = None) -> dict[str, list[Document]]:
        """Search the store; scores are similarities (higher is closer)."""
        return {"documents": self.store.search(query_embedding, top_k=top_k or self.top_k, filters=filters)}

    def to_dict(self) -> dict[str, Any]:
        """Serialize with a reference to the saved store folder (a store only in memory cannot be serialized)."""
        if self.store.path is None:
            raise ConfigError("this store was never saved; save it (or build it with load_knowledge_base) before "
                              "serializing the pipeline")
        return default_to_dict(self, store=str(self.store.path), top_k=self.top_k)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaissRetriever:
        """Load the referenced store folder."""
        params = data["init_parameters"]
        params["store"] = FaissDocumentStore.load(params["store"])
        return default_from_dict(cls, data)
