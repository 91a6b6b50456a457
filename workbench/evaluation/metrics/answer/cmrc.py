"""CMRC 2018 exact match and F1 for Chinese answers, as the official ``cmrc2018_evaluate.py`` defines them.

Written from the definitions in words (``../shared/data/README.md``), not from the script:

* Both metrics first lower-case and strip the text.
* A fixed punctuation list (:data:`CMRC_PUNCTUATION`) is removed; other punctuation (``. , ! ? ( )``...)
  is kept. The list's two-character entry ``……`` can never match one character, so a lone ``…`` stays.
* **EM**: the strings, with listed punctuation deleted, are equal.
* **F1**: segment into tokens (every CJK ideograph U+4E00–U+9FA5 is a token; runs of anything else are
  word-tokenized the way NLTK's ``word_tokenize`` does); listed punctuation is skipped while reading,
  so it neither becomes a token nor breaks a run (the script's ``rm_punc`` path). L is the length of
  the **longest common contiguous** token substring; P = L/len(prediction), R = L/len(reference).
* The score of a question is the maximum over its references; corpus scores are means × 100.

Non-CJK runs use NLTK's Treebank-style word tokenizer directly. The official script calls
``nltk.word_tokenize``, which first splits sentences with the Punkt model; on answer-length strings
that only matters for a sentence-final period inside a run, a documented (tiny) difference::

    cmrc_em("《红楼梦》", ["红楼梦"])     # 1.0: 《 》 are on the list
    cmrc_f1("北京大学", ["北京"])          # LCS 2, P 2/4, R 2/2 → 0.667
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from workbench.evaluation.metrics.answer.overlap import best_f1, check_references

__all__ = ["CMRC_PUNCTUATION", "cmrc_em", "cmrc_f1", "cmrc_tokens", "longest_common_substring"]

#: The official punctuation list (``……`` is one entry of two characters).
CMRC_PUNCTUATION: tuple[str, ...] = (
    "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
    "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、",
    "「", "」", "（", "）", "－", "～", "『", "』",
)
_PUNCT_CHARS = frozenset(CMRC_PUNCTUATION)  # tested one character at a time: "……" never matches

_word_tokenize: Callable[[str], list[str]] | None = None
_lock = threading.Lock()


def _words(text: str) -> list[str]:
    global _word_tokenize
    if _word_tokenize is None:
        with _lock:
            if _word_tokenize is None:
                from nltk.tokenize import NLTKWordTokenizer

                _word_tokenize = NLTKWordTokenizer().tokenize
    return _word_tokenize(text)


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fa5"


def cmrc_tokens(text: str, *, drop_punctuation: bool = True) -> list[str]:
    """Mixed segmentation: one token per CJK ideograph (and per listed punctuation mark when kept),
    word tokens for the runs in between.

    >>> cmrc_tokens("2018年CMRC比赛")
    ['2018', '年', 'cmrc', '比', '赛']
    """
    text = text.lower().strip()
    tokens: list[str] = []
    run: list[str] = []
    for ch in text:
        if ch in _PUNCT_CHARS:
            if drop_punctuation:
                continue
        elif not _is_cjk(ch):
            run.append(ch)
            continue
        if run:
            tokens.extend(_words("".join(run)))
            run = []
        tokens.append(ch)
    if run:
        tokens.extend(_words("".join(run)))
    return tokens


def longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common *contiguous* run of two token sequences (dynamic programming, O(len a · len b)).

    >>> longest_common_substring(list("abcde"), list("xbcdy"))
    3
    """
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def _strip_punct(text: str) -> str:
    return "".join(ch for ch in text.lower().strip() if ch not in _PUNCT_CHARS)


def cmrc_em(prediction: str, references: Sequence[str]) -> float:
    """1.0 when the prediction equals a reference after lower-casing, stripping and deleting listed punctuation."""
    check_references(references)
    pred = _strip_punct(prediction)
    return 1.0 if any(pred == _strip_punct(r) for r in references) else 0.0


def cmrc_f1(prediction: str, references: Sequence[str]) -> float:
    """The best longest-common-substring F1 over the references."""
    check_references(references)
    return best_f1(cmrc_tokens(prediction), [cmrc_tokens(r) for r in references], longest_common_substring)
