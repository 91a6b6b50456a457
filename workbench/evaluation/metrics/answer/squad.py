"""SQuAD v1.1 exact match and token F1 for English answers.

Normalization (the SQuAD definition): lower-case, delete ASCII punctuation (``string.punctuation``),
delete the articles *a*, *an*, *the* as whole words, collapse whitespace. F1 is the bag-of-tokens
overlap of the normalized prediction and reference; a question's score is the maximum over its
references::

    squad_em("The Eiffel Tower!", ["eiffel tower"])      # 1.0
    squad_f1("gold card fee", ["the gold card annual fee"])  # P 1, R 3/4 → 0.857...
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from workbench.evaluation.metrics.answer.overlap import bag_overlap, best_f1, check_references

__all__ = ["normalize_squad", "squad_em", "squad_f1", "squad_tokens"]

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_squad(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse whitespace (SQuAD's ``normalize_answer``)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def squad_tokens(text: str) -> list[str]:
    """The normalized whitespace tokens of ``text``."""
    return normalize_squad(text).split()


def squad_em(prediction: str, references: Sequence[str]) -> float:
    """1.0 when the normalized prediction equals a normalized reference, else 0.0."""
    check_references(references)
    norm = normalize_squad(prediction)
    return 1.0 if any(norm == normalize_squad(r) for r in references) else 0.0


def squad_f1(prediction: str, references: Sequence[str]) -> float:
    """The best token F1 against any reference (0.0 when nothing overlaps, as in SQuAD v1.1)."""
    check_references(references)
    return best_f1(squad_tokens(prediction), [squad_tokens(r) for r in references], bag_overlap)
