"""JSON lines: reading any JSONL file line by line, validated records, and questions (and optionally
documents) as an :class:`~workbench.datasets.records.EvalDataset`.

```python
ds = load_jsonl("questions.jsonl", "documents.jsonl")
# questions.jsonl: {"id": "q1", "question": "...", "answers": ["..."], "gold_doc_ids": ["d1"], "lang": "en"}
# documents.jsonl: {"id": "d1", "title": "...", "text": "..."}
```
Field aliases: see :mod:`workbench.datasets.fields`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from workbench.datasets.fields import dataset_from_records
from workbench.datasets.records import EvalDataset
from workbench.errors import DatasetError

__all__ = ["load_jsonl", "read_jsonl", "read_records"]

R = TypeVar("R", bound=BaseModel)


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; a bad line raises :class:`DatasetError` naming it."""
    p = Path(path)
    try:
        handle = p.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror}", path=str(p)) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"not valid JSON: {exc.msg} at column {exc.colno}", path=str(p),
                                   line=number) from None
            if not isinstance(obj, dict):
                raise DatasetError(f"expected a JSON object, got {type(obj).__name__}", path=str(p), line=number)
            yield number, obj


def read_records(path: str | Path, model: type[R]) -> list[R]:
    """Validated records of ``model`` (a pydantic model) from a JSONL file; the first invalid line raises
    :class:`DatasetError` with its line number and field."""
    out = []
    for number, obj in read_jsonl(path):
        try:
            out.append(model.model_validate(obj))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            raise DatasetError(err["msg"], path=str(path), line=number, field=field) from None
    return out


def load_jsonl(questions: str | Path, documents: str | Path | None = None, *, name: str | None = None) -> EvalDataset:
    """Read the files; a bad line raises :class:`DatasetError` with its line number and field."""
    return dataset_from_records(questions, documents, read_jsonl, fmt="jsonl", name=name)
