"""The vectors of every candidate sentence of a knowledge base, for the extractive answerer's dense signal.

The answerer (:mod:`~workbench.components.generators.extractive`) weighs each candidate sentence's cosine
with the question. Embedding the sentences of the retrieved passages per request would cost a model call per
request, so they are embedded once, in batches, when the knowledge base is built (the same split as the
answerer: :func:`~workbench.components.generators.extractive.passage_sentences`) and saved next to the index.

Rows are found by the passage's *content* (a digest of its title and text), not its id: an edited document
keeps its passage ids, and a stale vector must never be read for new text. ::

    vectors = SentenceVectors.build(kb.store.documents, "e5-small", key=kb.version)
    vectors.save(kb.path)                      # sentence-vectors-<key>.npz beside the index
    SentenceVectors.load(kb.path, "e5-small", key=kb.version)   # the same, without a model call
    vectors.vectors(passage)                   # (sentences, dim) float32, or None
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from haystack import Document

from workbench.components.generators.extractive import SENTENCE_SPLIT_VERSION, passage_sentences
from workbench.models import EmbeddingModel, load_embedding_model

__all__ = ["SENTENCE_BATCH", "SentenceVectors", "passage_digest"]

#: Sentences per model call: short texts embed faster in big batches (multilingual-e5-small, 240 sentences of
#: the bank: 12.1 s in one call, 17.3 s in calls of 32, 21.3 s in calls of 8; 2 shared cores, load 2.5-3.5).
SENTENCE_BATCH = 256


def passage_digest(doc: Document) -> str:
    """The key of a passage's sentence vectors: a digest of what its sentences are split from (title, text)."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(str(doc.meta.get("title") or "").encode())
    digest.update(b"\x00")
    digest.update((doc.content or "").encode())
    return digest.hexdigest()


