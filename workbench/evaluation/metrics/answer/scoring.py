"""Score one answer against its references with the definition that fits its language.

English uses SQuAD's EM/F1 (word tokens, articles dropped); Chinese uses CMRC 2018's (character
tokens, longest common substring). The language is the question's (or detected from the references)::

    answer_scores("20 dollars", ["$20", "20 dollars"], lang="en")   # {'em': 1.0, 'f1': 1.0, 'rouge_l': 1.0}
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.evaluation.metrics.answer.cmrc import cmrc_em, cmrc_f1
from workbench.evaluation.metrics.answer.rouge import rouge_l
from workbench.evaluation.metrics.answer.squad import squad_em, squad_f1
from workbench.text import detect_language

__all__ = ["answer_scores", "exact_match", "f1_score"]


def _lang(references: Sequence[str], lang: str | None) -> str:
    if lang in ("en", "zh"):
        return lang
    if lang is not None:
        raise ValueError(f"unknown language {lang!r}; use 'en', 'zh' or None to detect")
    return detect_language(" ".join(references))


def exact_match(prediction: str, references: Sequence[str], *, lang: str | None = None) -> float:
    """SQuAD EM for English, CMRC EM for Chinese."""
    return cmrc_em(prediction, references) if _lang(references, lang) == "zh" else squad_em(prediction, references)


def f1_score(prediction: str, references: Sequence[str], *, lang: str | None = None) -> float:
    """SQuAD token F1 for English, CMRC character-level LCS F1 for Chinese."""
    return cmrc_f1(prediction, references) if _lang(references, lang) == "zh" else squad_f1(prediction, references)


def answer_scores(prediction: str, references: Sequence[str], *, lang: str | None = None) -> dict[str, float]:
    """``em``, ``f1`` and ``rouge_l`` of one prediction, each the best over the references."""
    language = _lang(references, lang)
    return {
        "em": exact_match(prediction, references, lang=language),
        "f1": f1_score(prediction, references, lang=language),
        "rouge_l": rouge_l(prediction, references, lang=language),
    }
