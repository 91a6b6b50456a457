"""An answerer without an LLM: pick the best sentence from the retrieved passages, then the span the
question asks for (:mod:`~workbench.components.generators.answer_spans`: an amount, a date, a count, a
duration, a phone number, a menu path, a yes/no clause), falling back to the sentence. The supporting
sentence is returned beside the answer (``meta["support"]``).

Fast (about a millisecond per question) and deterministic; for Chinese, where the small local
models answer poorly (ENVIRONMENT.md: 1-4/10), it is a serious contender.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from nltk.stem.porter import PorterStemmer

from workbench.components.generators.answer_spans import best_span, find_spans, polarity, question_type
from workbench.text import detect_language, split_sentences, tokenize

__all__ = ["ExtractiveAnswerer", "ScoredSentence", "match_tokens", "rank_sentences"]

_LIST_ITEM = re.compile(r"\s+-\s+(?=\S)")
_SPAN_KINDS = ("money", "rate", "duration", "time", "date", "count", "phone", "path")
_STEMMER = PorterStemmer()

#: Sentence score weights (chosen on the tune half of the bank questions, bench/bench_answers.py):
#: the heading/title overlap, the passage-rank bonus, a span of the asked type's family in the
#: sentence, one of the asked type itself, and the penalty per log-token of length (long sentences share
#: words with any question by chance).
CONTEXT_WEIGHT = 0.6
RANK_BONUS = 3.0
TYPE_BONUS = 2.0
OWN_TYPE_BONUS = 1.0
LENGTH_PENALTY = 0.5


@lru_cache(maxsize=65536)
def _stem(token: str) -> str:
    return _STEMMER.stem(token) if token.isascii() and token.isalpha() else token


def match_tokens(text: str) -> set[str]:
    """The tokens sentences and questions are matched on: :func:`~workbench.text.tokenize` (``auto``) with
    English words Porter-stemmed ("withdrawing" and "withdrawal" meet as "withdraw"); Chinese words as
    jieba cuts them."""
    return {_stem(t) for t in tokenize(text, "auto")}


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
        for sentence in split_sentences(line):
            # a flattened list ("limits - ATM: RMB 20,000 per day - POS: ...") is one sentence per item; the
            # items keep the words of the list's lead-in as context, like a heading's
            lead, *items = [item for item in _LIST_ITEM.split(sentence) if item.strip()]
            out.append((lead, f"{title} {heading}"))
            out.extend((item, f"{title} {heading} {lead}") for item in items)
    return out


def rank_sentences(question: str, documents: list[Document], *, max_passages: int = 3) -> list[ScoredSentence]:
    """Sentences of the first ``max_passages`` passages, best first.

    Score = IDF-weighted overlap of question and sentence tokens (:func:`match_tokens`) + 0.6 x the overlap
    with the sentence's title and section heading (words the sentence itself leaves implicit) + 3/(1+rank)
    of its passage + 2 when it contains a span of the asked type's family (+1 more when of the type itself)
    - 0.5 x log(1 + its token count).
    """
    candidates: list[tuple[int, str, Document, set[str]]] = []
    for rank, doc in enumerate(documents[:max_passages]):
        for sentence, context in _passage_sentences(doc):
            candidates.append((rank, sentence, doc, match_tokens(context)))
    if not candidates:
        return []
    q_tokens = match_tokens(question)
    sent_tokens = [match_tokens(s) for _, s, _, _ in candidates]
    df = Counter(t for toks in sent_tokens for t in toks)
    n = len(candidates)
    kind = question_type(question)

    def idf(t: str) -> float:
        return math.log(1 + n / (df[t] or 1))

    scored = []
    for (rank, sentence, doc, context), toks in zip(candidates, sent_tokens, strict=True):
        own = q_tokens & toks
        score = sum(idf(t) for t in own) + CONTEXT_WEIGHT * sum(idf(t) for t in (q_tokens & context) - own) \
            + RANK_BONUS / (1 + rank) - LENGTH_PENALTY * math.log(1 + len(toks))
        spans = find_spans(kind, sentence) if kind in _SPAN_KINDS else []
        if spans:
            score += TYPE_BONUS + OWN_TYPE_BONUS * any(s.kind == kind for s in spans)
        scored.append(ScoredSentence(sentence, score, str(doc.meta.get("doc_id", doc.id)), rank))
    scored.sort(key=lambda s: -s.score)  # stable: earlier passages and sentences win ties
    return scored


@component
class ExtractiveAnswerer:
    """Answers from the passages' own words: the span the question asks for, inside the best sentence.

    Sentence score = IDF-weighted overlap of question and sentence tokens + a small bonus for the
    passage's retrieval rank + a bonus when the sentence contains the span type the question asks for.
    The span follows the question's type (:func:`question_type`): an amount with its bound and rate
    ("at least 30%", "RMB 20,000 per day"), a date or clock time, a count, a duration, a phone number, a
    menu path, or for a yes/no question the clause that carries the polarity. Without a span of the type
    in the best sentence (or the runner-up, when it scores nearly as well) the answer is the sentence.

    ```python
    out = ExtractiveAnswerer().run(question="gold card annual fee?", documents=docs)
    out["replies"][0]            # e.g. 'RMB 600'
    out["meta"][0]["support"]    # 'The main card costs RMB 600 per year.'
    ```
    """

    def __init__(self, *, max_passages: int = 3, return_sentence: bool = False, runner_up: float = 0.8) -> None:
        """
        :param max_passages: how many of the retrieved passages are read (best first).
        :param return_sentence: answer with the whole supporting sentence, never a span.
        :param runner_up: look for the span in the second-best sentence too when it scores at least this
            fraction of the best one's score.
        """
        if max_passages < 1:
            raise ValueError("max_passages must be >= 1")
        self.max_passages = max_passages
        self.return_sentence = return_sentence
        self.runner_up = runner_up

    def answer(self, question: str, documents: list[Document]) -> tuple[str, dict[str, Any]]:
        """(answer, details) for ``question`` over ``documents``.

        :param question: the user's question.
        :param documents: the retrieved passages, best first.
        :returns: the answer and ``{"support", "sentence", "doc_id", "span_type", "polarity"}``: ``support``
            (= ``sentence``) is the sentence the answer comes from, ``span_type`` the kind of span taken
            (None when the answer is the whole sentence), ``polarity`` ``yes``/``no`` for a yes/no answer.
        """
        ranked = rank_sentences(question, documents, max_passages=self.max_passages)
        if not ranked:
            return "", {"support": None, "sentence": None, "doc_id": None, "span_type": None, "polarity": None}
        kind = question_type(question)
        chosen, span = ranked[0], None
        if kind is not None and not self.return_sentence:
            candidates = [ranked[0]]
            if len(ranked) > 1 and ranked[1].score >= self.runner_up * ranked[0].score:
                candidates.append(ranked[1])
            for cand in candidates:
                span = best_span(kind, cand.text, question)
                if span is not None:
                    chosen = cand
                    break
        answer = span.text if span else chosen.text
        return answer, {"support": chosen.text, "sentence": chosen.text, "doc_id": chosen.doc_id,
                        "span_type": span.kind if span else None,
                        "polarity": polarity(span.text) if span is not None and span.kind == "yesno" else None}

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
        return default_to_dict(self, max_passages=self.max_passages, return_sentence=self.return_sentence,
                               runner_up=self.runner_up)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractiveAnswerer:
        return default_from_dict(cls, data)
