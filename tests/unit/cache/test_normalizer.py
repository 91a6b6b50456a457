from __future__ import annotations

from pathlib import Path

import pytest

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
