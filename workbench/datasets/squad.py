"""SQuAD v1.1-style JSON (SQuAD, CMRC 2018, DRCD...) as an :class:`EvalDataset`.

Each paragraph becomes a document (id: the paragraph's ``id``, else ``<article>-<paragraph>``); each
question's gold document is its paragraph and its answers are every reference ``text`` (CMRC scores
against all of them, including free-form references whose ``answer_start`` is -1)::

    ds = load_squad("../shared/data/cmrc2018/cmrc2018_dev.json")
    ds.questions[0].answers       # three references
    load_squad("dev-v1.1.json", lang="en")   # the dataset's language for every question

A question's language is the dataset's (``lang=``) or its own text's (:func:`~workbench.text.detect_language`;
a question with kana is ``ja``), never its answers' or its context's.

Reading is linear in the file size: one ``json.loads`` and one pass over the items. A malformed file
raises :class:`~workbench.errors.DatasetError` naming the field path (e.g.
``data[3].paragraphs[0].qas[2].answers[1].text``) and the line where that item starts; the line is
looked up in the raw text only when an error is raised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.datasets.records import EvalDataset, EvalDocument, EvalQuestion
from workbench.errors import DatasetError
from workbench.text import detect_language

__all__ = ["load_squad", "question_language"]

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")

LineOf = Callable[[], "int | None"]


def question_language(question: str) -> str:
    """``ja`` when the question has kana, else :func:`~workbench.text.detect_language` (``zh``/``en``).

    >>> question_language("日本の首都はどこですか"), question_language("金卡年费多少")
    ('ja', 'zh')
    """
    return "ja" if _KANA.search(question) else detect_language(question)


def _line_of(text: str, steps: list[tuple[str, Any]]) -> int | None:
    """The line of the innermost item among ``steps`` ((key, value) pairs, outermost first) that can be
    found in ``text``: each is searched after the previous one's position (only called on errors)."""
    found, pos = None, 0
    for key, value in steps:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            continue
        for enc in (json.dumps(value, ensure_ascii=False), json.dumps(value)):
            m = re.compile(rf'"{re.escape(key)}"\s*:\s*{re.escape(enc)}').search(text, pos)
            if m:
                found, pos = text.count("\n", 0, m.start()) + 1, m.start()
                break
    return found


def _require(obj: Any, key: str, kind: type | tuple[type, ...], where: str, path: str, line: LineOf) -> Any:
    if not isinstance(obj, dict):
        raise DatasetError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=line(), field=where)
    if key not in obj:
        raise DatasetError("missing field", path=path, line=line(), field=f"{where}.{key}" if where else key)
    value = obj[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DatasetError(f"expected {names}, got {type(value).__name__}", path=path, line=line(),
                           field=f"{where}.{key}" if where else key)
    return value


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def load_squad(path: str | Path, *, name: str | None = None, lang: str | None = None) -> EvalDataset:
    """Read a SQuAD-format file; questions with no answers are kept with ``answers=()``.

    :param path: the JSON file.
    :param name: the dataset's name (default: the file's stem).
    :param lang: the language of every question (``en`` for SQuAD, ``zh`` for CMRC); ``None``: each
        question's own (see :func:`question_language`).
    :returns: the documents (paragraphs) and questions.
    :raises DatasetError: the file cannot be read, is not JSON, or lacks a required field.
    """
    p = Path(path)
    where_file = str(p)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror}", path=where_file) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8: {exc.reason} at byte {exc.start}", path=where_file) from None
    try:
        root = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"not valid JSON: {exc.msg} at column {exc.colno}", path=where_file,
                           line=exc.lineno) from None
    data = _require(root, "data", list, "", where_file, lambda: 1)
    documents: list[EvalDocument] = []
    questions: list[EvalQuestion] = []
    seen_docs: set[str] = set()
    for a, article in enumerate(data):
        where_a = f"data[{a}]"
        steps_a = [("title", _get(article, "title"))]
        paragraphs = _require(article, "paragraphs", list, where_a, where_file, lambda s=steps_a: _line_of(raw, s))
        for i, para in enumerate(paragraphs):
            where_p = f"{where_a}.paragraphs[{i}]"
            steps_p = [*steps_a, ("id", _get(para, "id"))]
            line_p: LineOf = lambda s=steps_p: _line_of(raw, s)  # noqa: E731
            context = _require(para, "context", str, where_p, where_file, line_p)
            doc_id = str(para.get("id") or f"{a}-{i}")
            if doc_id in seen_docs:
                doc_id = f"{doc_id}#{a}-{i}"
            seen_docs.add(doc_id)
            documents.append(EvalDocument(doc_id, context, title=str(article.get("title") or ""),
                                          lang=lang or detect_language(context)))
            for j, qa in enumerate(_require(para, "qas", list, where_p, where_file, line_p)):
                where_q = f"{where_p}.qas[{j}]"
                line_q: LineOf = lambda s=[*steps_p, ("id", _get(qa, "id"))]: _line_of(raw, s)  # noqa: E731
                qid = _require(qa, "id", (str, int), where_q, where_file, line_q)
                question = _require(qa, "question", str, where_q, where_file, line_q)
                answers_raw = qa.get("answers", [])
                if not isinstance(answers_raw, list):
                    raise DatasetError(f"expected a list, got {type(answers_raw).__name__}", path=where_file,
                                       line=line_q(), field=f"{where_q}.answers")
                answers = tuple(_require(ans, "text", str, f"{where_q}.answers[{k}]", where_file, line_q)
                                for k, ans in enumerate(answers_raw))
                questions.append(EvalQuestion(str(qid), question, gold_doc_ids=(doc_id,), answers=answers,
                                              lang=lang or question_language(question)))
    if not questions:
        raise DatasetError("no questions found (expected data[].paragraphs[].qas[])", path=where_file, field="data")
    return EvalDataset(name or p.stem, documents, questions, source=where_file,
                       meta={"format": "squad", "version": root.get("version"), "lang": lang})
