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
from dataclasses import dataclass
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from workbench.text import detect_language, split_sentences, tokenize

__all__ = ["ExtractiveAnswerer", "ScoredSentence", "answer_type", "rank_sentences"]

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"  # "120,000" but not a trailing comma
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


_YES_NO = re.compile(r"^\s*(?:is|are|can|do|does|did|will|should|could|would)\b|吗\s*[？?]?\s*$|能不能|可不可以|是不是|有没有|要不要",
                     re.I)
_WH = re.compile(r"how much|how many|how long|what|which|when|多少|几|多久|多长|什么|哪", re.I)


def answer_type(question: str) -> str | None:
    """The kind of span a question asks for (``money``, ``duration``, ``rate``...), or None for free text.

    A yes/no question ("is the gold card free the first year?", "金卡首年免年费吗") gets no span type
    unless it also asks "how much/what/多少...": the whole sentence answers it better than a number.
    """
    if _YES_NO.search(question) and not _WH.search(question):
        return None
    for kind, cue in _TYPE_CUES:
        if cue.search(question):
            return kind
    return None


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved passage with its relevance score for a question."""

    text: str
    score: float
    doc_id: str
    rank: int
    """Retrieval rank of the passage it comes from (0 = first)."""


def _passage_sentences(doc: Document) -> list[tuple[str, str]]:
    """(sentence, context) pairs: the context is the title and the section heading above the sentence."""
    body = doc.content or ""
    title = doc.meta.get("title") or ""
    if title and body.startswith(f"{title}\n"):
        body = body[len(title) + 1 :]
    out: list[tuple[str, str]] = []
    heading = ""
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        if len(line) <= 40 and not line.endswith((".", "。", "!", "！", "?", "？", ";", "；", ":", "：")):
            heading = line  # a section heading such as "Annual fee"
            continue
        out.extend((sentence, f"{title} {heading}") for sentence in split_sentences(line))
    return out


def rank_sentences(question: str, documents: list[Document], *, max_passages: int = 3) -> list[ScoredSentence]:
    """Sentences of the first ``max_passages`` passages, best first.

    Score = IDF-weighted overlap of question and sentence tokens + 0.6 x the overlap with the
    sentence's title and section heading (words the sentence itself leaves implicit) + 1/(1+rank)
    of its passage + 1 when it contains the span type the question asks for.
    """
    candidates: list[tuple[int, str, Document, set[str]]] = []
    for rank, doc in enumerate(documents[:max_passages]):
        for sentence, context in _passage_sentences(doc):
            candidates.append((rank, sentence, doc, set(tokenize(context, "auto"))))
    if not candidates:
        return []
    q_tokens = set(tokenize(question, "auto"))
    sent_tokens = [set(tokenize(s, "auto")) for _, s, _, _ in candidates]
    df = Counter(t for toks in sent_tokens for t in toks)
    n = len(candidates)
    kind = answer_type(question)

    def idf(t: str) -> float:
        return math.log(1 + n / (df[t] or 1))

    scored = []
    for (rank, sentence, doc, context), toks in zip(candidates, sent_tokens, strict=True):
        own = q_tokens & toks
        score = sum(idf(t) for t in own) + 0.6 * sum(idf(t) for t in (q_tokens & context) - own) + 1.0 / (1 + rank)
        if kind and _SPANS[kind].search(sentence):
            score += 1.0
        scored.append(ScoredSentence(sentence, score, str(doc.meta.get("doc_id", doc.id)), rank))
    scored.sort(key=lambda s: -s.score)  # stable: earlier passages and sentences win ties
    return scored


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
        ranked = rank_sentences(question, documents, max_passages=self.max_passages)
        if not ranked:
            return "", {"sentence": None, "doc_id": None, "span_type": None}
        best = ranked[0]
        kind = answer_type(question)
        span = None
        if kind and not self.return_sentence:
            span = self._best_span(kind, best.text, set(tokenize(question, "auto")))
        answer = span or best.text
        return answer, {"sentence": best.text, "doc_id": best.doc_id, "span_type": kind if span else None}

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