class SentenceVectors:
    """L2-normalised passage-role vectors of the sentences of many passages, by passage content.

    :param model: the embedding model's name (a loaded model's ``name``); it is part of the saved file's key.
    :param key: what else the vectors depend on, e.g. the knowledge base's version; part of the file's key.
    """

    def __init__(self, model: str, *, key: str = "", dim: int = 0) -> None:
        self.model = model
        self.key = key
        self.dim = dim
        self.path: Path | None = None
        """The file they were saved to or loaded from (``None``: in memory only)."""
        self.stats: dict[str, Any] = {}
        """``sentences``/``seconds`` of the last :meth:`add`, ``load_s`` after :meth:`load`."""
        self._rows: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        """Passages held."""
        return len(self._rows)

    @property
    def sentences(self) -> int:
        """Sentence vectors held."""
        return sum(len(r) for r in self._rows.values())

    def vectors(self, doc: Document) -> np.ndarray | None:
        """The vectors of ``passage_sentences(doc)`` (one row each), or ``None`` when the passage is not held.

        :param doc: a passage (its title and text are looked up, not its id).
        :returns: a read-only ``(sentences, dim)`` float32 array, or ``None``.
        """
        return self._rows.get(passage_digest(doc))

    def add(self, documents: Iterable[Document], embedder: EmbeddingModel | str, *, threads: int | None = 1,
            batch_size: int = SENTENCE_BATCH) -> int:
        """Embed the sentences of the passages not held yet (all of them in batches of ``batch_size``).

        :param documents: passages (duplicates and passages already held are skipped).
        :param embedder: the model (or its bundled name) that embeds the questions the vectors are compared to.
        :param threads: the model's threads when ``embedder`` is a name.
        :param batch_size: sentences per model call.
        :returns: how many sentences were embedded (each distinct text once).
        :raises ValueError: ``embedder`` is another model than :attr:`model`.
        """
        model = load_embedding_model(embedder, threads=threads) if isinstance(embedder, str) else embedder
        if model.name != self.model:
            raise ValueError(f"sentence vectors of {self.model!r} cannot take vectors of {model.name!r}")
        t0 = time.perf_counter()
        todo: dict[str, list[str]] = {}
        for doc in documents:
            digest = passage_digest(doc)
            if digest not in self._rows and digest not in todo:
                todo[digest] = passage_sentences(doc)
        texts = list(dict.fromkeys(s for sentences in todo.values() for s in sentences))  # once each
        parts = [model.embed_passages(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
        self.dim = self.dim or int(model.dim)
        matrix = np.vstack(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)
        row = {text: i for i, text in enumerate(texts)}
        for digest, sentences in todo.items():
            self._rows[digest] = _frozen(matrix[[row[s] for s in sentences]].reshape(len(sentences), self.dim))
        self.stats.update(sentences=len(texts), seconds=round(time.perf_counter() - t0, 3))
        return len(texts)

    def retain(self, documents: Iterable[Document]) -> int:
        """Drop the passages that are not among ``documents`` (after an index update); returns how many."""
        keep = {passage_digest(d) for d in documents}
        gone = [d for d in self._rows if d not in keep]
        for digest in gone:
            del self._rows[digest]
        return len(gone)

    @classmethod
    def build(cls, documents: Iterable[Document], embedder: EmbeddingModel | str, *, key: str = "",
              threads: int | None = 1, batch_size: int = SENTENCE_BATCH) -> SentenceVectors:
        """The vectors of every sentence of ``documents`` (see :meth:`add`)."""
        model = load_embedding_model(embedder, threads=threads) if isinstance(embedder, str) else embedder
        out = cls(model.name, key=key, dim=int(model.dim))
        out.add(documents, model, batch_size=batch_size)
        return out

    # -- persistence ------------------------------------------------------------------------------------
    @staticmethod
    def file_name(model: str, key: str) -> str:
        """The file of the vectors of ``model`` under ``key`` (with the sentence split's version)."""
        digest = hashlib.sha256(json.dumps([model, key, SENTENCE_SPLIT_VERSION]).encode()).hexdigest()[:12]
        return f"sentence-vectors-{digest}.npz"

    def save(self, folder: str | Path) -> Path:
        """Write :meth:`file_name` into ``folder`` (atomically) and remember it as :attr:`path`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        digests = list(self._rows)
        counts = np.array([len(self._rows[d]) for d in digests], dtype=np.int64)
        matrix = np.vstack([self._rows[d] for d in digests]) if digests else np.zeros((0, self.dim), np.float32)
        meta = {"model": self.model, "key": self.key, "split_version": SENTENCE_SPLIT_VERSION, "dim": self.dim}
        path = folder / self.file_name(self.model, self.key)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, digests=np.array(digests, dtype=str), counts=counts, vectors=matrix.astype(np.float32),
                     meta=np.array(json.dumps(meta)))
        os.replace(tmp, path)
        self.path = path
        return path

    @classmethod
    def load_file(cls, path: str | Path) -> SentenceVectors:
        """The vectors saved in ``path`` (by :meth:`save`).

        :raises FileNotFoundError: no such file.
        """
        t0 = time.perf_counter()
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            out = cls(meta["model"], key=meta["key"], dim=int(meta["dim"]))
            matrix = data["vectors"]
            start = 0
            for digest, n in zip(data["digests"].tolist(), data["counts"].tolist(), strict=True):
                out._rows[digest] = _frozen(matrix[start:start + n])
                start += n
        out.path = Path(path)
        out.stats["load_s"] = round(time.perf_counter() - t0, 4)
        return out

    @classmethod
    def load(cls, folder: str | Path, model: str, *, key: str = "") -> SentenceVectors | None:
        """The vectors of ``model`` under ``key`` saved in ``folder``, or ``None`` when there are none."""
        path = Path(folder) / cls.file_name(model, key)
        return cls.load_file(path) if path.is_file() else None


def _frozen(rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    rows.flags.writeable = False
    return rows
