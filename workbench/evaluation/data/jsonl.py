"""Questions (and optionally documents) as JSON lines.

```python
ds = load_jsonl("questions.jsonl", "documents.jsonl")
# questions.jsonl: {"id": "q1", "question": "...", "answers": ["..."], "gold_doc_ids": ["d1"], "lang": "en"}
# documents.jsonl: {"id": "d1", "title": "...", "text": "..."}
```
Field aliases: see :mod:`workbench.evaluation.data.fields`.
"""

from __future__ import annotations

from pathlib import Path

from workbench.datasets.catalog import read_jsonl
from workbench.errors import DatasetError
from workbench.evaluation.data.fields import document_from_record, question_from_record
from workbench.evaluation.data.records import EvalDataset

__all__ = ["load_jsonl"]


def load_jsonl(questions: str | Path, documents: str | Path | None = None, *, name: str | None = None) -> EvalDataset:
    """Read the files; a bad line raises :class:`DatasetError` with its line number and field."""
    qpath = Path(questions)
    qs = [question_from_record(obj, path=str(qpath), line=line) for line, obj in read_jsonl(qpath)]
    if not qs:
        raise DatasetError("no questions in the file", path=str(qpath))
    docs = []
    if documents is not None:
        dpath = Path(documents)
        docs = [document_from_record(obj, path=str(dpath), line=line) for line, obj in read_jsonl(dpath)]
    return EvalDataset(name or qpath.stem, docs, qs, source=str(qpath), meta={"format": "jsonl"})
