"""A project dataset (``meridian_bank``): documents, questions, paraphrase groups, near-miss pairs,
multi-turn conversations, personalized questions and its manifest, read from one folder.

```python
ds = BankDataset(dataset_dir("meridian_bank"))     # or load_dataset("meridian_bank"), cached
ds.to_eval_dataset().questions[0].gold_doc_ids     # ('acct-open-savings-en', 'acct-open-savings-zh')
```
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from workbench.datasets.jsonl import read_records
from workbench.datasets.records import EvalDataset, EvalDocument, EvalQuestion
from workbench.datasets.schema import (
    Conversation,
    KBDocument,
    KBQuestion,
    NearMissPair,
    ParaphraseGroup,
    PersonalizedQuestion,
)

__all__ = ["FILES", "BankDataset", "content_hash"]

#: The published files of a project dataset, in the order the content hash reads them.
FILES = ("documents.jsonl", "questions.jsonl", "paraphrases.jsonl", "near_misses.jsonl", "conversations.jsonl",
         "personalized.jsonl")


class BankDataset:
    """A project dataset: documents, questions, paraphrase groups, near-miss pairs, multi-turn conversations,
    personalized questions and its manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = root.name
        self.documents = read_records(root / "documents.jsonl", KBDocument)
        q = root / "questions.jsonl"
        self.questions = read_records(q, KBQuestion) if q.is_file() else []
        p = root / "paraphrases.jsonl"
        self.paraphrases = read_records(p, ParaphraseGroup) if p.is_file() else []
        n = root / "near_misses.jsonl"
        self.near_misses = read_records(n, NearMissPair) if n.is_file() else []
        c = root / "conversations.jsonl"
        self.conversations = read_records(c, Conversation) if c.is_file() else []
        pq = root / "personalized.jsonl"
        self.personalized = read_records(pq, PersonalizedQuestion) if pq.is_file() else []
        m = root / "manifest.json"
        self.manifest: dict[str, Any] = json.loads(m.read_text(encoding="utf-8")) if m.is_file() else {}
        self.doc_by_id = {d.id: d for d in self.documents}

    @property
    def content_hash(self) -> str:
        """sha256 over the dataset's files (what the manifest records)."""
        return content_hash(self.root)

    def to_eval_dataset(self) -> EvalDataset:
        """Documents and questions (gold document ids, short gold answers, language, intent) as an
        :class:`EvalDataset` whose ``knowledge_base`` is this dataset (pipelines index it from their config)."""
        documents = [EvalDocument(d.id, d.text, title=d.title, lang=d.lang,
                                  meta={"topic": d.topic, "category": d.category}) for d in self.documents]
        questions = [EvalQuestion(q.id, q.question, gold_doc_ids=tuple(q.gold_doc_ids), answers=tuple(q.answers),
                                  lang=q.lang, meta={"intent": q.intent, "cross_lingual": q.cross_lingual})
                     for q in self.questions]
        return EvalDataset(self.name, documents, questions, source=str(self.root), knowledge_base=self.name,
                           meta={"content_hash": self.content_hash, "manifest": self.manifest.get("counts", {})})

    def __repr__(self) -> str:
        return (f"BankDataset({self.name!r}, documents={len(self.documents)}, questions={len(self.questions)}, "
                f"paraphrase_groups={len(self.paraphrases)}, near_misses={len(self.near_misses)}, "
                f"conversations={len(self.conversations)}, personalized={len(self.personalized)})")


def content_hash(root: Path) -> str:
    """sha256 over the dataset's data files, in a fixed order."""
    digest = hashlib.sha256()
    for name in FILES:
        path = root / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
