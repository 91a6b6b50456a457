"""ROUGE-L (longest common *subsequence*) F-measure, for English words and Chinese characters.

English is tokenized with SQuAD's normalization (lower-case, no punctuation or articles); Chinese with
the CMRC mixed segmentation (one token per ideograph). F = (1 + β²)·P·R / (R + β²·P) with β = 1
(the harmonic mean, as ``rouge_score``'s ``fmeasure``); the best score over the references is kept::

    rouge_l("the card fee is 20 dollars", ["card fee: 20 dollars"], lang="en")
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.evaluation.metrics.answer.cmrc import cmrc_tokens
from workbench.evaluation.metrics.answer.language import scoring_language
from workbench.evaluation.metrics.answer.overlap import best_f1, check_references
from workbench.evaluation.metrics.answer.squad import squad_tokens

__all__ = ["lcs_length", "rouge_l"]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (not necessarily contiguous).

    >>> lcs_length(list("abcde"), list("aXcYe"))
    3
    """
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            cur[j] = prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, references: Sequence[str], *, lang: str | None = None,
            question: str | None = None) -> float:
    """The best ROUGE-L F1 over ``references``; the tokenizer follows ``lang`` (``en``/``zh``) or, when it is
    ``None``, the question's language (see :func:`~workbench.evaluation.metrics.answer.language.scoring_language`)."""
    check_references(references)
    tokenize = cmrc_tokens if scoring_language(lang, question) == "zh" else squad_tokens
    return best_f1(tokenize(prediction), [tokenize(r) for r in references], lcs_length)
