"""Write embedded passages into the FAISS store and the BM25 index (the end of the indexing pipeline)."""

from __future__ import annotations

import numpy as np
from haystack import Document, component

from workbench.stores.bm25_index import BM25Index
from workbench.stores.faiss_store import FaissDocumentStore

__all__ = ["IndexWriter"]


@component
class IndexWriter:
    """Writes passages with their vectors into a FAISS store and, when given, the same passages into a BM25 index."""

    def __init__(self, store: FaissDocumentStore, bm25: BM25Index | None = None) -> None:
        self.store = store
        self.bm25 = bm25

    @component.output_types(documents_written=int)
    def run(self, documents: list[Document], embeddings: np.ndarray) -> dict[str, int]:
        """Write; returns the number of passages written."""
        written = self.store.write(documents, embeddings)
        if self.bm25 is not None:
            self.bm25.write(self.store.documents)
        return {"documents_written": written}
