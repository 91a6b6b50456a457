"""Document stores: FAISS vectors and a BM25 index over the same passages."""

from workbench.stores.bm25_index import BM25Index
from workbench.stores.faiss_store import FaissDocumentStore

__all__ = ["BM25Index", "FaissDocumentStore"]
