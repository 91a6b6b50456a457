"""An answerer without an LLM: pick the best sentence from the retrieved passages, then the span the
question asks for (:mod:`~workbench.components.generators.answer_spans`: an amount, a date, a count, a
duration, a phone number, a menu path, a yes/no clause), falling back to the sentence. The supporting
sentence is returned beside the answer (``meta["support"]``).

Fast (about a millisecond per question) and deterministic; for Chinese, where the small local
models answer poorly (ENVIRONMENT.md: 1-4/10), it is a serious contender.

Sentences are ranked lexically; with a dense signal (``sentence_vectors`` + the question's embedding, see
:class:`~workbench.components.generators.sentence_vectors.SentenceVectors`) each candidate's score also gains
``dense_weight`` x the z-score of its cosine with the question among the question's candidates (so the
lexical scale is kept: the cosines of one question spread over a few hundredths). The query pipeline wires
it whenever its config has a dense embedder: the retrieval's query embedding is reused and the sentence
vectors were computed with the knowledge base, so a request embeds nothing more.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict
from nltk.stem.porter import PorterStemmer

from workbench.components.generators.answer_spans import best_span, find_spans, polarity, question_type
from workbench.text import detect_language, split_sentences, tokenize

__all__ = ["DENSE_WEIGHT", "SENTENCE_SPLIT_VERSION", "ExtractiveAnswerer", "ScoredSentence", "SentenceSimilarity",
           "SentenceVectorSource", "match_tokens", "passage_sentences", "rank_sentences"]

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
#: Weight of the z-scored question-sentence cosine when a dense signal is given (tune half: 1.0 beat 0.5 and 2;
#: ``generator.sentence_dense_weight`` sets it in a config).
DENSE_WEIGHT = 1.0
#: Version of the sentence split (:func:`passage_sentences`): saved sentence vectors carry it in their key, so
#: bump it whenever the split changes.
SENTENCE_SPLIT_VERSION = 1

SentenceSimilarity = Callable[[Document], "np.ndarray | Sequence[float] | None"]
"""The question's cosine with each sentence of a passage, in :func:`passage_sentences` order (``None``: not
known for that passage; its sentences then get a neutral dense score)."""


@runtime_checkable
class SentenceVectorSource(Protocol):
    """Where the answerer finds the vectors of a passage's sentences (e.g. :class:`SentenceVectors`)."""

    def vectors(self, doc: Document) -> np.ndarray | None:
        """L2-normalised vectors of ``passage_sentences(doc)``, one row each, or ``None`` when not held."""
        ...


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
    similarity: float | None = None
    """Its cosine with the question when a dense signal was given (``score`` then includes it)."""


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


def passage_sentences(doc: Document) -> list[str]:
    """The candidate sentences of a passage, in the order :func:`rank_sentences` reads them (what sentence
    vectors are computed for: row ``i`` of a passage's vectors is sentence ``i``)."""
    return [sentence for sentence, _ in _passage_sentences(doc)]


def _cosines(similarity: SentenceSimilarity, docs: list[Document], counts: list[int]) -> list[float | None]:
    """The cosine of every candidate (``None`` where unknown), passage by passage."""
    out: list[float | None] = []
    for doc, n in zip(docs, counts, strict=True):
        sims = similarity(doc) if n else None
        if sims is None or len(sims) != n:  # unknown, or computed for another split: neutral
            out.extend([None] * n)
        else:
            out.extend(float(x) for x in sims)
    return out


