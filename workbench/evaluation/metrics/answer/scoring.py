"""Score one answer against its references with the definition that fits its language.

English uses SQuAD's EM/F1 (word tokens, articles dropped); Chinese uses CMRC 2018's (character
tokens, longest common substring). The language is the dataset's (``lang=``) or the question's
(``question=``, :func:`workbench.text.detect_language`); it is never guessed from the references: an
English question whose references include a CJK alias is still scored with SQuAD's rules::

    answer_scores("20 dollars", ["$20", "20 dollars"], lang="en")   # {'em': 1.0, 'f1': 1.0, 'rouge_l': 1.0}
    answer_scores("中华", ["Zhongguo", "中国"], question="What is China called in Chinese?")  # SQuAD rules
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.evaluation.metrics.answer.cmrc import cmrc_em, cmrc_f1
from workbench.evaluation.metrics.answer.language import scoring_language
from workbench.evaluation.metrics.answer.rouge import rouge_l
from workbench.evaluation.metrics.answer.squad import squad_em, squad_f1

__all__ = ["answer_scores", "exact_match", "f1_score"]


def exact_match(prediction: str, references: Sequence[str], *, lang: str | None = None,
                question: str | None = None) -> float:
    """SQuAD EM for English, CMRC EM for Chinese (language: see :func:`scoring_language`)."""
    if scoring_language(lang, question) == "zh":
        return cmrc_em(prediction, references)
    return squad_em(prediction, references)


def f1_score(prediction: str, references: Sequence[str], *, lang: str | None = None,
             question: str | None = None) -> float:
    """SQuAD token F1 for English, CMRC character-level LCS F1 for Chinese (language: see :func:`scoring_language`)."""
    if scoring_language(lang, question) == "zh":
        return cmrc_f1(prediction, references)
    return squad_f1(prediction, references)


def answer_scores(prediction: str, references: Sequence[str], *, lang: str | None = None,
                  question: str | None = None) -> dict[str, float]:
    """``em``, ``f1`` and ``rouge_l`` of one prediction, each the best over the references
    (language: see :func:`scoring_language`)."""
    language = scoring_language(lang, question)
    return {
        "em": exact_match(prediction, references, lang=language),
        "f1": f1_score(prediction, references, lang=language),
        "rouge_l": rouge_l(prediction, references, lang=language),
    }
