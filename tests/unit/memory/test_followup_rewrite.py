"""The deterministic follow-up rewriter."""

from __future__ import annotations

import pytest

from workbench.memory import META_STANDALONE, MemoryView, RuleBasedRewriter, Turn, rewrite_followup


def _view(*pairs: tuple[str, dict[str, str]]) -> MemoryView:
    turns = tuple(Turn(i + 1, q, "answer", 0.0, meta) for i, (q, meta) in enumerate(pairs))
    return MemoryView("bank", "s1", turns, None, 0, len(turns))


@pytest.mark.parametrize(("previous", "question", "expected"), [
    ("what's the annual fee on the gold card?", "and for the platinum one?",
     "what's the annual fee on the platinum card?"),
    ("what's the annual fee on the gold card?", "what's its credit limit?", "what's the gold card's credit limit?"),
    ("car loan interest rate", "is there a fee to pay it off early?", "is there a fee to pay the car loan off early?"),
    ("金卡年费多少", "那白金卡呢？", "白金卡年费多少"),
    ("经典卡额度一般多少", "金卡呢", "金卡额度一般多少"),
    ("白金卡年费多少", "它的额度是多少", "白金卡的额度是多少"),
    ("子午易贷最多能贷多少", "利率多少", "子午易贷利率多少"),
])
def test_followups_become_standalone(previous: str, question: str, expected: str) -> None:
    assert rewrite_followup(_view((previous, {})), question) == expected


@pytest.mark.parametrize("question", [
    "how do i reset my debit card pin",              # names its own product, not elliptical
    "what is the platinum concierge phone number and opening hours for the branch",   # long
    "白金卡年费多少",
])
def test_standalone_questions_pass_through(question: str) -> None:
    assert rewrite_followup(_view(("what's the annual fee on the gold card?", {})), question) == question


def test_no_history_no_rewrite() -> None:
    assert rewrite_followup(_view(), "and for the platinum one?") == "and for the platinum one?"


def test_chains_use_the_previous_standalone_question() -> None:
    view = _view(("金卡年费多少", {}), ("那白金卡呢？", {META_STANDALONE: "白金卡年费多少"}))
    assert rewrite_followup(view, "经典卡呢") == "经典卡年费多少"


def test_custom_rewriter_is_pluggable() -> None:
    assert rewrite_followup(_view(("q", {})), "x", rewriter=lambda v, q: q.upper()) == "X"
    r = RuleBasedRewriter()
    assert [e.key for _, _, e in r.find("gold card vs 白金卡")] == ["gold", "platinum"]
