"""Abstention: answer "I couldn't find that in the knowledge base" when the retrieved passages do not answer.

A question the knowledge base does not answer still retrieves passages (the nearest ones), and an answerer
then quotes one of them confidently. The :class:`AbstentionGate` stage sits between retrieval and the
prompt: it scores the request's *signals* with a calibrated logistic model per question language
(:class:`GateModel`) and, when the score is above ``abstention.threshold``, stops the request there: the
prompt, the generator and the guard do not run (no sender of theirs produced anything, so they are skipped
in ``run``, ``arun``/``astream`` and the Haystack pipeline alike) and the pipeline answers with
:func:`abstain_answer` in the question's language, ``abstained=True``.

Signals (:func:`retrieval_signals`, plus the optional model check):

* ``dense_top1``: the best dense cosine (off-topic questions are far from everything);
* ``bm25_per_token``: the best BM25 score divided by the question's word count;
* ``coverage``: the IDF share of the question's words that occur in the best passage of its language;
* ``unknown_words``: the IDF share of its words that occur nowhere in the knowledge base;
* ``grounding``: a local chat model's log P(yes) - log P(no) for "does this text state the answer?" over
  the best sentences (:class:`GroundingCheck`, ``abstention.grounding: llm``): one forward pass, no
  sampling; a degraded plan (``QueryPlan(grounding=False)``) skips it and uses the retrieval-only gate.

```python
gate = GateModel.fit(rows, labels, signals=("dense_top1", "coverage"), max_false_abstain=0.05)
gate.logit({"dense_top1": 0.81, "coverage": 0.2}) > 0     # True: abstain
```
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict
from haystack.core.serialization_security import allow_deserialization_module

from workbench.components.builders.prompt_builder import flatten_passage
from workbench.components.generators.extractive import rank_sentences
from workbench.components.generators.verdict import VerdictModel
from workbench.components.worker import ComponentWorker
from workbench.errors import ConfigError
from workbench.stores import FaissDocumentStore
from workbench.text import detect_language, tokenize

__all__ = ["ABSTAIN_ANSWERS", "SIGNALS", "AbstentionGate", "CorpusVocabulary", "GateModel", "GroundingCheck",
           "abstain_answer", "grounding_lines", "retrieval_signals"]

#: What the pipeline answers when it abstains, per question language.
ABSTAIN_ANSWERS: dict[str, str] = {"en": "I couldn't find that in the knowledge base", "zh": "资料中没有找到相关内容"}

#: Every signal a gate can weigh (the names of ``abstention.*_gate.<lang>.weights``).
SIGNALS = ("dense_top1", "bm25_per_token", "coverage", "unknown_words", "grounding")

Signals = dict[str, float | None]


def abstain_answer(language: str) -> str:
    """The abstention answer in ``language`` (English for a language without one)."""
    return ABSTAIN_ANSWERS.get(language, ABSTAIN_ANSWERS["en"])


class CorpusVocabulary:
    """Document frequencies of the knowledge base's words (each passage tokenized once, ``auto`` mode).

    ```python
    vocab = CorpusVocabulary(d.content for d in kb.store.documents)
    vocab.idf("年费"), vocab.known("diamond")
    ```
    """

    def __init__(self, texts: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for text in texts:
            self.n += 1
            self.df.update(set(tokenize(text or "", "auto")))

    def idf(self, word: str) -> float:
        """``log(1 + n / df)`` (a word found nowhere counts as half a passage)."""
        return math.log(1 + self.n / (self.df.get(word) or 0.5))

    def known(self, word: str) -> bool:
        """Whether any passage contains ``word``."""
        return word in self.df


def retrieval_signals(question: str, documents: Sequence[Document], *, dense: Sequence[Document] | None,
                      bm25: Sequence[Document] | None, vocabulary: CorpusVocabulary,
                      language: str | None = None) -> Signals:
    """The retrieval signals of one request (see the module docstring); ``None`` for a signal its retrievers
    did not produce.

    :param question: the question.
    :param documents: the final ranked passages.
    :param dense: the dense retriever's passages (cosines), or ``None`` when dense retrieval is not configured.
    :param bm25: the BM25 retriever's passages, or ``None`` when BM25 is not configured.
    :param vocabulary: the knowledge base's words.
    :param language: the question's language (detected when ``None``).
    """
    language = language or detect_language(question)
    words = list(dict.fromkeys(tokenize(question, "auto")))
    weights = {w: vocabulary.idf(w) for w in words}
    mass = sum(weights.values()) or 1.0
    own = next((d for d in documents if d.meta.get("lang") == language and not d.meta.get("cross_lingual")),
               documents[0] if documents else None)
    found = set(tokenize(own.content or "", "auto")) if own is not None else set()
    return {
        "dense_top1": max((float(d.score or 0.0) for d in dense), default=None) if dense is not None else None,
        "bm25_per_token": (float(bm25[0].score or 0.0) / max(1, len(words)) if bm25 else 0.0)
        if bm25 is not None else None,
        "coverage": sum(w for t, w in weights.items() if t in found) / mass,
        "unknown_words": sum(w for t, w in weights.items() if not vocabulary.known(t)) / mass,
    }


@dataclass(frozen=True)
class GateModel:
    """A logistic abstention model over named signals: abstain when :meth:`logit` is above the threshold.

    ``bias`` already holds the cut picked at fitting time, so threshold 0 abstains on at most
    ``max_false_abstain`` of the answerable questions it was fit on.
    """

    bias: float
    weights: Mapping[str, float] = field(default_factory=dict)

    def logit(self, signals: Mapping[str, float | None]) -> float | None:
        """``bias + sum(weight * signal)``; ``None`` when a weighted signal is missing (the gate cannot decide)."""
        total = self.bias
        for name, weight in self.weights.items():
            value = signals.get(name)
            if value is None:
                return None
            total += weight * float(value)
        return total

    def to_config(self) -> dict[str, Any]:
        """The ``abstention.*_gate.<lang>`` section of this model (rounded for YAML)."""
        return {"bias": round(self.bias, 4), "weights": {k: round(v, 4) for k, v in self.weights.items()}}

    @classmethod
    def fit(cls, rows: Sequence[Mapping[str, float | None]], abstain: Sequence[bool], *, signals: Sequence[str],
            max_false_abstain: float = 0.05, l2: float = 1.0, iterations: int = 50) -> GateModel:
        """Fit on labelled requests: L2-regularized logistic regression (classes weighted equally, signals
        standardized, Newton steps), then the bias is moved so that at most ``max_false_abstain`` of the
        answerable rows score above 0.

        :param rows: the signals of each request.
        :param abstain: per row, whether it should abstain (an unanswerable question).
        :param signals: the signals to weigh (every row must have them).
        :param max_false_abstain: the share of answerable rows allowed above the cut.
        :param l2: the penalty on the standardized weights.
        :param iterations: Newton steps (it converges in far fewer).
        :returns: the model.
        :raises ValueError: no rows of one class, an unknown signal, or a row missing a signal.
        """
        unknown = set(signals) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown signals {sorted(unknown)}; choose from {SIGNALS}")
        y = np.asarray(abstain, dtype=float)
        if len(rows) != len(y) or y.sum() == 0 or y.sum() == len(y):
            raise ValueError("fit needs labels for every row and rows of both classes")
        try:
            x = np.array([[float(r[s]) for s in signals] for r in rows])  # type: ignore[arg-type]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"every row needs the signals {list(signals)}: {exc}") from None
        mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
        z = np.hstack([np.ones((len(y), 1)), (x - mu) / sd])
        sample_w = np.where(y == 1, 0.5 / y.sum(), 0.5 / (len(y) - y.sum())) * len(y)
        penalty = np.full(z.shape[1], l2)
        penalty[0] = 0.0
        beta = np.zeros(z.shape[1])
        for _ in range(iterations):
            p = 1 / (1 + np.exp(-(z @ beta)))
            grad = z.T @ (sample_w * (p - y)) + penalty * beta
            hess = (z * (sample_w * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.abs(step).max() < 1e-10:
                break
        weights = beta[1:] / sd
        bias = float(beta[0] - (weights * mu).sum())
        logits = bias + x @ weights
        answerable = np.sort(logits[y == 0])[::-1]
        k = math.floor(max_false_abstain * len(answerable))
        cut = float(answerable[k]) if k < len(answerable) else float(answerable[-1]) - 1e-9
        cut += 1e-9 * (1 + abs(cut))  # the row at the cut stays at or below it after rounding
        return cls(bias=bias - cut, weights={s: float(w) for s, w in zip(signals, weights, strict=True)})


# -- the model check ---------------------------------------------------------------------------------------
_SYSTEM = ("You check a bank help centre's search results. Reply yes if the numbered text states the answer to the "
           "customer's question. Reply no if it does not, also when it only gives a similar fact about a different "
           "product, card, currency, place or company. Reply with one word: yes or no.")

# Worked examples about topics outside the knowledge base (a car park, a library), as earlier chat turns: the
# prefix is the same for every question, so the model evaluates it once and then only each question's tokens.
_EXAMPLES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("Riverside car park: the first 2 hours are free. After that, each started hour costs 5 dollars.",
      "Season tickets are sold at the office on level 1."), "how much is each hour after the free time", "yes"),
    (("Riverside car park: the first 2 hours are free. After that, each started hour costs 5 dollars.",
      "Season tickets are sold at the office on level 1."), "how much does a season ticket cost", "no"),
    (("借书证丢失可到总服务台补办，工本费2元。", "图书馆开放时间：周一至周五08:00至21:00。"), "图书馆周日几点关门", "no"),
    (("借书证丢失可到总服务台补办，工本费2元。", "图书馆开放时间：周一至周五08:00至21:00。"), "借书证丢了补办要钱吗", "yes"),
)


def _user_turn(lines: Sequence[str], question: str) -> str:
    numbered = "\n".join(f"[{i}] {flatten_passage(line)}" for i, line in enumerate(lines, start=1))
    return f"Text:\n{numbered}\nQuestion: {question}"


def grounding_lines(question: str, documents: Sequence[Document], *, language: str | None = None,
                    sentences: int = 3) -> list[str]:
    """What :class:`GroundingCheck` reads: the ``sentences`` best sentences of the first three passages in the
    question's language, then the best sentence of each passage in another language (its title first: the
    words of the question rarely occur in it).

    ```python
    grounding_lines("gold card annual fee?", docs)   # ['Annual fee The main card costs RMB 600 per year.', ...]
    ```
    """
    language = language or detect_language(question)
    own = [d for d in documents if d.meta.get("lang", language) == language]
    lines = [s.text for s in rank_sentences(question, own[:3], max_passages=3)[:sentences]]
    for d in documents:
        if d.meta.get("lang", language) != language:
            best = rank_sentences(question, [d], max_passages=1)[:1]
            lines += [f"{d.meta.get('title') or ''}: {s.text}" for s in best]
    return lines


class GroundingCheck:
    """A local chat model asked whether numbered sentences state the answer to a question, scored by its
    next-token logits: ``log P(yes) - log P(no)`` (:class:`~workbench.components.generators.verdict.VerdictModel`:
    one forward pass, no sampling; the instruction and worked examples are a prefix llama.cpp keeps evaluated
    between calls). One call at a time.

    :param model: a bundled GGUF chat model (``qwen2.5-coder-0.5b``, ``qwen2.5-coder-1.5b``) or a path.
    :param threads: llama.cpp threads.
    :param context_window: the model's context in tokens.

    ```python
    check = GroundingCheck("qwen2.5-coder-0.5b")
    check.score("gold card annual fee?", ["Annual fee: The main card costs RMB 600 per year."])   # > 0: yes
    ```
    """

    def __init__(self, model: str = "qwen2.5-coder-0.5b", *, threads: int = 1, context_window: int = 2048) -> None:
        self.model = model
        self.threads = threads
        self.context_window = context_window
        self.verdict = VerdictModel(model, threads=threads, context_window=context_window,
                                    purpose="the grounding check")
        """The model and its yes/no scoring (:class:`~workbench.components.generators.verdict.VerdictModel`)."""

    def warm_up(self) -> None:
        """Load the model and evaluate the instruction and worked examples every check starts with (once): the
        model keeps that prefix, so the first request does not pay for it (its check took 3.0 s instead of 8.1 s for an
        English question with ``quality``'s 1.5B model on 2 threads).

        :raises ModelNotFoundError: the model is not installed.
        :raises GeneratorError: the model has no chat template.
        """
        if self.verdict.loaded:
            return
        self.verdict.warm_up()
        self.score("warm-up", ["warm-up"])

    @staticmethod
    def messages(question: str, lines: Sequence[str]) -> list[dict[str, str]]:
        """The chat messages asking whether ``lines`` answer ``question``."""
        msgs = [{"role": "system", "content": _SYSTEM}]
        for example, q, verdict in _EXAMPLES:
            msgs += [{"role": "user", "content": _user_turn(example, q)}, {"role": "assistant", "content": verdict}]
        return [*msgs, {"role": "user", "content": _user_turn(lines, question)}]

    def score(self, question: str, lines: Sequence[str]) -> float:
        """``log P(yes) - log P(no)``: above 0 the model says the lines answer the question.

        :raises GeneratorError: the model failed (a context overflow, a non-finite score).
        """
        return self.verdict.score(self.messages(question, lines))


# -- the stage ---------------------------------------------------------------------------------------------
@component
class AbstentionGate:
    """The abstention stage (see the module docstring): passes ``question`` and ``documents`` on when the
    passages answer, and only ``abstention`` (the decision, its score and signals) when they do not.

    :param store: the knowledge base's store (its passages give :class:`CorpusVocabulary`, rebuilt when an
        update replaces them).
    :param gates: per question language, ``{"bias": ..., "weights": {...}}`` (a language without one never
        abstains).
    :param threshold: abstain when the gate's logit is above this.
    :param dense: dense retrieval is configured (the ``dense_top1`` signal exists).
    :param lexical: BM25 retrieval is configured (the ``bm25_per_token`` signal exists).
    :param grounding_model: the :class:`GroundingCheck` model, or ``None`` for retrieval signals only.
    :param grounding_threads: its llama.cpp threads.

    ```python
    gate = AbstentionGate(kb.store, gates={"en": {"bias": 40.1, "weights": {"dense_top1": -46.0}}})
    gate.run(question="weather in paris", documents=docs, dense=docs, bm25=[])["abstention"]["abstained"]
    ```
    """

    def __init__(self, store: FaissDocumentStore, *, gates: Mapping[str, Mapping[str, Any]], threshold: float = 0.0,
                 dense: bool = True, lexical: bool = True, grounding_model: str | None = None,
                 grounding_threads: int = 1) -> None:
        self.store = store
        self.gates = {lang: {"bias": float(g.get("bias", 0.0)), "weights": dict(g.get("weights", {}))}
                      for lang, g in gates.items()}
        self.models = {lang: GateModel(g["bias"], g["weights"]) for lang, g in self.gates.items()}
        self.threshold = float(threshold)
        self.dense, self.lexical = dense, lexical
        self.grounding_model, self.grounding_threads = grounding_model, grounding_threads
        self.grounding = GroundingCheck(grounding_model, threads=grounding_threads) if grounding_model else None
        self._vocabulary: tuple[object, CorpusVocabulary] | None = None
        self.worker = ComponentWorker("abstain")
        """The thread ``run_async`` runs the grounding model on."""

    def vocabulary(self) -> CorpusVocabulary:
        """The knowledge base's words (rebuilt when the store's passages were replaced)."""
        docs = self.store.documents
        if self._vocabulary is None or self._vocabulary[0] is not docs:
            self._vocabulary = (docs, CorpusVocabulary(d.content or "" for d in docs))
        return self._vocabulary[1]

    def warm_up(self) -> None:
        """Count the knowledge base's words and load the grounding model (if any)."""
        self.vocabulary()
        if self.grounding is not None:
            self.grounding.warm_up()

    def signals(self, question: str, documents: Sequence[Document], *, dense: Sequence[Document],
                bm25: Sequence[Document], grounding: bool = True) -> Signals:
        """The signals of one request (:func:`retrieval_signals`; ``grounding`` too when this gate has a
        grounding model and ``grounding`` is true). Calibration reads them through this method.

        :raises GeneratorError: the grounding model failed.
        """
        language = detect_language(question)
        signals = retrieval_signals(question, documents, dense=dense if self.dense else None,
                                    bm25=bm25 if self.lexical else None, vocabulary=self.vocabulary(),
                                    language=language)
        if self.grounding is not None and grounding:
            signals["grounding"] = self.grounding.score(question, grounding_lines(question, documents,
                                                                                   language=language))
        return signals

    @component.output_types(question=str, documents=list[Document], abstention=dict[str, Any])
    def run(self, question: str, documents: list[Document], dense: list[Document],
            bm25: list[Document]) -> dict[str, Any]:
        """Decide for one request.

        :param question: the question.
        :param documents: the final ranked passages.
        :param dense: the dense retriever's passages (read when dense retrieval is configured).
        :param bm25: the BM25 retriever's passages (read when BM25 is configured).
        :returns: ``{"question", "documents", "abstention"}`` to answer; only ``{"abstention"}`` to abstain.
            ``abstention``: ``abstained``, ``score`` (the logit, ``None`` when undecided), ``reason`` and the
            ``signals``.
        :raises GeneratorError: the grounding model failed.
        """
        language = detect_language(question)
        model = self.models.get(language)
        decision: dict[str, Any] = {"abstained": False, "score": None, "reason": None, "signals": {}}
        if not documents:
            decision.update(abstained=True, reason="no passages")
            return {"abstention": decision}
        if model is None:
            decision["reason"] = f"no gate for language {language!r}"
            return {"question": question, "documents": documents, "abstention": decision}
        signals = self.signals(question, documents, dense=dense, bm25=bm25,
                               grounding="grounding" in model.weights)
        score = model.logit(signals)
        decision.update(score=score, signals=signals)
        if score is None:
            decision["reason"] = "a weighted signal is missing under this plan"
        elif score > self.threshold:
            decision.update(abstained=True, reason="gate")
            return {"abstention": decision}
        return {"question": question, "documents": documents, "abstention": decision}

    @component.output_types(question=str, documents=list[Document], abstention=dict[str, Any])
    async def run_async(self, question: str, documents: list[Document], dense: list[Document],
                        bm25: list[Document]) -> dict[str, Any]:
        """:meth:`run`, on the gate's worker thread when it asks the grounding model."""
        if self.grounding is None:
            return self.run(question=question, documents=documents, dense=dense, bm25=bm25)
        return await self.worker.call(self.run, question=question, documents=documents, dense=dense, bm25=bm25)

    def close(self) -> None:
        """Stop the worker thread (the model stays loaded)."""
        self.worker.close()

    def to_dict(self) -> dict[str, Any]:
        """Serialize with a reference to the saved store folder (like the dense retriever)."""
        if self.store.path is None:
            raise ConfigError("this store was never saved; save it (or build it with load_knowledge_base) before "
                              "serializing the pipeline")
        return default_to_dict(self, store=str(self.store.path), gates=self.gates, threshold=self.threshold, dense=self.dense,
                               lexical=self.lexical, grounding_model=self.grounding_model,
                               grounding_threads=self.grounding_threads)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AbstentionGate:
        """Load the referenced store folder."""
        data["init_parameters"]["store"] = FaissDocumentStore.load(data["init_parameters"]["store"])
        return default_from_dict(cls, data)


allow_deserialization_module("workbench.pipelines.abstention")
