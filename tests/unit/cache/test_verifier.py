from __future__ import annotations

import itertools

import pytest

from workbench.cache import NullVerifier, QueryNormalizer, RuleVerifier
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
    ds = load_dataset("meridian_bank")
    n, v = QueryNormalizer(), RuleVerifier()
    refused = sum(v.verify(n(p.a), n(p.b)) is not None for p in ds.near_misses)
    assert refused / len(ds.near_misses) >= 0.95
    pairs = [(n(x), n(y)) for g in ds.paraphrases for x, y in itertools.combinations(g.paraphrases, 2)]
    accepted = sum(v.verify(x, y) is None for x, y in pairs)
    assert accepted / len(pairs) >= 0.4  # the price of safety: about half of paraphrase pairs are refused


def test_null_verifier_accepts_all() -> None:
    assert NullVerifier().verify("raise", "lower") is None
