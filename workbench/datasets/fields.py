"""Reading question and document records (from JSONL objects or CSV rows) into evaluation records.

Accepted field names, so common exports load without renaming:

* question: ``question`` | ``query`` | ``q``; id: ``id`` | ``_id`` | ``qid`` (default: the line number)
* answers: ``answers`` (a list; in CSV a ``|``-separated string or a JSON list) | ``answer`` | ``a``
* gold documents: ``gold_doc_ids`` | ``doc_ids`` (list, or ``|``-separated in CSV) | ``doc_id``
* language: ``lang`` (detected from the question when absent)
* documents: ``id`` | ``_id`` | ``doc_id``, ``text`` | ``content`` | ``body``, optional ``title``, ``lang``
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from workbench.datasets.records import EvalDataset, EvalDocument, EvalQuestion
from workbench.errors import DatasetError
from workbench.text import detect_language

__all__ = ["dataset_from_records", "document_from_record", "question_from_record"]

_QUESTION = ("question", "query", "q")
_QID = ("id", "_id", "qid")
_ANSWERS = ("answers", "answer", "a")
_GOLD = ("gold_doc_ids", "doc_ids", "doc_id")
_DOC_ID = ("id", "_id", "doc_id")
_DOC_TEXT = ("text", "content", "body")
_KNOWN_Q = set(_QUESTION + _QID + _ANSWERS + _GOLD + ("lang",))


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in obj and obj[k] not in (None, ""):
            return k, obj[k]
    return None, None


def _string_list(value: Any, key: str, path: str, line: int, *, tabular: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if tabular and text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"looks like a JSON list but is not valid JSON: {exc.msg}", path=path, line=line,
                                   field=key) from None
        elif tabular:
            return tuple(part.strip() for part in text.split("|") if part.strip())
        else:
            return (text,) if text else ()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (str(value),)
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise DatasetError(f"expected a string or a list of strings, got {type(value).__name__}", path=path, line=line,
                           field=key)
    return tuple(str(v) for v in value)


def question_from_record(obj: dict[str, Any], *, path: str, line: int, tabular: bool = False) -> EvalQuestion:
    """One :class:`EvalQuestion`; a missing or mistyped field raises :class:`DatasetError` with path, line and field."""
    key, question = _first(obj, _QUESTION)
    if key is None:
        raise DatasetError(f"missing the question text (one of {', '.join(_QUESTION)})", path=path, line=line,
                           field="question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"expected a non-empty string, got {type(question).__name__}", path=path, line=line,
                           field=key)
    _, qid = _first(obj, _QID)
    a_key, answers = _first(obj, _ANSWERS)
    g_key, gold = _first(obj, _GOLD)
    lang = obj.get("lang") or None
    if lang is not None and lang not in ("en", "zh") and not isinstance(lang, str):
        raise DatasetError("expected a language code such as 'en' or 'zh'", path=path, line=line, field="lang")
    meta = {k: v for k, v in obj.items() if k not in _KNOWN_Q and v not in (None, "")}
    return EvalQuestion(
        str(qid) if qid is not None else f"line-{line}",
        question.strip(),
        gold_doc_ids=_string_list(gold, g_key, path, line, tabular=tabular) if g_key else (),
        answers=_string_list(answers, a_key, path, line, tabular=tabular) if a_key else (),
        lang=lang or detect_language(question),
        meta=meta,
    )


def document_from_record(obj: dict[str, Any], *, path: str, line: int) -> EvalDocument:
    """One :class:`EvalDocument`; needs an id and a non-empty text."""
    id_key, did = _first(obj, _DOC_ID)
    if id_key is None:
        raise DatasetError(f"missing the document id (one of {', '.join(_DOC_ID)})", path=path, line=line, field="id")
    t_key, text = _first(obj, _DOC_TEXT)
    if t_key is None or not isinstance(text, str) or not text.strip():
        raise DatasetError(f"missing the document text (one of {', '.join(_DOC_TEXT)}: a non-empty string)", path=path,
                           line=line, field=t_key or "text")
    title = obj.get("title") or ""
    lang = obj.get("lang") or detect_language(text)
    meta = {k: v for k, v in obj.items() if k not in (*_DOC_ID, *_DOC_TEXT, "title", "lang") and v not in (None, "")}
    return EvalDocument(str(did), text.strip(), title=str(title), lang=str(lang), meta=meta)


def dataset_from_records(questions: str | Path, documents: str | Path | None,
                         read_rows: Callable[[Path], Iterable[tuple[int, dict[str, Any]]]], *, fmt: str,
                         name: str | None = None, tabular: bool = False) -> EvalDataset:
    """An :class:`EvalDataset` from a questions file and an optional documents file, whose rows
    ``read_rows(path)`` yields as (line number, record); a file without questions raises :class:`DatasetError`."""
    qpath = Path(questions)
    qs = [question_from_record(obj, path=str(qpath), line=line, tabular=tabular) for line, obj in read_rows(qpath)]
    if not qs:
        raise DatasetError("no questions in the file", path=str(qpath))
    docs = []
    if documents is not None:
        dpath = Path(documents)
        docs = [document_from_record(obj, path=str(dpath), line=line) for line, obj in read_rows(dpath)]
    return EvalDataset(name or qpath.stem, docs, qs, source=str(qpath), meta={"format": fmt})
