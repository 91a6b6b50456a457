"""SQuAD v1.1-style JSON (SQuAD, CMRC 2018, DRCD...) as an :class:`EvalDataset`.

Each paragraph becomes a document (id: the paragraph's ``id``, else ``<article>-<paragraph>``); each
question's gold document is its paragraph and its answers are every reference ``text`` (CMRC scores
against all of them, including free-form references whose ``answer_start`` is -1)::

    ds = load_squad("../shared/data/cmrc2018/cmrc2018_dev.json")
    ds.questions[0].answers       # three references

A malformed file raises :class:`~workbench.errors.DatasetError` naming the field path (e.g.
``data[3].paragraphs[0].qas[2].answers[1].text``) and the line where that item starts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from workbench.datasets.records import EvalDataset, EvalDocument, EvalQuestion
from workbench.errors import DatasetError
from workbench.text import detect_language

__all__ = ["load_squad"]


class _Locator:
    """Finds the line of an item in the raw JSON text by a distinctive value it contains."""

    def __init__(self, text: str) -> None:
        self.text = text

    def line_of(self, value: Any, *, key: str | None = None) -> int | None:
        if not isinstance(value, str) or not value:
            return None
        encoded = [json.dumps(value, ensure_ascii=False), json.dumps(value)]
        for enc in encoded:
            pattern = re.escape(enc) if key is None else rf'"{re.escape(key)}"\s*:\s*{re.escape(enc)}'
            m = re.search(pattern, self.text)
            if m:
                return self.text.count("\n", 0, m.start()) + 1
        return None


def _require(obj: Any, key: str, kind: type | tuple[type, ...], where: str, path: str, line: int | None) -> Any:
    if not isinstance(obj, dict):
        raise DatasetError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=line, field=where)
    if key not in obj:
        raise DatasetError("missing field", path=path, line=line, field=f"{where}.{key}" if where else key)
    value = obj[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DatasetError(f"expected {names}, got {type(value).__name__}", path=path, line=line,
                           field=f"{where}.{key}" if where else key)
    return value


def load_squad(path: str | Path, *, name: str | None = None) -> EvalDataset:
    """Read a SQuAD-format file; questions with no answers are kept with ``answers=()``."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror}", path=str(p)) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8: {exc.reason} at byte {exc.start}", path=str(p)) from None
    try:
        root = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"not valid JSON: {exc.msg} at column {exc.colno}", path=str(p), line=exc.lineno) from None
    loc = _Locator(raw)
    data = _require(root, "data", list, "", str(p), 1)
    documents: list[EvalDocument] = []
    questions: list[EvalQuestion] = []
    seen_docs: set[str] = set()
    for a, article in enumerate(data):
        where_a = f"data[{a}]"
        line_a = loc.line_of(article.get("title"), key="title") if isinstance(article, dict) else None
        paragraphs = _require(article, "paragraphs", list, where_a, str(p), line_a)
        for i, para in enumerate(paragraphs):
            where_p = f"{where_a}.paragraphs[{i}]"
            line_p = loc.line_of(para.get("id"), key="id") if isinstance(para, dict) else None
            line_p = line_p or line_a
            context = _require(para, "context", str, where_p, str(p), line_p)
            doc_id = str(para.get("id") or f"{a}-{i}")
            if doc_id in seen_docs:
                doc_id = f"{doc_id}#{a}-{i}"
            seen_docs.add(doc_id)
            lang = detect_language(context)
            documents.append(EvalDocument(doc_id, context, title=str(article.get("title") or ""), lang=lang))
            for j, qa in enumerate(_require(para, "qas", list, where_p, str(p), line_p)):
                where_q = f"{where_p}.qas[{j}]"
                line_q = (loc.line_of(qa.get("id"), key="id") if isinstance(qa, dict) else None) or line_p
                qid = _require(qa, "id", (str, int), where_q, str(p), line_q)
                question = _require(qa, "question", str, where_q, str(p), line_q)
                answers_raw = qa.get("answers", [])
                if not isinstance(answers_raw, list):
                    raise DatasetError(f"expected a list, got {type(answers_raw).__name__}", path=str(p), line=line_q,
                                       field=f"{where_q}.answers")
                answers = []
                for k, ans in enumerate(answers_raw):
                    answers.append(_require(ans, "text", str, f"{where_q}.answers[{k}]", str(p), line_q))
                questions.append(EvalQuestion(str(qid), question, gold_doc_ids=(doc_id,), answers=tuple(answers),
                                              lang=detect_language(question + context[:200])))
    if not questions:
        raise DatasetError("no questions found (expected data[].paragraphs[].qas[])", path=str(p), field="data")
    return EvalDataset(name or p.stem, documents, questions, source=str(p),
                       meta={"format": "squad", "version": root.get("version")})
