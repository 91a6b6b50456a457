"""The semantic layer's verifier: rules that refuse a near neighbour that asks something else.

Embeddings put "raise my limit" and "lower my limit" very close (multilingual-e5-small: a median
cosine of 0.95 on our near-miss pairs, higher than most true paraphrases). So a candidate above the
threshold is served only if it agrees with the query on:

- numbers with their units ("3 个月" ≠ "3 年", "3万" ≠ "30万", "30,000" ≠ "300,000");
- negation ("it was me" ≠ "it wasn't me"; Chinese A-not-A questions like 能不能 are not negations);
- the contrast classes of a domain :class:`Lexicon` (direction, on/off, card tier, channel, ...): two
  different values of a class never match ("gold" ≠ "platinum", "raise" ≠ "lower", "ATM" ≠
  "counter"); in a strict class a value on one side only also refuses ("platinum card" ≠ "platinum
  supplementary card"); elsewhere up to ``max_one_sided`` such one-sided mentions are tolerated.

Numbers and negation are language rules (English and Chinese) and live here; the contrast classes
are domain words and live in a file: the bank lexicon ships next to this module
(``lexicons/bank.yaml``), a user brings their own YAML or JSON file of the same shape
(``cache.semantic.lexicon``). Texts are compared after
:class:`~workbench.cache.normalizer.QueryNormalizer`::

    v = RuleVerifier()                                                   # the bundled bank lexicon
    v.verify("how do i raise my credit limit", "how do i lower my credit limit")   # 'direction differs'
    v.verify("金卡年费多少", "金卡的年费是多少")                                      # None: agrees
    RuleVerifier(Lexicon.load("my_domain.yaml"))                         # a user's own lexicon

The bank lexicon was written with the project's first near-miss pairs in view, so its score on those
is optimistic; the grown sets (``datasets/meridian_bank/source/cache_truth``) were written without it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.errors import ConfigError

__all__ = ["LEXICONS_DIR", "HitVerifier", "Lexicon", "NullVerifier", "RuleVerifier", "TextFeatures", "term_pattern"]

#: The folder of the bundled lexicons (package data): ``bank.yaml``.
LEXICONS_DIR = Path(__file__).resolve().parent / "lexicons"


@runtime_checkable
class HitVerifier(Protocol):
    """Decides whether a cached entry's question may answer the query (``None``: yes; else the reason)."""

    def verify(self, query: str, candidate: str) -> str | None: ...


class NullVerifier:
    """Accepts every candidate (the threshold alone decides)."""

    def verify(self, query: str, candidate: str) -> str | None:
        """Always ``None`` (accept)."""
        return None


class _ContrastClassFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strict: bool = False
    values: dict[str, list[str]] = Field(min_length=1)


class _LexiconFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    numbers: bool = True
    negation: bool = True
    max_one_sided: int = Field(1, ge=0)
    classes: dict[str, _ContrastClassFile] = Field(default_factory=dict)


@dataclass(frozen=True)
class Lexicon:
    """The domain words of a :class:`RuleVerifier`: contrast classes, which are strict, and the rule switches.

    ```python
    Lexicon.load("bank")                       # the bundled lexicon (workbench/cache/lexicons/bank.yaml)
    Lexicon.load("/etc/wb/telecom.yaml")       # a user's file (YAML or JSON, the same shape)
    ```
    """

    name: str
    """What the file calls itself."""
    classes: Mapping[str, Mapping[str, tuple[str, ...]]]
    """class → value → surface terms."""
    strict: frozenset[str] = frozenset()
    """Classes whose values must match even when only one text mentions one."""
    max_one_sided: int = 1
    """How many non-strict classes may be mentioned on one side only before the pair is refused."""
    numbers: bool = True
    """Compare numbers with their units."""
    negation: bool = True
    """Compare negation."""
    source: str = field(default="", compare=False)
    """The file it was read from."""

    @classmethod
    def load(cls, source: str | Path) -> Lexicon:
        """Read a lexicon: a path to a ``.yaml``/``.yml``/``.json`` file, or the name of a bundled one.

        :param source: a file path, or a bundled name (``"bank"``).
        :returns: the lexicon.
        :raises ConfigError: no such file or bundled name, or the file is not a valid lexicon.
        """
        path = Path(source).expanduser()
        if not path.is_file():
            bundled = LEXICONS_DIR / f"{source}.yaml"
            if not bundled.is_file():
                names = sorted(p.stem for p in LEXICONS_DIR.glob("*.yaml"))
                raise ConfigError(f"no lexicon file {str(source)!r} and no bundled lexicon of that name "
                                  f"(bundled: {names}); give a path to a YAML or JSON file",
                                  field="cache.semantic.lexicon")
            path = bundled
        try:
            text = path.read_text(encoding="utf-8")
            raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
            data = _LexiconFile.model_validate(raw)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            detail = exc.errors()[0] if isinstance(exc, ValidationError) else exc
            raise ConfigError(f"{path} is not a valid lexicon: {detail}", field="cache.semantic.lexicon") from None
        for cls_name, cls_file in data.classes.items():
            for value, terms in cls_file.values.items():
                if not terms or any(not isinstance(t, str) or not t.strip() for t in terms):
                    raise ConfigError(f"{path}: class {cls_name!r} value {value!r} needs non-empty terms",
                                      field="cache.semantic.lexicon")
        return cls(name=data.name, classes={k: {v: tuple(t) for v, t in c.values.items()}
                                            for k, c in data.classes.items()},
                   strict=frozenset(k for k, c in data.classes.items() if c.strict),
                   max_one_sided=data.max_one_sided, numbers=data.numbers, negation=data.negation,
                   source=str(path))


