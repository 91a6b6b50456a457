"""Query normalization before cache lookups, for Chinese and English.

Steps: Unicode NFKC (full-width letters, digits and punctuation become half-width), case folding,
punctuation removed (decimal points and thousands separators inside numbers are kept or folded so
that "1.5" never becomes "15"), whitespace collapsed and removed next to Chinese characters (Chinese
spacing is arbitrary), then a configurable canonical-intent map applied to whole queries::

    n = QueryNormalizer(intent_map={"我有多少额度": "查询信用卡可用额度"})
    n("  What's my ＧＯＬＤ card fee？ ")     # 'whats my gold card fee'
    n("我有多少额度？")                      # '查询信用卡可用额度'
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from workbench.config import NormalizerConfig
from workbench.errors import ConfigError

__all__ = ["QueryNormalizer", "load_intent_map"]

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff"
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL = re.compile(r"(?<=\d)\.(?=\d)")
_APOSTROPHES = re.compile(r"['’‘`]")
_SPACES = re.compile(r"\s+")
_DECIMAL_MARK = "\u2024"  # one-dot leader: a placeholder for a protected decimal point (category Po, but restored)
_KEEP = frozenset("%+#&@")


def _strip_punct(text: str) -> str:
    text = _APOSTROPHES.sub("", text)
    text = _THOUSANDS.sub("", text)
    text = _DECIMAL.sub(_DECIMAL_MARK, text)
    out = []
    for ch in text:
        if ch == _DECIMAL_MARK:
            out.append(".")
        elif ch in _KEEP:
            out.append(ch)
        elif unicodedata.category(ch)[0] == "P":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def load_intent_map(path: str | Path) -> dict[str, str]:
    """Read a YAML/JSON intent map: ``{phrasing: canonical}`` or ``{canonical: [phrasing, ...]}``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"intent map file {str(p)!r} does not exist", field="cache.normalizer.intent_map")
    try:
        text = p.read_text(encoding="utf-8")
        data: Any = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: not valid YAML/JSON: {exc}", field="cache.normalizer.intent_map") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{p}: expected a mapping of phrasing → canonical question",
                          field="cache.normalizer.intent_map")
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, str):
            out[str(key)] = value
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            out.update({v: str(key) for v in value})
        else:
            raise ConfigError(f"{p}: entry {key!r} must map to a string or a list of strings",
                              field="cache.normalizer.intent_map")
    return out


class QueryNormalizer:
    """Turns a question into the canonical text that cache keys and cache embeddings are made from.

    The intent map is applied to whole queries only (after normalizing both sides), so it rewrites
    exactly the phrasings the map names and nothing else.

    ```python
    n = QueryNormalizer.from_config(NormalizerConfig())
    n("Ｈｏｗ do I  raise my limit?") == n("how do i raise my limit")   # True
    ```
    """

    def __init__(self, *, intent_map: Mapping[str, str] | None = None, strip_punctuation: bool = True) -> None:
        self.strip_punctuation = strip_punctuation
        self.intent_map: dict[str, str] = {}
        for phrase, canonical in (intent_map or {}).items():
            key, value = self._basic(phrase), self._basic(canonical)
            if not key or not value:
                raise ConfigError(f"intent map entry {phrase!r} → {canonical!r} is empty after normalization",
                                  field="cache.normalizer.intent_map")
            self.intent_map[key] = value

    @classmethod
    def from_config(cls, cfg: NormalizerConfig) -> QueryNormalizer:
        """A normalizer for ``cache.normalizer`` (reads the intent-map file when one is configured)."""
        mapping = load_intent_map(cfg.intent_map) if cfg.intent_map else None
        return cls(intent_map=mapping, strip_punctuation=cfg.strip_punctuation)

    def _basic(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).casefold()
        if self.strip_punctuation:
            text = _strip_punct(text)
        text = _SPACES.sub(" ", text).strip()
        return _SPACE_NEXT_TO_CJK.sub("", text)

    def normalize(self, text: str) -> str:
        """The canonical form of ``text`` (the intent map's canonical question when it names this query)."""
        basic = self._basic(text)
        return self.intent_map.get(basic, basic)

    __call__ = normalize

    def __repr__(self) -> str:
        return f"QueryNormalizer(intent_map={len(self.intent_map)} entries, strip_punctuation={self.strip_punctuation})"
