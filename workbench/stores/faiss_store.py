"""A FAISS-backed document store: Flat, HNSW or IVF; cosine, inner product or L2; tenant filters; save/load.

Documents are kept without embeddings (the vectors live only in FAISS), so retrieved Documents are
cheap to pass along the query path::

    store = FaissDocumentStore(dim=384, kind="hnsw", metric="cosine")
    store.write(passages, vectors)                       # vectors: (n, 384) float32
    hits = store.search(query_vec, top_k=5, filters={"tenant": "bank-a"})
    store.save("idx/"); store2 = FaissDocumentStore.load("idx/")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
from haystack import Document

from workbench.errors import ConfigError, IndexNotBuiltError

__all__ = ["FaissDocumentStore"]

Kind = Literal["flat", "hnsw", "ivf"]
Metric = Literal["cosine", "ip", "l2"]


class FaissDocumentStore:
    """Documents plus a FAISS index over their vectors, with exact metadata filtering.

    Filters are equality (or membership, with a list value) on metadata fields, e.g.
    ``{"tenant": "bank-a", "lang": ["en", "zh"]}``. They are applied inside FAISS with an ID
    selector, so a filtered search still returns ``top_k`` hits when enough documents match.
    """

    def __init__(self, *, dim: int, kind: Kind = "flat", metric: Metric = "cosine", hnsw_m: int = 32,
                 hnsw_ef_construction: int = 80, hnsw_ef_search: int = 64, ivf_nlist: int = 64,
                 ivf_nprobe: int = 8) -> None:
        if kind not in ("flat", "hnsw", "ivf"):
            raise ConfigError(f"unknown index kind {kind!r}; use flat, hnsw or ivf", field="index.kind")
        if metric not in ("cosine", "ip", "l2"):
            raise ConfigError(f"unknown metric {metric!r}; use cosine, ip or l2", field="index.metric")
        self.dim, self.kind, self.metric = dim, kind, metric
        self.params = {"hnsw_m": hnsw_m, "hnsw_ef_construction": hnsw_ef_construction, "hnsw_ef_search": hnsw_ef_search,
                       "ivf_nlist": ivf_nlist, "ivf_nprobe": ivf_nprobe}
        self.documents: list[Document] = []
        self._index: faiss.Index | None = None
        self._pending: list[np.ndarray] = []
        self._selector_cache: dict[str, faiss.IDSelector] = {}
        self._keep_alive: list[faiss.Index] = []
        self.path: Path | None = None
        """The folder this store was saved to or loaded from (how pipelines serialize a reference to it)."""

    # -- building ---------------------------------------------------------------------------
    def _faiss_metric(self) -> int:
        return faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] != self.dim:
            raise ValueError(f"vectors have dimension {x.shape[1]}, the index expects {self.dim}")
        if self.metric == "cosine":
            x = x.copy()
            faiss.normalize_L2(x)
        return x

    def _new_index(self, n_train: int) -> faiss.Index:
        m = self._faiss_metric()
        if self.kind == "flat":
            return faiss.IndexFlatIP(self.dim) if m == faiss.METRIC_INNER_PRODUCT else faiss.IndexFlatL2(self.dim)
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, self.params["hnsw_m"], m)
            index.hnsw.efConstruction = self.params["hnsw_ef_construction"]
            index.hnsw.efSearch = self.params["hnsw_ef_search"]
            return index
        nlist = max(1, min(self.params["ivf_nlist"], n_train // 39))
        quantizer = faiss.IndexFlatIP(self.dim) if m == faiss.METRIC_INNER_PRODUCT else faiss.IndexFlatL2(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, m)
        index.nprobe = min(self.params["ivf_nprobe"], nlist)
        self._keep_alive.append(quantizer)  # the IVF index points into its quantizer
        return index

    def write(self, documents: list[Document], vectors: np.ndarray) -> int:
        """Add documents and their vectors (row i belongs to document i); returns how many were added.

        Documents are stored without their ``embedding`` field. IVF trains on the first write.
        """
        x = self._prepare(vectors)
        if len(documents) != x.shape[0]:
            raise ValueError(f"{len(documents)} documents but {x.shape[0]} vectors")
        if not documents:
            return 0
        if self._index is None:
            self._index = self._new_index(x.shape[0])
            if not self._index.is_trained:
                self._index.train(x)
        self._index.add(x)
        for d in documents:
            self.documents.append(Document(id=d.id, content=d.content, meta=dict(d.meta)))
        self._selector_cache.clear()
        return len(documents)

    # -- querying ---------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Number of stored documents."""
        return len(self.documents)

    def _selector(self, filters: dict[str, Any]) -> faiss.IDSelector | None:
        key = json.dumps(filters, sort_keys=True, default=str)
        if key not in self._selector_cache:
            wanted = {k: (set(v) if isinstance(v, list | tuple | set) else {v}) for k, v in filters.items()}
            ids = np.fromiter(
                (i for i, d in enumerate(self.documents) if all(d.meta.get(k) in vs for k, vs in wanted.items())),
                dtype=np.int64,
            )
            sel = faiss.IDSelectorBatch(ids) if len(ids) else faiss.IDSelectorRange(0, 0)
            self._selector_cache[key] = sel
        return self._selector_cache[key]

    def search(self, query: np.ndarray, *, top_k: int = 5, filters: dict[str, Any] | None = None) -> list[Document]:
        """The ``top_k`` nearest documents to ``query`` (higher score = closer for every metric)."""
        return self.search_batch(query[None, :] if query.ndim == 1 else query, top_k=top_k, filters=filters)[0]

    def search_batch(self, queries: np.ndarray, *, top_k: int = 5,
                     filters: dict[str, Any] | None = None) -> list[list[Document]]:
        """One result list per query row."""
        if self._index is None or not self.documents:
            raise IndexNotBuiltError("the document store is empty: index the knowledge base first (workbench index CONFIG)")
        x = self._prepare(queries)
        k = min(top_k, self.count)
        params = None
        if filters:
            sel = self._selector(filters)
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.params["hnsw_ef_search"], k))
            elif self.kind == "ivf":
                params = faiss.SearchParametersIVF(sel=sel, nprobe=self._index.nprobe)
            else:
                params = faiss.SearchParameters(sel=sel)
        elif self.kind == "hnsw" and k > self._index.hnsw.efSearch:
            params = faiss.SearchParametersHNSW(efSearch=k)
        scores, ids = self._index.search(x, k, params=params) if params is not None else self._index.search(x, k)
        if self.metric == "l2":
            scores = -scores  # so that higher is better everywhere
        results = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            hits = []
            for s, i in zip(row_scores, row_ids, strict=True):
                if i < 0:
                    continue
                d = self.documents[i]
                hits.append(Document(id=d.id, content=d.content, meta=d.meta, score=float(s)))
            results.append(hits)
        return results

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write ``index.faiss`` and ``documents.jsonl`` (+ ``store.json``) into the folder ``path``."""
        if self._index is None:
            raise IndexNotBuiltError("nothing to save: the store is empty")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(folder / "index.faiss"))
        with (folder / "documents.jsonl").open("w", encoding="utf-8") as out:
            for d in self.documents:
                out.write(json.dumps({"id": d.id, "content": d.content, "meta": d.meta}, ensure_ascii=False) + "\n")
        (folder / "store.json").write_text(json.dumps({"dim": self.dim, "kind": self.kind, "metric": self.metric,
                                                       **self.params}, indent=2))
        self.path = folder

    @classmethod
    def load(cls, path: str | Path) -> FaissDocumentStore:
        """Read a store written by :meth:`save`."""
        folder = Path(path)
        if not (folder / "store.json").is_file():
            raise IndexNotBuiltError(f"no saved document store in {folder}")
        settings = json.loads((folder / "store.json").read_text())
        store = cls(**settings)
        store._index = faiss.read_index(str(folder / "index.faiss"))
        if store.kind == "hnsw":
            store._index.hnsw.efSearch = store.params["hnsw_ef_search"]
        with (folder / "documents.jsonl").open(encoding="utf-8") as handle:
            store.documents = [Document(**json.loads(line)) for line in handle if line.strip()]
        if store._index.ntotal != len(store.documents):
            raise IndexNotBuiltError(f"{folder}: the index has {store._index.ntotal} vectors for {len(store.documents)} "
                                     "documents; rebuild it")
        store.path = folder
        return store