@lru_cache(maxsize=1)
def _bank() -> Lexicon:
    return Lexicon.load("bank")


_EN_NEGATIONS = frozenset(
    "not no dont doesnt didnt cant cannot wont isnt wasnt arent werent havent hasnt hadnt never without nor "
    "neither none couldnt shouldnt wouldnt".split()
)
_ZH_NEG = re.compile(r"[不没未别无非]|停用|失效")
_ZH_NOT_NEGATION = re.compile(r"(.)[不没]\1|非常|不同|无论|不管|不仅|不过|并非常")
_LATIN = re.compile(r"[a-z0-9]+")

_UNITS = {
    "个月": "mo", "月": "mo", "month": "mo", "months": "mo",
    "年": "y", "year": "y", "years": "y", "yr": "y", "yrs": "y",
    "天": "d", "日": "d", "day": "d", "days": "d",
    "期": "n", "payment": "n", "payments": "n", "instalment": "n", "instalments": "n", "installments": "n",
    "%": "%", "笔": "x", "次": "x", "times": "x", "套": "home",
}
_MULT = {"万": 10_000, "w": 10_000, "千": 1_000, "k": 1_000}
_ARABIC = re.compile(
    r"(\d+(?:\.\d+)?)\s*(万|千|k|w)?\s*(个月|months?|年|years?|yrs?|天|days?|日|期|payments?|instal+ments?|%|笔|次|times)?"
)
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_EN_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split()) if i > 1}
_EN_NUMBER = re.compile(rf"(?<![a-z])({'|'.join(_EN_WORDS)})\s+(months?|years?|days?|payments?|instal+ments?|times)\b")
_ZH_NUMBER = re.compile(r"([零一二两三四五六七八九十百]+)(个月|年|天|日|期|万|千|笔|次|套)")


def term_pattern(terms: Iterable[str]) -> str:
    """One regular expression finding ``terms``, the longest term at each position first.

    A term of Latin letters and digits (spaces allowed) matches only as whole words (not inside
    "goldfish"); other terms (Chinese) match anywhere. The terms are laid out as a trie, so matching
    reads each character of the text once instead of trying every term at every position: 416 bank
    terms scan a question in about a tenth of the time of their alternation (``bench/bench_cache.py``'s
    semantic-hit cost). Matches are those of the alternation of all terms sorted longest first.

    ```python
    re.findall(term_pattern(["gold", "gold card", "金卡"]), "gold card or goldfish 金卡")  # ['gold card', '金卡']
    ```
    """
    root: dict[str, dict] = {}
    for term in terms:
        node = root
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}  # the end of a term

    def alternatives(node: dict[str, dict], prefix: str) -> str:
        alts = [re.escape(ch) + alternatives(child, prefix + ch) for ch, child in sorted(node.items()) if ch]
        if "" in node:  # tried after every longer continuation
            if _LATIN.fullmatch(prefix.replace(" ", "")):
                # whole words: no letter or digit after the term, nor before its first character
                alts.append(rf"(?![a-z0-9])(?<![a-z0-9]{re.escape(prefix)})")
            else:
                alts.append("")
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return alternatives(root, "")

def _zh_to_int(s: str) -> int | None:
    total, current = 0, 0
    for ch in s:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _canonical(value: float, unit: str) -> tuple[float, str]:
    if unit == "mo" and value >= 12 and value % 12 == 0:  # "12 month" is "1 year"
        return value / 12, "y"
    return value, unit


