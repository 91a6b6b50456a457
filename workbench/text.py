"""Language-aware text primitives shared by the splitter, BM25, the extractive answerer and prompts.

Chinese has no spaces: sentences end in 。！？；, and BM25 needs words, so Chinese runs are segmented
with jieba (or character bigrams), while other runs are lower-cased word tokens::

    detect_language("我的金卡年费多少")        # 'zh'
    split_sentences("First. Second! 第三。第四？")  # ['First.', 'Second!', '第三。', '第四？']
    tokenize("金卡年费 annual fee", "auto")      # ['金卡', '年费', 'annual', 'fee']
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Literal

__all__ = [
    "TOKENIZER_VERSION",
    "Tokenizer",
    "contains_cjk",
    "detect_language",
    "get_tokenizer",
    "split_sentences",
    "tokenize",
]

Tokenizer = Literal["auto", "jieba", "bigram", "whitespace"]

#: Bumped whenever :func:`tokenize` changes its output: saved BM25 indexes are keyed by it.
TOKENIZER_VERSION = 2

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(r"[0-9a-zA-Z][0-9a-zA-Z'_.%]*[0-9a-zA-Z%]|[0-9a-zA-Z]")
_THOUSANDS = re.compile(r"(\d),(\d{3})(?!\d)")
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])\s*|(?<=[.])\s+(?=[A-Z0-9\"'(\[\u3400-\u9fff])|\n+")

# Common English function words; dropping them keeps BM25 on the content words customers type.
_EN_STOP = frozenset(
    "a an the and or but if of to in on at for from by with about as is are was were be been being "
    "do does did doing have has had i me my we our you your it its this that these those there here "
    "what which who whom how when where why can could would should will shall may might must please "
    "hi hello thanks thank so just get got any some".split()
)
_ZH_STOP = frozenset("的 了 吗 呢 啊 吧 是 我 你 在 和 与 及 或 请问 一下 怎么 如何 什么 多少 可以 能 要 有 没有 哪些 哪里 么".split())


def contains_cjk(text: str) -> bool:
    """True when the text has at least one CJK ideograph."""
    return _CJK_RE.search(text) is not None


def detect_language(text: str) -> Literal["zh", "en"]:
    """``'zh'`` when CJK ideographs make up at least 20% of the letters, else ``'en'``."""
    cjk = len(_CJK_RE.findall(text))
    if cjk == 0:
        return "en"
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return "zh" if cjk / (cjk + latin) >= 0.2 else "en"


def split_sentences(text: str) -> list[str]:
    """Split Chinese and English text into sentences, keeping the end punctuation."""
    parts = _SENTENCE_END.split(text)
    return [p.strip() for p in parts if p and p.strip()]


_jieba_lock = threading.Lock()
_jieba_cut: Callable[[str], list[str]] | None = None


def _jieba() -> Callable[[str], list[str]]:
    global _jieba_cut
    if _jieba_cut is None:
        with _jieba_lock:
            if _jieba_cut is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_cut = jieba.lcut
    return _jieba_cut


def _bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokenize(text: str, mode: Tokenizer = "auto", *, stopwords: bool = True) -> list[str]:
    """Tokens for lexical matching (BM25, overlap scores), lower-cased.

    ``auto`` and ``jieba`` segment Chinese runs with jieba; ``bigram`` uses overlapping character
    bigrams; ``whitespace`` splits on spaces only (what a naive BM25 does: one token per Chinese
    sentence). Latin runs become lower-cased words; English stopwords are dropped when ``stopwords``.
    """
    text = _THOUSANDS.sub(r"\1\2", text.lower())  # "50,000" and "50000" are one token
    if mode == "whitespace":
        return text.split()
    tokens: list[str] = []
    pos = 0
    for m in _CJK_RUN.finditer(text):
        tokens.extend(_latin_words(text[pos : m.start()], stopwords))
        run = m.group()
        if mode == "bigram":
            tokens.extend(_bigrams(run))
        else:
            words = _jieba()(run)
            tokens.extend(w for w in words if not (stopwords and w in _ZH_STOP))
        pos = m.end()
    tokens.extend(_latin_words(text[pos:], stopwords))
    return tokens


def _fold(word: str) -> str:
    """Light plural folding ("fees" → "fee", "charges" → "charge"); digits and short words are left alone."""
    if len(word) > 3 and word.isalpha() and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _latin_words(chunk: str, stopwords: bool) -> list[str]:
    words = _WORD.findall(chunk)
    if stopwords:
        words = [w for w in words if w not in _EN_STOP]
    return [_fold(w) for w in words]


def get_tokenizer(mode: Tokenizer = "auto") -> Callable[[str], list[str]]:
    """A one-argument tokenizer function for ``mode``."""
    if mode not in ("auto", "jieba", "bigram", "whitespace"):
        raise ValueError(f"unknown tokenizer {mode!r}; use auto, jieba, bigram or whitespace")
    return lambda text: tokenize(text, mode)
