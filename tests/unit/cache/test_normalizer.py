from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.cache import QueryNormalizer, load_intent_map
from workbench.config import NormalizerConfig
from workbench.errors import ConfigError


@pytest.mark.parametrize(("raw", "expected"), [
    ("  What's my ＧＯＬＤ card fee？ ", "whats my gold card fee"),
    ("HOW   do I\traise my limit!!", "how do i raise my limit"),
    ("金卡年费多少？", "金卡年费多少"),
    ("跨行转 3万 多久到账。", "跨行转3万多久到账"),
    ("ATM 取款，手续费", "atm取款手续费"),
    ("a 30,000 transfer", "a 30000 transfer"),
    ("rate 1.5% vs 15%", "rate 1.5% vs 15%"),
    ("ｆｅｅ　ｆｏｒ　１２ｍｏｎｔｈｓ", "fee for 12months"),
])
def test_normalizes_zh_and_en(raw: str, expected: str) -> None:
    assert QueryNormalizer()(raw) == expected


def test_decimal_points_are_kept() -> None:
    n = QueryNormalizer()
    assert n("rate 0.5%") != n("rate 5%")


def test_punctuation_can_be_kept() -> None:
    assert QueryNormalizer(strip_punctuation=False)("Fee?") == "fee?"


def test_intent_map_applies_only_where_it_says() -> None:
    n = QueryNormalizer(intent_map={"我有多少额度": "查询信用卡可用额度"})
    assert n("我有多少额度？") == "查询信用卡可用额度"
    assert n("我有多少额度吗") == "我有多少额度吗"


def test_intent_map_file_both_forms(tmp_path: Path) -> None:
    f = tmp_path / "map.yaml"
    f.write_text("查询信用卡可用额度:\n  - 我有多少额度\n  - 我的额度还剩多少\nhow much can i spend: check available credit\n",
                 encoding="utf-8")
    n = QueryNormalizer.from_config(NormalizerConfig(intent_map=str(f)))
    assert n("我的额度还剩多少") == n("我有多少额度") == "查询信用卡可用额度"
    assert n("How much can I spend?") == "check available credit"


def test_bad_intent_map_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_intent_map(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_intent_map(bad)


# -- properties over open-ended input (hypothesis; derandomized so CI sees the same examples) ----------
PROPERTY = settings(max_examples=300, derandomize=True, deadline=None)
_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in string.ascii_letters + string.digits + "!?,.%#&@()"}
ASCII_QUESTION = st.text(alphabet=string.ascii_letters + string.digits + " ?!,.'%", max_size=60)


@PROPERTY
@given(st.text(max_size=80))
def test_normalizing_twice_changes_nothing(text: str) -> None:
    n = QueryNormalizer()
    once = n(text)
    assert n(once) == once


@PROPERTY
@given(st.text(max_size=80))
def test_never_raises_and_leaves_no_outer_or_double_space(text: str) -> None:
    out = QueryNormalizer()(text)
    assert out == out.strip() and "  " not in out


@PROPERTY
@given(ASCII_QUESTION)
def test_full_width_and_half_width_are_the_same_question(text: str) -> None:
    n = QueryNormalizer()
    wide = "".join(_FULL_WIDTH.get(c, "\u3000" if c == " " else c) for c in text)
    assert n(wide) == n(text)


@PROPERTY
@given(ASCII_QUESTION)
def test_case_does_not_matter(text: str) -> None:
    n = QueryNormalizer()
    assert n(text.upper()) == n(text.lower()) == n(text.swapcase())


@PROPERTY
@given(st.text(max_size=40), st.sampled_from(["  ", "\t", "\n", " \u3000 "]))
def test_whitespace_runs_count_as_one_space(text: str, gap: str) -> None:
    n = QueryNormalizer()
    assert n(f"{text}{gap}gold card") == n(f"{text} gold card")
