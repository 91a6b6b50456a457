"""The hand-labelled judge-validation set: (question, gold answers, system answer, document) items a person
labelled **correct**, **partly** or **wrong** by reading the document
(``datasets/meridian_bank/labels/judge_validation.jsonl``, rules in ``labels/RULES.md``)::

    items = load_label_set()                         # the project's set
    items[0].label, items[0].references, items[0].system_answer
    frame = label_frame(items)                       # one row per item, for agreement tables

Both spellings of the item format are read: ``gold`` (a list) or ``gold_answer`` (a string),
``doc_ids`` or ``doc_id``, ``reason`` or ``note``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import DatasetError

__all__ = ["LABELS", "LabelledAnswer", "default_label_path", "label_frame", "load_label_set"]

#: The labels a person gives, best first.
LABELS = ("correct", "partly", "wrong")


@dataclass(frozen=True)
class LabelledAnswer:
    """One labelled item of the judge-validation set."""

    id: str
    question: str
    lang: str
    references: tuple[str, ...]
    """The gold answers (empty for an unanswerable question)."""
    system_answer: str
    label: str
    """``correct``, ``partly`` or ``wrong``."""
    doc_ids: tuple[str, ...] = ()
    preset: str = ""
    rules: tuple[str, ...] = ()
    reason: str = ""
    question_id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def default_label_path() -> Path:
    """Where the project's judge-validation set lives."""
    from workbench.datasets import dataset_dir

    return dataset_dir("meridian_bank") / "labels" / "judge_validation.jsonl"


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    return tuple(str(v) for v in value if str(v).strip())


def load_label_set(path: str | Path | None = None) -> list[LabelledAnswer]:
    """Read a judge-validation JSONL file (default: :func:`default_label_path`).

    :raises DatasetError: the file is missing, a line is not JSON, or an item lacks a field or has an
        unknown label (the message names the line).
    """
    p = Path(path) if path is not None else default_label_path()
    if not p.is_file():
        raise DatasetError("no judge-validation set here (labels/judge_validation.jsonl)", path=str(p))
    items: list[LabelledAnswer] = []
    for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"not valid JSON: {exc.msg}", path=str(p), line=number) from None
        for key in ("id", "question", "system_answer", "label"):
            if key not in obj:
                raise DatasetError("missing field", path=str(p), line=number, field=key)
        if obj["label"] not in LABELS:
            raise DatasetError(f"label {obj['label']!r} is not one of {LABELS}", path=str(p), line=number,
                               field="label")
        refs = _strings(obj.get("gold")) or _strings(obj.get("gold_answer"))
        known = {"id", "question", "lang", "gold", "gold_answer", "system_answer", "label", "doc_ids", "doc_id",
                 "preset", "rule", "reason", "note", "question_id"}
        items.append(LabelledAnswer(
            id=str(obj["id"]), question=str(obj["question"]), lang=str(obj.get("lang") or ""), references=refs,
            system_answer=str(obj["system_answer"] or ""), label=obj["label"],
            doc_ids=_strings(obj.get("doc_ids")) or _strings(obj.get("doc_id")), preset=str(obj.get("preset") or ""),
            rules=_strings(obj.get("rule")), reason=str(obj.get("reason") or obj.get("note") or ""),
            question_id=str(obj.get("question_id") or ""),
            meta={k: v for k, v in obj.items() if k not in known}))
    if not items:
        raise DatasetError("the judge-validation set is empty", path=str(p))
    return items


def label_frame(items: Sequence[LabelledAnswer]) -> Any:
    """A pandas DataFrame of the items (``references`` as lists)."""
    import pandas as pd

    return pd.DataFrame([{"id": i.id, "question_id": i.question_id, "lang": i.lang, "question": i.question,
                          "references": list(i.references), "system_answer": i.system_answer, "label": i.label,
                          "preset": i.preset, "doc_ids": list(i.doc_ids), "rules": list(i.rules)} for i in items])
