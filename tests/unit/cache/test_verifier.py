from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.cache import NullVerifier, QueryNormalizer, RuleVerifier
from workbench.cache.verifier import term_pattern
from workbench.datasets import load_dataset


@pytest.mark.parametrize(("a", "b", "reason"), [
    ("how do i raise my credit limit", "how do i lower my credit limit", "direction"),
    ("跨行转3万多久到账", "跨行转30万多久到账", "numbers"),
    ("3个月定期利率", "3年定期利率", "numbers"),
    ("got a new login alert and it was me", "got a new login alert and it wasnt me", "negation"),
    ("金卡年费多少", "白金卡年费多少", "tier"),
    ("annual fee for a platinum supplementary card", "annual fee for a platinum card", "card_role"),
    ("柜台转账有没有限额", "atm转账有没有限额", "channel"),
])
def test_refuses_near_misses(a: str, b: str, reason: str) -> None:
    verdict = RuleVerifier().verify(a, b)
    assert verdict is not None and reason in verdict


@pytest.mark.parametrize(("a", "b"), [
    ("金卡年费多少", "金卡的年费是多少"),
    ("能不能在app上开储蓄账户", "储蓄账户能在app上开吗"),  # 能不能 is a question, not a negation
    ("12 month fixed deposit rate", "1 year fixed deposit rate"),
    ("whats the yearly fee on the gold card", "gold card annual fee"),
])
def test_accepts_paraphrases(a: str, b: str) -> None:
    assert RuleVerifier().verify(a, b) is None


def test_on_the_dataset() -> None:
    """The lexicon was written with the first 104 near-miss pairs in view; the grown pairs (``truth-nm-*``)
    were written without it, and are where its refusal rate is honest (measured: 236 of 317; scope pairs,
    which the threshold mostly separates anyway, 51 of 107)."""
    ds = load_dataset("meridian_bank")
    n, v = QueryNormalizer(), RuleVerifier()
    seen = [p for p in ds.near_misses if not p.id.startswith("truth-")]
    fresh = [p for p in ds.near_misses if p.id.startswith("truth-")]
    assert len(seen) >= 100 and len(fresh) >= 300
    refused_seen = sum(v.verify(n(p.a), n(p.b)) is not None for p in seen)
    refused_fresh = sum(v.verify(n(p.a), n(p.b)) is not None for p in fresh)
    assert refused_seen / len(seen) >= 0.95
    assert 0.70 <= refused_fresh / len(fresh) < refused_seen / len(seen)  # the optimism of tuning on one's data
    pairs = [(n(x), n(y)) for g in ds.paraphrases for x, y in itertools.combinations(g.paraphrases, 2)]
    accepted = sum(v.verify(x, y) is None for x, y in pairs)
    assert accepted / len(pairs) >= 0.4  # the price of safety: about half of paraphrase pairs are refused


def test_null_verifier_accepts_all() -> None:
    assert NullVerifier().verify("raise", "lower") is None


# -- properties over open-ended input (hypothesis; derandomized so CI sees the same examples) ----------
PROPERTY = settings(max_examples=200, derandomize=True, deadline=None)
_RULES = RuleVerifier()
_N = QueryNormalizer()
#: Text that mixes arbitrary characters with the words and numbers the rules look at.
_TERMS = st.sampled_from(["raise", "lower", "gold", "platinum", "金卡", "白金卡", "not", "不", "能不能", "3万", "30万",
                          "12 months", "1 year", "三个月", "atm", "柜台", "fee", "don't", "without", " "])
QUESTION = st.lists(st.one_of(_TERMS, st.text(max_size=8)), max_size=8).map(" ".join)


@PROPERTY
@given(QUESTION, QUESTION)
def test_verdict_is_symmetric(a: str, b: str) -> None:
    assert _RULES.verify(a, b) == _RULES.verify(b, a)
    assert _RULES.verify(_N(a), _N(b)) == _RULES.verify(_N(b), _N(a))


@PROPERTY
@given(QUESTION)
def test_a_question_always_verifies_against_itself(q: str) -> None:
    assert _RULES.verify(q, q) is None
    assert _RULES.verify(_N(q), _N(q.upper())) is None  # the same question in other case, once normalized


@PROPERTY
@given(st.text(max_size=60), st.text(max_size=60))
def test_never_raises_on_arbitrary_unicode(a: str, b: str) -> None:
    verdict = _RULES.verify(a, b)
    assert verdict is None or (isinstance(verdict, str) and verdict)


@PROPERTY
@given(st.lists(st.sampled_from(["gold", "card", "fee", "3万", "not", "柜台", "please", "today", "12 months"]),
                max_size=6).map(" ".join), st.sampled_from(["raise", "lower"]))
def test_opposite_directions_never_verify(rest: str, word: str) -> None:
    other = "lower" if word == "raise" else "raise"
    a, b = _N(f"how do i {word} my limit {rest}"), _N(f"how do i {other} my limit {rest}")
    assert _RULES.verify(a, b) is not None


def _alternation(terms: list[str]) -> re.Pattern[str]:
    """The plain alternation the trie must match exactly: longest first, Latin terms as whole words."""
    alts = []
    for term in sorted(terms, key=len, reverse=True):
        esc = re.escape(term)
        alts.append(rf"(?<![a-z0-9]){esc}(?![a-z0-9])" if re.fullmatch(r"[a-z0-9 ]+", term) else esc)
    return re.compile("|".join(alts))


_LEXICON_TERMS = sorted(_RULES._term)
_TEXT_FROM_TERMS = st.lists(st.one_of(st.sampled_from(_LEXICON_TERMS), st.sampled_from(list("ab1 卡不-")),
                                      st.text(max_size=4)), max_size=10).map("".join)


@PROPERTY
@given(_TEXT_FROM_TERMS)
def test_term_pattern_finds_what_the_alternation_finds(text: str) -> None:
    trie, plain = re.compile(term_pattern(_LEXICON_TERMS)), _alternation(_LEXICON_TERMS)
    assert [(m.start(), m.group(0)) for m in trie.finditer(text)] == \
        [(m.start(), m.group(0)) for m in plain.finditer(text)]


def test_term_pattern_longest_first_and_whole_words() -> None:
    pattern = re.compile(term_pattern(["gold", "gold card", "金卡", "金", "visa", "visa卡"]))
    assert pattern.findall("gold card or goldfish, 金卡 金 visa卡 visas") == ["gold card", "金卡", "金", "visa卡"]
    assert pattern.findall("agold gold2 gold") == ["gold"]
