"""ROUGE-L (longest common *subsequence*) F-measure, for English words and Chinese characters.

English is tokenized with SQuAD's normalization (lower-case, no punctuation or articles); Chinese with
the CMRC mixed segmentation (one token per ideograph). F = (1 + β²)·P·R / (R + β²·P) with β = 1
(the harmonic mean, as ``rouge_score``'s ``fmeasure``); the best score over the references is kept::

    rouge_l("the card fee is 20 dollars", ["card fee: 20 dollars"], lang="en")
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.evaluation.metrics.answer.cmrc import cmrc_tokens
from workbench.evaluation.metrics.answer.overlap import best_f1, check_references
from workbench.evaluation.metrics.answer.squad import squad_tokens
from workbench.text import detect_language

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


def rouge_l(prediction: str, references: Sequence[str], *, lang: str | None = None) -> float:
    """The best ROUGE-L F1 over ``references``; ``lang`` (``en``/``zh``) picks the tokenizer, detected when ``None``."""
    check_references(references)
    lang = lang or detect_language(prediction + " " + references[0])
    tokenize = cmrc_tokens if lang == "zh" else squad_tokens
    return best_f1(tokenize(prediction), [tokenize(r) for r in references], lcs_length)
