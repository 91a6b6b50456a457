"""The rules' domain words come from a lexicon file: the bundled bank lexicon, or a user's YAML or JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cache import CacheStack, Lexicon, RuleVerifier
from workbench.cache.testing import HashingEmbedder
from workbench.cache.verifier import LEXICONS_DIR
from workbench.config import PipelineConfig
from workbench.errors import ConfigError

TELECOM = {
    "name": "telecom",
    "max_one_sided": 0,
    "classes": {
        "plan": {"strict": True, "values": {"prepaid": ["prepaid", "pay as you go"], "contract": ["contract"]}},
        "roaming": {"values": {"roaming": ["roaming", "abroad"]}},
    },
}


def test_the_bank_lexicon_ships_next_to_the_module() -> None:
    lex = Lexicon.load("bank")
    assert Path(lex.source) == LEXICONS_DIR / "bank.yaml" and lex.name == "bank"
    assert {"direction", "tier", "channel"} <= set(lex.classes) and "tier" in lex.strict
    assert lex.classes["switch"]["on"][0] == "open"  # YAML keys "on"/"off" stay strings, not booleans
    assert RuleVerifier().lexicon == lex


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_user_lexicon_replaces_the_bank_words(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"telecom{suffix}"
    path.write_text(json.dumps(TELECOM))  # JSON is also valid YAML
    v = RuleVerifier(path)
    assert v.lexicon.name == "telecom" and v.lexicon.strict == frozenset({"plan"})
    assert v.verify("prepaid data bundle price", "contract data bundle price") == "plan differs"
    assert v.verify("data bundle price", "roaming data bundle price") == "roaming mentioned on one side only"
    assert v.verify("gold card fee", "platinum card fee") is None  # bank words mean nothing here
    assert RuleVerifier().verify("gold card fee", "platinum card fee") == "tier differs"


def test_extra_classes_extend_a_lexicon() -> None:
    v = RuleVerifier(extra_classes={"pet": {"cat": ("cat",), "dog": ("dog",)}})
    assert v.verify("is my cat insured", "is my dog insured") == "pet differs"


def test_language_rules_can_be_switched_off(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("name: plain\nnumbers: false\nnegation: false\n")
    v = RuleVerifier(path)
    assert v.verify("transfer 3 万", "transfer 30 万") is None and v.verify("it was me", "it wasnt me") is None
    assert RuleVerifier().verify("it was me", "it wasnt me") == "negation differs"


@pytest.mark.parametrize(("text", "match"), [
    ("name: x\nclasses:\n  a:\n    values: {}\n", "not a valid lexicon"),
    ("name: x\nclasses:\n  a:\n    values:\n      v: []\n", "needs non-empty terms"),
    ("name: x\nwords: []\n", "not a valid lexicon"),
    ("{{{", "not a valid lexicon"),
])
def test_a_bad_lexicon_file_is_a_config_error(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        Lexicon.load(path)


def test_an_unknown_lexicon_names_the_bundled_ones() -> None:
    with pytest.raises(ConfigError, match=r"bundled: \['bank'\]"):
        Lexicon.load("no-such-lexicon")


def test_the_config_names_the_lexicon(tmp_path: Path) -> None:
    path = tmp_path / "telecom.json"
    path.write_text(json.dumps(TELECOM))
    cfg = PipelineConfig().with_overrides({"cache.enabled": True, "cache.semantic.lexicon": str(path)})
    stack = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder())
    assert isinstance(stack.semantic.verifier, RuleVerifier) and stack.semantic.verifier.lexicon.name == "telecom"
    with pytest.raises(ConfigError, match="lexicon"):
        CacheStack.from_config(cfg.with_overrides({"cache.semantic.lexicon": str(tmp_path / "missing.yaml")}),
                               kb_version="v1", embedder=HashingEmbedder())
