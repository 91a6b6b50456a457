"""Lexical retrieval from a :class:`~workbench.stores.BM25Index`."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from workbench.errors import ConfigError
from workbench.stores.bm25_index import BM25Index

__all__ = ["BM25Retriever"]


@component
class BM25Retriever:
    """The ``top_k`` passages by BM25 score for the query text (Chinese segmented, see :mod:`workbench.text`).

    ```python
    docs = BM25Retriever(bm25, top_k=5).run(query="gold card annual fee")["documents"]
    ```
    """

    def __init__(self, index: BM25Index, *, top_k: int = 5) -> None:
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        self.index = index
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(self, query: str, top_k: int | None = None,
            filters: dict[str, Any] | None = None) -> dict[str, list[Document]]:
        """Search the index; passages that share no term with the query are not returned."""
        return {"documents": self.index.search(query, top_k=top_k or self.top_k, filters=filters)}

    def to_dict(self) -> dict[str, Any]:
        """Serialize with a reference to the saved index folder (a store only in memory cannot be serialized)."""
        if self.index.path is None:
            raise ConfigError("this index was never saved; save it (or build it with load_knowledge_base) before "
                              "serializing the pipeline")
        return default_to_dict(self, index=str(self.index.path), top_k=self.top_k)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BM25Retriever:
        """Load the referenced index folder."""
        params = data["init_parameters"]
        params["index"] = BM25Index.load(params["index"])
        return default_from_dict(cls, data)
