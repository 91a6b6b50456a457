"""What the token-overlap answer metrics share: the reference check and the best F1 over references.

SQuAD F1 (bag of tokens), CMRC F1 (longest common substring) and ROUGE-L (longest common subsequence)
differ only in how they measure the overlap ``L`` of two token sequences; each then scores
P = L/len(prediction), R = L/len(reference), F1 = 2PR/(P + R) (0 when nothing overlaps) and keeps the
best reference::

    best_f1(["gold", "card"], [["gold", "card", "fee"]], bag_overlap)     # P 1, R 2/3 → 0.8
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

__all__ = ["Overlap", "bag_overlap", "best_f1", "check_references"]

Overlap = Callable[[Sequence[str], Sequence[str]], int]
"""(prediction tokens, reference tokens) → how many tokens they share."""


def check_references(references: Sequence[str]) -> None:
    """Reject one string passed as the references (a common slip) and an empty list.

    :raises TypeError: ``references`` is a string.
    :raises ValueError: ``references`` is empty.
    """
    if isinstance(references, str):
        raise TypeError("references must be a sequence of strings, not one string")
    if not references:
        raise ValueError("at least one reference answer is needed")


def bag_overlap(prediction: Sequence[str], reference: Sequence[str]) -> int:
    """Tokens in common counted with multiplicity (SQuAD's bag-of-tokens overlap)."""
    return sum((Counter(prediction) & Counter(reference)).values())


def best_f1(prediction: Sequence[str], references: Sequence[Sequence[str]], overlap: Overlap) -> float:
    """The best F1 of ``prediction`` against any of ``references`` (token lists) under ``overlap``."""
    best = 0.0
    for reference in references:
        common = overlap(prediction, reference)
        if common == 0:
            continue
        precision, recall = common / len(prediction), common / len(reference)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
