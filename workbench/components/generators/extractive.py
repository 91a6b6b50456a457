"""An answerer without an LLM: pick the best sentence from the retrieved passages, then the span the
question asks for (an amount, a duration, a rate, a phone number, a count) when there is one.

Fast (well under a millisecond per question) and deterministic; for Chinese, where the small local
models answer poorly (ENVIRONMENT.md: 1-4/10), it is a serious contender.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from workbench.text import detect_language, split_sentences, tokenize

__all__ = ["ExtractiveAnswerer", "answer_type"]

_NUM = r"\d[\d,]*(?:\.\d+)?"
_SPANS: dict[str, re.Pattern[str]] = {
    "money": re.compile(
        rf"(?:RMB|CNY|USD|HKD|EUR|¥|￥|\$)\s?{_NUM}(?:\s?(?:million|thousand|万|千))?(?:\s?(?:yuan|dollars?))?"
        rf"|{_NUM}\s?(?:万|千)?\s?(?:元|美元|港元|欧元|yuan|dollars)"
    ),
    "rate": re.compile(rf"{_NUM}\s?%|百分之[\d一二三四五六七八九十点.]+"),
    "phone": re.compile(r"\+?\d[\d-]{4,}\d"),
    "duration": re.compile(
        rf"{_NUM}(?:\s?(?:-|to|至|~)\s?{_NUM})?\s?(?:working days?|business days?|calendar days?|days?|hours?|minutes?"
        r"|months?|weeks?|years?|个工作日|个自然日|工作日|自然日|天|小时|分钟|个月|周|年)"
        r"|[一二三四五六七八九十两]+(?:个)?(?:工作日|天|小时|分钟|月|周|年)"
    ),
    "time": re.compile(r"\d{1,2}:\d{2}(?:\s?(?:-|to|至)\s?\d{1,2}:\d{2})?"),
    "count": re.compile(rf"{_NUM}\s?(?:times|attempts|cards?|次|张|笔|位|台|个)"),
}
_TYPE_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("phone", re.compile(r"phone|number to call|hotline|call|电话|热线|号码", re.I)),
    ("rate", re.compile(r"rate|interest|percent|apr|利率|费率|利息|百分之|%", re.I)),
    ("time", re.compile(r"what time|opening hours|cut-?off|几点|营业时间|截止时间", re.I)),
    ("duration", re.compile(r"how long|how many (?:days|hours|months|years)|when will|how soon|多久|多长时间|几天|"
                            r"多少天|几个工作日|期限|有效期|多长", re.I)),
    ("count", re.compile(r"how many (?:times|attempts|cards)|几次|几张|多少次", re.I)),
    ("money", re.compile(r"how much|fee|cost|charge|price|limit|minimum|maximum|max|amount|多少钱|费用|手续费|年费|"
                         r"额度|限额|上限|最低|多少", re.I)),
]


def answer_type(question: str) -> str | None:
    """The kind of span a question asks for (``money``, ``duration``, ``rate``...), or None for free text."""
    for kind, cue in _TYPE_CUES:
        if cue.search(question):
            return kind
    return None


@component
class ExtractiveAnswerer:
    """Answers from the passages' own words: the best-matching sentence, narrowed to a typed span.

    Sentence score = IDF-weighted overlap of question and sentence tokens + a small bonus for the
    passage's retrieval rank + a bonus when the sentence contains the span type the question asks for.

    ```python
    out = ExtractiveAnswerer().run(question="gold card annual fee?", documents=docs)
    out["replies"][0]      # e.g. 'RMB 600'
    ```
    """

    def __init__(self, *, max_passages: int = 3, return_sentence: bool = False) -> None:
        if max_passages < 1:
            raise ValueError("max_passages must be >= 1")
        self.max_passages = max_passages
        self.return_sentence = return_sentence

    def answer(self, question: str, documents: list[Document]) -> tuple[str, dict[str, Any]]:
        """(answer, details) for ``question`` over ``documents``."""
        candidates: list[tuple[int, str, Document]] = []
        for rank, doc in enumerate(documents[: self.max_passages]):
            body = doc.content or ""
            title = doc.meta.get("title")
            if title and body.startswith(f"{title}\n"):
                body = body[len(title) + 1 :]
            candidates.extend((rank, s, doc) for s in split_sentences(body))
        if not candidates:
            return "", {"sentence": None, "doc_id": None, "span_type": None}
        q_tokens = set(tokenize(question, "auto"))
        sent_tokens = [set(tokenize(s, "auto")) for _, s, _ in candidates]
        df = Counter(t for toks in sent_tokens for t in toks)
        n = len(candidates)
        kind = answer_type(question)
        best, best_score = 0, -math.inf
        for i, ((rank, sentence, _), toks) in enumerate(zip(candidates, sent_tokens, strict=True)):
            overlap = sum(math.log(1 + n / df[t]) for t in q_tokens & toks)
            score = overlap + 0.5 / (1 + rank)
            if kind and _SPANS[kind].search(sentence):
                score += 1.0
            if score > best_score:
                best, best_score = i, score
        _, sentence, doc = candidates[best]
        span = None
        if kind and not self.return_sentence:
            span = self._best_span(kind, sentence, q_tokens)
        answer = span or sentence
        return answer, {"sentence": sentence, "doc_id": doc.meta.get("doc_id", doc.id), "span_type": kind if span else None}

    @staticmethod
    def _best_span(kind: str, sentence: str, q_tokens: set[str]) -> str | None:
        matches = list(_SPANS[kind].finditer(sentence))
        if not matches:
            return None
        if len(matches) == 1:
            return matches[0].group().strip()
        # several spans: take the one whose left context shares most words with the question
        def closeness(m: re.Match[str]) -> float:
            left = set(tokenize(sentence[max(0, m.start() - 40) : m.start()], "auto"))
            return len(left & q_tokens) - 0.001 * m.start()
        return max(matches, key=closeness).group().strip()

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, question: str, documents: list[Document], prompt: str = "",
            messages: list[dict[str, str]] | None = None,
            streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Answer ``question`` from ``documents`` (``prompt``/``messages`` are accepted and ignored)."""
        answer, details = self.answer(question, documents)
        if streaming_callback is not None and answer:
            streaming_callback(answer)
        tokens = len(tokenize(answer, "auto", stopwords=False)) if answer else 0
        meta = {"model": "extractive", "completion_tokens": tokens, "language": detect_language(question), **details}
        return {"replies": [answer], "meta": [meta]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, max_passages=self.max_passages, return_sentence=self.return_sentence)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractiveAnswerer:
        return default_from_dict(cls, data)