def rank_sentences(question: str, documents: list[Document], *, max_passages: int = 3,
                   sentence_similarity: SentenceSimilarity | None = None,
                   dense_weight: float = DENSE_WEIGHT) -> list[ScoredSentence]:
    """Sentences of the first ``max_passages`` passages, best first.

    Score = IDF-weighted overlap of question and sentence tokens (:func:`match_tokens`) + 0.6 x the overlap
    with the sentence's title and section heading (words the sentence itself leaves implicit) + 3/(1+rank)
    of its passage + 2 when it contains a span of the asked type's family (+1 more when of the type itself)
    - 0.5 x log(1 + its token count).

    With ``sentence_similarity`` (the question's cosine with each sentence of a passage) and ``dense_weight``
    > 0, the score also gains ``dense_weight`` x the cosine's z-score among the candidates whose cosine is
    known (0 for the others, and for all when fewer than two are known). Without it, or at weight 0, the
    ranking is the lexical one exactly.
    """
    candidates: list[tuple[int, str, Document, set[str]]] = []
    passages = documents[:max_passages]
    counts = []
    for rank, doc in enumerate(passages):
        pairs = _passage_sentences(doc)
        counts.append(len(pairs))
        for sentence, context in pairs:
            candidates.append((rank, sentence, doc, match_tokens(context)))
    if not candidates:
        return []
    sims: list[float | None] = [None] * len(candidates)
    dense = [0.0] * len(candidates)
    if sentence_similarity is not None:
        sims = _cosines(sentence_similarity, passages, counts)
        known = np.array([x for x in sims if x is not None], dtype=np.float64)
        if dense_weight > 0 and known.size > 1:
            mean, std = float(known.mean()), float(known.std()) + 1e-6
            dense = [0.0 if x is None else dense_weight * (x - mean) / std for x in sims]
    q_tokens = match_tokens(question)
    sent_tokens = [match_tokens(s) for _, s, _, _ in candidates]
    df = Counter(t for toks in sent_tokens for t in toks)
    n = len(candidates)
    kind = question_type(question)

    def idf(t: str) -> float:
        return math.log(1 + n / (df[t] or 1))

    scored = []
    for (rank, sentence, doc, context), toks, sim, bonus in zip(candidates, sent_tokens, sims, dense, strict=True):
        own = q_tokens & toks
        score = sum(idf(t) for t in own) + CONTEXT_WEIGHT * sum(idf(t) for t in (q_tokens & context) - own) \
            + RANK_BONUS / (1 + rank) - LENGTH_PENALTY * math.log(1 + len(toks))
        spans = find_spans(kind, sentence) if kind in _SPAN_KINDS else []
        if spans:
            score += TYPE_BONUS + OWN_TYPE_BONUS * any(s.kind == kind for s in spans)
        scored.append(ScoredSentence(sentence, score + bonus, str(doc.meta.get("doc_id", doc.id)), rank, sim))
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

    Given ``sentence_vectors`` and, per request, the question's ``query_embedding`` (the one dense retrieval
    used, by the same model), the sentence score also weighs the question-sentence cosine
    (:func:`rank_sentences`, ``dense_weight``); without either, the ranking is lexical.

    ```python
    out = ExtractiveAnswerer().run(question="gold card annual fee?", documents=docs)
    out["replies"][0]            # e.g. 'RMB 600'
    out["meta"][0]["support"]    # 'The main card costs RMB 600 per year.'
    vectors = SentenceVectors.build(docs, "e5-small")
    dense = ExtractiveAnswerer(sentence_vectors=vectors)
    dense.run(question=q, documents=docs, query_embedding=load_embedding_model("e5-small").embed_queries([q])[0])
    ```
    """

    def __init__(self, *, max_passages: int = 3, return_sentence: bool = False, runner_up: float = 0.8,
                 sentence_vectors: SentenceVectorSource | None = None, dense_weight: float = DENSE_WEIGHT) -> None:
        """
        :param max_passages: how many of the retrieved passages are read (best first).
        :param return_sentence: answer with the whole supporting sentence, never a span.
        :param runner_up: look for the span in the second-best sentence too when it scores at least this
            fraction of the best one's score.
        :param sentence_vectors: the vectors of the passages' sentences (by the model that embeds the
            questions); ``None``: lexical ranking only.
        :param dense_weight: weight of the z-scored question-sentence cosine (0: lexical ranking only).
        :raises ValueError: ``max_passages`` < 1 or a negative ``dense_weight``.
        """
        if max_passages < 1:
            raise ValueError("max_passages must be >= 1")
        if dense_weight < 0:
            raise ValueError("dense_weight must be >= 0")
        self.max_passages = max_passages
        self.return_sentence = return_sentence
        self.runner_up = runner_up
        self.sentence_vectors = sentence_vectors
        self.dense_weight = dense_weight

    @property
    def dense(self) -> bool:
        """Whether a query embedding passed to :meth:`run` changes the ranking (vectors held, weight > 0)."""
        return self.sentence_vectors is not None and self.dense_weight > 0

    def similarity(self, query_embedding: np.ndarray | Sequence[float] | None) -> SentenceSimilarity | None:
        """The :data:`SentenceSimilarity` of a question embedding over :attr:`sentence_vectors` (``None`` when
        either is missing or the weight is 0)."""
        if query_embedding is None or not self.dense:
            return None
        source = self.sentence_vectors
        assert source is not None
        q = np.asarray(query_embedding, dtype=np.float32).reshape(-1)

        def cosine(doc: Document) -> np.ndarray | None:
            rows = source.vectors(doc)
            return None if rows is None or rows.shape[1] != q.shape[0] else rows @ q

        return cosine

    def answer(self, question: str, documents: list[Document], *,
               query_embedding: np.ndarray | Sequence[float] | None = None) -> tuple[str, dict[str, Any]]:
        """(answer, details) for ``question`` over ``documents``.

        :param question: the user's question.
        :param documents: the retrieved passages, best first.
        :param query_embedding: the question's embedding by the sentence vectors' model (dense ranking).
        :returns: the answer and ``{"support", "sentence", "doc_id", "span_type", "polarity", "dense"}``:
            ``support`` (= ``sentence``) is the sentence the answer comes from, ``span_type`` the kind of span
            taken (None when the answer is the whole sentence), ``polarity`` ``yes``/``no`` for a yes/no answer,
            ``dense`` whether the question-sentence cosine weighed in the ranking.
        """
        similarity = self.similarity(query_embedding)
        ranked = rank_sentences(question, documents, max_passages=self.max_passages,
                                sentence_similarity=similarity, dense_weight=self.dense_weight)
        if not ranked:
            return "", {"support": None, "sentence": None, "doc_id": None, "span_type": None, "polarity": None,
                        "dense": False}
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
                        "polarity": polarity(span.text) if span is not None and span.kind == "yesno" else None,
                        "dense": similarity is not None}

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, question: str, documents: list[Document], prompt: str = "",
            messages: list[dict[str, str]] | None = None,
            streaming_callback: Callable[[str], None] | None = None,
            query_embedding: np.ndarray | None = None) -> dict[str, Any]:
        """Answer ``question`` from ``documents`` (``prompt``/``messages`` are accepted and ignored;
        ``query_embedding``: the question's, for the dense sentence signal)."""
        answer, details = self.answer(question, documents, query_embedding=query_embedding)
        if streaming_callback is not None and answer:
            streaming_callback(answer)
        tokens = len(tokenize(answer, "auto", stopwords=False)) if answer else 0
        meta = {"model": "extractive", "completion_tokens": tokens, "language": detect_language(question), **details}
        return {"replies": [answer], "meta": [meta]}

    def to_dict(self) -> dict[str, Any]:
        """Init parameters; saved sentence vectors are referred to by their file (unsaved ones are left out)."""
        path = getattr(self.sentence_vectors, "path", None)
        return default_to_dict(self, max_passages=self.max_passages, return_sentence=self.return_sentence,
                               runner_up=self.runner_up, dense_weight=self.dense_weight,
                               sentence_vectors=str(path) if path is not None else None)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractiveAnswerer:
        """The answerer of :meth:`to_dict` (sentence vectors loaded from their file)."""
        params = dict(data.get("init_parameters", {}))
        if isinstance(params.get("sentence_vectors"), str):
            from workbench.components.generators.sentence_vectors import SentenceVectors

            params["sentence_vectors"] = SentenceVectors.load_file(params["sentence_vectors"])
        return default_from_dict(cls, {**data, "init_parameters": params})
