"""A BM25 index (bm25s) over the same passages as the vector store, language-aware tokenization, save/load."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from haystack import Document

from workbench.errors import IndexNotBuiltError
from workbench.text import Tokenizer, tokenize

__all__ = ["BM25Index"]

logging.getLogger("bm25s").setLevel(logging.WARNING)


class BM25Index:
    """Okapi BM25 over passages; Chinese runs are segmented (jieba or bigrams) before scoring.

    ```python
    bm25 = BM25Index(tokenizer="auto"); bm25.write(passages)
    bm25.search("金卡年费", top_k=5, filters={"tenant": "default"})
    ```
    """

    def __init__(self, *, tokenizer: Tokenizer = "auto", k1: float = 1.5, b: float = 0.75) -> None:
        self.tokenizer: Tokenizer = tokenizer
        self.k1, self.b = k1, b
        self.documents: list[Document] = []
        self._bm25: bm25s.BM25 | None = None
        self._masks: dict[str, np.ndarray] = {}
        self.path: Path | None = None
        """The folder this index was saved to or loaded from."""

    def write(self, documents: list[Document]) -> int:
        """Index ``documents`` (replaces any previous content: BM25 statistics are corpus-wide)."""
        self.documents = [Document(id=d.id, content=d.content, meta=dict(d.meta)) for d in documents]
        corpus = [tokenize(d.content or "", self.tokenizer) or [""] for d in self.documents]
        self._bm25 = bm25s.BM25(k1=self.k1, b=self.b)
        self._bm25.index(corpus, show_progress=False)
        self._masks.clear()
        return len(documents)

    def _mask(self, filters: dict[str, Any]) -> np.ndarray:
        key = json.dumps(filters, sort_keys=True, default=str)
        if key not in self._masks:
            wanted = {k: (set(v) if isinstance(v, list | tuple | set) else {v}) for k, v in filters.items()}
            self._masks[key] = np.array(
                [all(d.meta.get(k) in vs for k, vs in wanted.items()) for d in self.documents], dtype=np.float32
            )
        return self._masks[key]

    def search(self, query: str, *, top_k: int = 5, filters: dict[str, Any] | None = None) -> list[Document]:
        """The ``top_k`` best-scoring passages with a positive score."""
        if self._bm25 is None:
            raise IndexNotBuiltError("the BM25 index is empty: index the knowledge base first")
        tokens = [t for t in tokenize(query, self.tokenizer) if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens, weight_mask=self._mask(filters) if filters else None)
        k = min(top_k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            Document(id=self.documents[i].id, content=self.documents[i].content, meta=self.documents[i].meta,
                     score=float(scores[i]))
            for i in top
            if scores[i] > 0
        ]

    def save(self, path: str | Path) -> None:
        """Write the index into the folder ``path``."""
        if self._bm25 is None:
            raise IndexNotBuiltError("nothing to save: the BM25 index is empty")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder / "bm25"))
        (folder / "bm25.json").write_text(json.dumps({"tokenizer": self.tokenizer, "k1": self.k1, "b": self.b}))
        with (folder / "bm25_documents.jsonl").open("w", encoding="utf-8") as out:
            for d in self.documents:
                out.write(json.dumps({"id": d.id, "content": d.content, "meta": d.meta}, ensure_ascii=False) + "\n")
        self.path = folder

    @classmethod
    def load(cls, path: str | Path) -> BM25Index:
        """Read an index written by :meth:`save`."""
        folder = Path(path)
        if not (folder / "bm25.json").is_file():
            raise IndexNotBuiltError(f"no saved BM25 index in {folder}")
        index = cls(**json.loads((folder / "bm25.json").read_text()))
        index._bm25 = bm25s.BM25.load(str(folder / "bm25"))
        with (folder / "bm25_documents.jsonl").open(encoding="utf-8") as handle:
            index.documents = [Document(**json.loads(line)) for line in handle if line.strip()]
        index.path = folder
        return index
