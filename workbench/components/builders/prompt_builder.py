"""Turn the question and retrieved passages into a prompt (few-shot for small base models) and chat messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict

from workbench.components.generators.extractive import ExtractiveAnswerer, SentenceVectorSource, rank_sentences
from workbench.components.generators.reply import NOT_FOUND_REPLIES
from workbench.config import PromptConfig
from workbench.text import detect_language

__all__ = ["CROSS_LINGUAL_NOTES", "FEW_SHOT_EXAMPLES", "PROMPT_DENSE_WEIGHT", "PromptBuilder", "flatten_passage"]

#: Weight of the z-scored question-sentence cosine in the ranking of ``context="sentences"`` when the builder
#: holds sentence vectors and gets the question's embedding: ``prompt.sentence_dense_weight``'s default (the
#: config is the one source of it).
PROMPT_DENSE_WEIGHT: float = PromptConfig.model_fields["sentence_dense_weight"].default

# Worked examples written for this project, about topics outside the knowledge base (a car park and
# a library), so they show the answer format without leaking any fact the model is tested on. In order:
# an amount, a duration, a menu path, a yes/no clause (``examples: 2`` takes the first two).
FEW_SHOT_EXAMPLES: dict[str, list[tuple[list[str], str, str]]] = {
    "en": [
        (["Riverside car park: the first 2 hours are free. After that, each started hour costs 5 dollars. "
          "The car park closes at 23:00.", "Season tickets are sold at the office on level 1."],
         "how much is each hour after the free time", "5 dollars"),
        (["To renew a library card, open My Account > Renew Card on the website. A renewed card is valid for "
          "3 years.", "Lost cards are replaced at the front desk for a fee of 2 dollars."],
         "how long is a renewed card valid?", "3 years"),
        (["Library opening hours: Monday to Friday 08:00 to 21:00, weekends 10:00 to 18:00.",
          "To book a study room, open the library app and go to Services > Rooms > Book a Room.",
          "Rooms can be booked up to 7 days ahead."],
         "how do i book a study room in the app", "Services > Rooms > Book a Room"),
        (["Borrowed books can be renewed twice online.",
          "Overdue books cannot be renewed online; return them at the front desk first."],
         "can i renew an overdue book online", "Overdue books cannot be renewed online"),
    ],
    "zh": [
        (["滨江停车场前2小时免费，之后每小时收费5元，停车场每晚23:00关闭。", "月卡请到一楼服务台办理。"],
         "免费时间过了以后每小时多少钱", "5元"),
        (["图书证到期后，可在官网「我的账户」→「续办借书证」在线续办，续办后有效期为3年。", "借书证丢失可到总服务台补办，工本费2元。"],
         "续办的借书证有效期多久", "3年"),
        (["图书馆开放时间：周一至周五08:00至21:00，周末10:00至18:00。", "预约自习室：打开图书馆App，进入「服务」→「自习室」→「预约座位」。",
          "自习室最多可提前7天预约。"],
         "怎么在App上预约自习室", "「服务」→「自习室」→「预约座位」"),
        (["借阅的图书可在线续借两次。", "已逾期的图书不能在线续借，请先到服务台归还。"],
         "逾期的书还能在网上续借吗", "已逾期的图书不能在线续借"),
    ],
}

# Said after the question when some of the context is in another language than the question (a passage found
# only in that language, ``meta["cross_lingual"]``): without it a small chat model answers in the context's language.
CROSS_LINGUAL_NOTES = {
    "en": "Some of the context is in Chinese. Answer in English; copy amounts and app menu names exactly as "
          "the context writes them.",
    "zh": "部分资料是英文的。请用中文回答；金额和App菜单名称照资料原样抄写。",
}

_LABELS = {
    "en": {"instruction": "Answer the question using only the context. Reply with a short answer copied from "
                          "the context.", "context": "Context:", "question": "Question:", "answer": "Answer:"},
    "zh": {"instruction": "请根据下面的资料回答问题，只用资料中的原文简短作答。", "context": "资料：", "question": "问题：",
           "answer": "答案："},
}


_NOT_FOUND_RULES = {
    "en": f" If the context does not say it, reply exactly: {NOT_FOUND_REPLIES['en']}",
    "zh": f"如果资料中没有答案，只回答：{NOT_FOUND_REPLIES['zh']}",
}


def flatten_passage(text: str) -> str:
    """One line per passage for a numbered context, keeping section headings attached to their text:
    "Annual fee\nThe main card costs RMB 600." → "Annual fee: The main card costs RMB 600."."""
    out: list[str] = []
    for line in (x.strip() for x in text.splitlines()):
        if not line:
            continue
        if out and len(out[-1]) <= 40 and not out[-1].endswith((".", "。", "!", "！", "?", "？", ";", "；", ":", "：")):
            out[-1] = f"{out[-1]}{'：' if any(ord(c) > 0x2E7F for c in out[-1]) else ':'} {line}"
        else:
            out.append(line)
    return " ".join(" ".join(out).split())


def _block(lang: str, passages: list[str], question: str, answer: str | None, note: str = "") -> str:
    lab = _LABELS[lang]
    numbered = "\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1))
    sep = "" if lang == "zh" else " "
    tail = f"{lab['answer']}{sep}{answer}" if answer is not None else lab["answer"]
    asked = f"{lab['question']}{sep}{question}" + (f"\n{note}" if note else "")
    return f"{lab['context']}\n{numbered}\n{asked}\n{tail}"


@component
class PromptBuilder:
    """Builds ``prompt`` (plain text, ending in "Answer:") and ``messages`` (chat form) in the question's language.

    ``style="few-shot"`` prepends ``examples`` worked examples (Gemma-3-270M base answered 8/10 English
    questions right with two examples, 6/10 without, per ENVIRONMENT.md); passages are cut to
    ``max_context_chars`` in total. ``context="sentences"`` gives the model only the
    ``max_sentences`` best-ranked sentences (:func:`rank_sentences`): a 270M model copies the right
    span from a short context far more often than from three 600-character passages.

    Given ``sentence_vectors`` and, per request, the question's ``query_embedding`` (the one dense retrieval
    used), the sentences are ranked with the extractive answerer's dense signal too: ``sentence_dense_weight``
    x the z-scored question-sentence cosine (:func:`rank_sentences`, the same code as
    :class:`~workbench.components.generators.extractive.ExtractiveAnswerer`); without either, lexically.

    ```python
    out = PromptBuilder(max_passages=3).run(question="金卡年费多少", documents=docs)
    out["prompt"], out["messages"], out["language"]
    dense = PromptBuilder(context="sentences", sentence_vectors=kb.sentences)
    dense.run(question=q, documents=docs, query_embedding=embedding)["context"]
    ```
    """

    def __init__(self, *, style: str = "few-shot", examples: int = 2, max_passages: int = 3,
                 max_context_chars: int = 1500, context: str = "passages", max_sentences: int = 3,
                 cross_lingual_passages: int = 1, cross_lingual_chars: int = 400,
                 sentence_vectors: SentenceVectorSource | None = None,
                 sentence_dense_weight: float = PROMPT_DENSE_WEIGHT, not_found: bool = False) -> None:
        """
        :param style: ``few-shot`` (worked examples in the question's language first) or ``instruction``.
        :param examples: how many worked examples (0-4).
        :param max_passages: the passages (best first) the context is drawn from.
        :param max_context_chars: the budget of ``context="passages"``.
        :param context: ``passages`` (whole passages) or ``sentences`` (the best-ranked sentences).
        :param max_sentences: how many sentences ``context="sentences"`` keeps.
        :param cross_lingual_passages: how many passages found only in another language
            (``meta["cross_lingual"]``, from ``retriever.cross_lingual: partition``) are added to the
            context whole, wherever they rank: their sentences share no words with the question, so sentence
            ranking never picks them. The question then carries :data:`CROSS_LINGUAL_NOTES` (answer in the
            question's language). 0: none.
        :param cross_lingual_chars: each such passage is cut to this many characters.
        :param sentence_vectors: the vectors of the passages' sentences (by the model that embeds the
            questions) for ``context="sentences"``; ``None``: lexical ranking only.
        :param sentence_dense_weight: weight of the z-scored question-sentence cosine (0: lexical ranking only;
            default ``prompt.sentence_dense_weight``).
        :param not_found: tell the model to reply :data:`NOT_FOUND_REPLIES` when the context does not answer
            (``prompt.not_found``; the pipeline turns that reply into an abstention,
            :func:`~workbench.components.generators.reply.is_not_found`).
        :raises ValueError: an unknown ``style`` or ``context``, or a negative count or weight.
        """
        if style not in ("few-shot", "instruction"):
            raise ValueError("style must be 'few-shot' or 'instruction'")
        if context not in ("passages", "sentences"):
            raise ValueError("context must be 'passages' or 'sentences'")
        if cross_lingual_passages < 0 or cross_lingual_chars < 1:
            raise ValueError("cross_lingual_passages must be >= 0 and cross_lingual_chars >= 1")
        self.style, self.examples = style, examples
        self.max_passages, self.max_context_chars = max_passages, max_context_chars
        self.context, self.max_sentences = context, max_sentences
        self.cross_lingual_passages, self.cross_lingual_chars = cross_lingual_passages, cross_lingual_chars
        self.not_found = not_found
        # the extractive answerer's dense signal (its cosine over the sentence vectors), not a second ranker
        self._answerer = ExtractiveAnswerer(max_passages=max_passages, sentence_vectors=sentence_vectors,
                                            dense_weight=sentence_dense_weight)

    @property
    def sentence_vectors(self) -> SentenceVectorSource | None:
        """The sentence vectors the dense ranking reads (``None``: lexical only)."""
        return self._answerer.sentence_vectors

    @property
    def sentence_dense_weight(self) -> float:
        """Weight of the z-scored question-sentence cosine in the sentence ranking."""
        return self._answerer.dense_weight

    @property
    def dense(self) -> bool:
        """Whether a query embedding passed to :meth:`run` changes the context (sentence context, vectors
        held, weight > 0)."""
        return self.context == "sentences" and self._answerer.dense

    def context_texts(self, question: str, documents: list[Document], *,
                      query_embedding: np.ndarray | Sequence[float] | None = None) -> list[str]:
        """The numbered context entries: whole passages, or the best-ranked sentences of the passages (with
        the dense signal when ``query_embedding`` is given and :attr:`dense`); then the passages found only
        in another language (see ``cross_lingual_passages``)."""
        if self.context == "sentences":
            ranked = rank_sentences(question, documents, max_passages=self.max_passages,
                                    sentence_similarity=self._answerer.similarity(query_embedding),
                                    dense_weight=self.sentence_dense_weight)
            texts = [s.text for s in ranked[: self.max_sentences]]
        else:
            texts = self._passages(documents)
        return texts + self.other_language_texts(documents)

    def other_language_texts(self, documents: list[Document]) -> list[str]:
        """The passages found only in another language that the context adds (flattened, cut)."""
        shown = documents[: self.max_passages] if self.context == "passages" else []
        other = [d for d in documents if d.meta.get("cross_lingual") and not any(d is s for s in shown)]
        return [flatten_passage(d.content or "")[: self.cross_lingual_chars]
                for d in other[: self.cross_lingual_passages]]

    def _passages(self, documents: list[Document]) -> list[str]:
        out, budget = [], self.max_context_chars
        for d in documents[: self.max_passages]:
            text = flatten_passage(d.content or "")
            if budget <= 0:
                break
            out.append(text[:budget])
            budget -= len(out[-1])
        return out

    @component.output_types(prompt=str, messages=list[dict[str, str]], language=str, context=list[str])
    def run(self, question: str, documents: list[Document],
            query_embedding: np.ndarray | None = None) -> dict[str, Any]:
        """Build the prompt and messages for ``question`` over ``documents`` (``query_embedding``: the
        question's, by the sentence vectors' model, for the dense sentence ranking)."""
        lang = detect_language(question)
        lab = _LABELS[lang]
        instruction = lab["instruction"] + (_NOT_FOUND_RULES[lang] if self.not_found else "")
        shots = FEW_SHOT_EXAMPLES[lang][: self.examples] if self.style == "few-shot" else []
        passages = self.context_texts(question, documents, query_embedding=query_embedding)
        note = CROSS_LINGUAL_NOTES[lang] if any(detect_language(p) != lang for p in passages) else ""
        final = _block(lang, passages, question, None, note)
        parts = [instruction, *(_block(lang, p, q, a) for p, q, a in shots), final]
        prompt = "\n\n".join(parts)
        messages = [{"role": "system", "content": instruction}]
        for p, q, a in shots:
            messages.append({"role": "user", "content": _block(lang, p, q, None).rsplit("\n", 1)[0]})
            messages.append({"role": "assistant", "content": a})
        messages.append({"role": "user", "content": final.rsplit("\n", 1)[0]})
        return {"prompt": prompt, "messages": messages, "language": lang, "context": passages}

    def to_dict(self) -> dict[str, Any]:
        """Init parameters; saved sentence vectors are referred to by their file (unsaved ones are left out)."""
        vectors = self._answerer.to_dict()["init_parameters"]["sentence_vectors"]
        return default_to_dict(self, style=self.style, examples=self.examples, max_passages=self.max_passages,
                               max_context_chars=self.max_context_chars, context=self.context,
                               max_sentences=self.max_sentences, cross_lingual_passages=self.cross_lingual_passages,
                               cross_lingual_chars=self.cross_lingual_chars, sentence_vectors=vectors,
                               sentence_dense_weight=self.sentence_dense_weight, not_found=self.not_found)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptBuilder:
        """The builder of :meth:`to_dict` (sentence vectors loaded from their file)."""
        params = dict(data.get("init_parameters", {}))
        if isinstance(params.get("sentence_vectors"), str):
            from workbench.components.generators.sentence_vectors import SentenceVectors

            params["sentence_vectors"] = SentenceVectors.load_file(params["sentence_vectors"])
        return default_from_dict(cls, {**data, "init_parameters": params})
