"""The evaluation dataset: documents (a corpus) and questions with their gold documents and answers.

Every loader of :mod:`workbench.datasets` returns an :class:`EvalDataset`; experiments, metrics and
reports only see this shape. This module imports no loader (the loaders depend on it, never the
reverse)::

    ds = load_beir("../shared/data/scifact", split="test")
    ds.hash, len(ds.questions), ds.qrels["1"]         # {'31715818': 1}
    small = ds.sample(20, seed=0)                      # a seeded subset (its corpus is kept whole)
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import DatasetError

__all__ = ["EvalDataset", "EvalDocument", "EvalQuestion"]


@dataclass(frozen=True)
class EvalDocument:
    """One document of the corpus the questions are asked against."""

    id: str
    text: str
    title: str = ""
    lang: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalQuestion:
    """One question with what counts as right."""

    id: str
    question: str
    gold_doc_ids: tuple[str, ...] = ()
    """Relevant documents (relevance level > 0), best first when the source orders them."""
    answers: tuple[str, ...] = ()
    """Reference answers; a question's answer score is the best over them."""
    lang: str | None = None
    relevance: Mapping[str, int] = field(default_factory=dict)
    """Graded relevance (document id → level); empty means level 1 for every gold document."""
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def qrels(self) -> dict[str, int]:
        """Document id → relevance level, as the retrieval metrics take it."""
        return dict(self.relevance) if self.relevance else {d: 1 for d in self.gold_doc_ids}


class EvalDataset:
    """A named corpus plus questions, with a content hash that keys experiment caches.

    ``knowledge_base`` names the project dataset (see :func:`~workbench.datasets.dataset_dir`) that a pipeline indexes for
    this evaluation set, when there is one (``meridian_bank``); otherwise an experiment indexes
    :attr:`documents` itself.
    """

    def __init__(self, name: str, documents: Sequence[EvalDocument], questions: Sequence[EvalQuestion], *,
                 source: str = "", knowledge_base: str | None = None, meta: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.documents = list(documents)
        self.questions = list(questions)
        self.source = source
        self.knowledge_base = knowledge_base
        self.meta = dict(meta or {})
        dup = [i for i, n in Counter(q.id for q in self.questions).items() if n > 1]
        if dup:
            raise DatasetError(f"duplicate question ids {dup[:5]}: every question needs a unique id",
                               path=source or name, field="id")
        self._hash: str | None = None

    # -- views ----------------------------------------------------------------------------------
    @property
    def doc_by_id(self) -> dict[str, EvalDocument]:
        """Document id → document."""
        return {d.id: d for d in self.documents}

    @property
    def qrels(self) -> dict[str, dict[str, int]]:
        """Question id → {document id → level} (the trec_eval qrels of the set)."""
        return {q.id: q.qrels for q in self.questions}

    @property
    def languages(self) -> dict[str, int]:
        """Questions per language."""
        return dict(Counter(q.lang or "unknown" for q in self.questions))

    @property
    def hash(self) -> str:
        """sha256 (16 hex) over the canonical JSON of every document and question."""
        if self._hash is None:
            digest = hashlib.sha256()
            for d in self.documents:
                digest.update(_canonical(asdict(d)))
            digest.update(b"\x00questions\x00")
            for q in self.questions:
                digest.update(_canonical(asdict(q)))
            self._hash = digest.hexdigest()[:16]
        return self._hash

    def __len__(self) -> int:
        return len(self.questions)

    def __repr__(self) -> str:
        return (f"EvalDataset({self.name!r}, documents={len(self.documents)}, questions={len(self.questions)}, "
                f"languages={self.languages})")

    # -- subsets --------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int = 0) -> EvalDataset:
        """``n`` questions drawn without replacement with ``random.Random(seed)``, in their original order."""
        if n >= len(self.questions):
            return self
        rng = random.Random(seed)
        keep = set(rng.sample(range(len(self.questions)), n))
        return self._with_questions([q for i, q in enumerate(self.questions) if i in keep], f"sample{n}-seed{seed}")

    def filter(self, *, lang: str | Iterable[str] | None = None, ids: Iterable[str] | None = None) -> EvalDataset:
        """The questions in ``lang`` and/or with the given ``ids``."""
        langs = {lang} if isinstance(lang, str) else set(lang) if lang is not None else None
        wanted = set(ids) if ids is not None else None
        kept = [q for q in self.questions
                if (langs is None or q.lang in langs) and (wanted is None or q.id in wanted)]
        return self._with_questions(kept, f"filter-{sorted(langs) if langs else ''}-{len(kept)}")

    def _with_questions(self, questions: list[EvalQuestion], tag: str) -> EvalDataset:
        return EvalDataset(f"{self.name}[{tag}]", self.documents, questions, source=self.source,
                           knowledge_base=self.knowledge_base, meta=self.meta)

    def to_frame(self) -> Any:
        """The questions as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([{**asdict(q), "n_gold": len(q.gold_doc_ids)} for q in self.questions])

    def write_corpus_jsonl(self, path: str | Path) -> Path:
        """Write the documents as JSONL (``id``, ``title``, ``text``, ``lang``) for the workbench FileLoader.

        ``text`` is the title and the body joined by a blank line (BEIR indexes both; the FileLoader
        indexes ``text`` only).
        """
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for d in self.documents:
                text = f"{d.title}\n\n{d.text}" if d.title else d.text
                record = {"id": d.id, "title": d.title, "text": text}
                if d.lang:
                    record["lang"] = d.lang
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        tmp.replace(p)
        return p


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