def _numbers(text: str) -> frozenset[tuple[float, str]]:
    out = set()
    for m in _ARABIC.finditer(text):
        value = float(m.group(1)) * _MULT.get(m.group(2) or "", 1)
        out.add(_canonical(value, _UNITS.get(m.group(3) or "", "")))
    for m in _EN_NUMBER.finditer(text):
        out.add(_canonical(float(_EN_WORDS[m.group(1)]), _UNITS.get(m.group(2), "")))
    for m in _ZH_NUMBER.finditer(text):
        value = _zh_to_int(m.group(1))
        unit = m.group(2)
        if value is None or (value == 1 and unit not in _MULT):  # 一天 / 一年 / 一次: mostly "per day", "a year"
            continue
        if unit in _MULT:
            out.add((float(value * _MULT[unit]), ""))
        else:
            out.add(_canonical(float(value), _UNITS.get(unit, "")))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class TextFeatures:
    """What the rules compare."""

    numbers: frozenset[tuple[float, str]]
    negated: bool
    classes: tuple[tuple[str, frozenset[str]], ...]


class RuleVerifier:
    """Numbers, negation and the contrast classes of a :class:`Lexicon` (see the module docstring).

    :param lexicon: a :class:`Lexicon`, a path to a lexicon file, or a bundled name (default: ``"bank"``).
    :param extra_classes: more contrast classes (non-strict), or more values of the lexicon's classes.
    :raises ConfigError: the lexicon cannot be read.

    ```python
    RuleVerifier().verify("跨行转3万多久到账", "跨行转30万多久到账")     # 'numbers differ'
    ```
    """

    def __init__(self, lexicon: Lexicon | str | Path | None = None, *,
                 extra_classes: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> None:
        if lexicon is None:
            lexicon = _bank()
        elif not isinstance(lexicon, Lexicon):
            lexicon = Lexicon.load(lexicon)
        self.lexicon = lexicon
        table: dict[str, dict[str, Sequence[str]]] = {k: dict(v) for k, v in lexicon.classes.items()}
        for cls, values in (extra_classes or {}).items():
            table.setdefault(cls, {}).update(values)
        self.strict = lexicon.strict
        self.max_one_sided = lexicon.max_one_sided
        self.check_numbers = lexicon.numbers
        self.check_negation = lexicon.negation
        self._term: dict[str, tuple[str, str]] = {}
        for cls, values in table.items():
            for value, terms in values.items():
                for term in terms:
                    self._term[term.casefold()] = (cls, value)
        self._pattern = re.compile(term_pattern(self._term)) if self._term else None
        self.features = lru_cache(maxsize=65_536)(self._features)

    def __repr__(self) -> str:
        return f"RuleVerifier(lexicon={self.lexicon.name!r}, classes={len(self.lexicon.classes)})"

    def _features(self, text: str) -> TextFeatures:
        found: dict[str, set[str]] = {}
        rest = text
        if self._pattern is not None:  # one pass: the terms found, and the text without them
            pieces, end = [], 0
            for m in self._pattern.finditer(text):
                cls, value = self._term[m.group(0)]
                found.setdefault(cls, set()).add(value)
                pieces.append(text[end:m.start()])
                end = m.end()
            rest = " ".join(pieces) + " " + text[end:] if pieces else text
        negated = False
        if self.check_negation:
            words = set(_LATIN.findall(rest))
            negated = bool(words & _EN_NEGATIONS) or " no longer " in f" {text} "
            zh_rest = _ZH_NOT_NEGATION.sub("", rest)
            negated = negated or bool(_ZH_NEG.search(zh_rest))
        numbers = _numbers(text) if self.check_numbers else frozenset()
        classes = tuple(sorted((k, frozenset(v)) for k, v in found.items()))
        return TextFeatures(numbers, negated, classes)

    def verify(self, query: str, candidate: str) -> str | None:
        """``None`` when ``candidate`` may answer ``query``; otherwise why not."""
        if query == candidate:
            return None
        a, b = self.features(query), self.features(candidate)
        if a.numbers != b.numbers:
            return "numbers differ"
        if a.negated != b.negated:
            return "negation differs"
        if a.classes != b.classes:
            da, db = dict(a.classes), dict(b.classes)
            one_sided = []
            for cls in sorted(set(da) | set(db)):
                x, y = da.get(cls), db.get(cls)
                if x == y:
                    continue
                if (x and y) or cls in self.strict:
                    return f"{cls} differs"
                one_sided.append(cls)
            if len(one_sided) > self.max_one_sided:
                return f"{', '.join(one_sided)} mentioned on one side only"
        return None
