"""The typed values an answer states: amounts of money, percentages, durations, clock times, days of the
month, counts, phone numbers and bare numbers, in English and Chinese, normalized so that notations compare:

    quantities("RMB 50,000")[0].value == quantities("5万元")[0].value == 50000.0
    quantities("36 months")[0].value == quantities("3年")[0].value        # months: 36
    quantities("8:30 am")[0].value == quantities("上午8:30")[0].value      # minutes after midnight: 510
    quantities("4 free visits per card year")[0]                          # count 4, period "year"

Each :class:`Quantity` also carries the period it is stated per (``per day``, 单笔...) and its bound
(``at least`` → ``min``, ``up to`` / 最多 → ``max``), which the answer matcher compares. Used by
:mod:`~workbench.evaluation.metrics.answer.answer_match`; written for answer-length text (a sentence or two).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = ["Quantity", "QuantityKind", "normalize_text", "quantities", "ranges"]

QuantityKind = Literal["money", "percent", "duration", "time", "date", "count", "phone", "number"]


@dataclass(frozen=True)
class Quantity:
    """One typed value found in a text."""

    kind: QuantityKind
    value: float
    """Money in units of its currency; durations in days (``unit="d"``), working days (``"wd"``) or months
    (``"mo"``); clock times in minutes after midnight; dates as ``month * 100 + day`` (month 0: any month)."""
    unit: str = ""
    """The currency (``rmb``, ``usd``...), the duration's scale (``d``, ``wd``, ``mo``) or the counted noun."""
    period: str | None = None
    """What the value is per: ``day``, ``month``, ``year``, ``transaction``, or ``None``."""
    bound: Literal["min", "max"] | None = None
    """``min`` for "at least"/起/以上, ``max`` for "up to"/最多/以内."""
    start: int = 0
    """Where the value's number starts in the normalized text."""
    end: int = 0


def normalize_text(text: str) -> str:
    """NFKC (full-width → half-width), lower case, thousands separators removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(?<=\d)[,，](?=\d{3}(?!\d))", "", text)
    text = re.sub(r"(?<=\d)[,，](?=\d{3}(?!\d))", "", text)  # a second pass for 1,000,000
    return " ".join(text.split())


_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
              "十": 10}
_EN_WORDS = {"once": (1, "times"), "twice": (2, "times"), "one": (1, ""), "two": (2, ""), "three": (3, ""),
             "four": (4, ""), "five": (5, ""), "six": (6, ""), "seven": (7, ""), "eight": (8, ""), "nine": (9, ""),
             "ten": (10, ""), "twelve": (12, "")}
_SCALE = {"万": 1e4, "千": 1e3, "百万": 1e6, "亿": 1e8, "k": 1e3, "thousand": 1e3, "million": 1e6, "m": 1e6,
          "mn": 1e6, "bn": 1e9, "billion": 1e9}
_CURRENCY_BEFORE = {"rmb": "rmb", "cny": "rmb", "¥": "rmb", "人民币": "rmb", "usd": "usd", "us$": "usd", "$": "usd",
                    "美元": "usd", "eur": "eur", "€": "eur", "gbp": "gbp", "£": "gbp", "hkd": "hkd", "jpy": "jpy"}
_CURRENCY_AFTER = {"元": "rmb", "块": "rmb", "yuan": "rmb", "rmb": "rmb", "dollars": "usd", "dollar": "usd",
                   "usd": "usd", "美元": "usd", "欧元": "eur", "euros": "eur", "eur": "eur", "港元": "hkd"}
# duration units → (scale, days | working days | months)
_DURATION_EN = {"minute": (1 / 1440, "d"), "min": (1 / 1440, "d"), "hour": (1 / 24, "d"), "hr": (1 / 24, "d"),
                "day": (1.0, "d"), "week": (7.0, "d"), "month": (1.0, "mo"), "year": (12.0, "mo")}
_DURATION_ZH = {"分钟": (1 / 1440, "d"), "小时": (1 / 24, "d"), "个小时": (1 / 24, "d"), "天": (1.0, "d"),
                "日内": (1.0, "d"), "个工作日": (1.0, "wd"), "工作日": (1.0, "wd"), "周": (7.0, "d"),
                "个星期": (7.0, "d"), "星期": (7.0, "d"), "个月": (1.0, "mo"), "年": (12.0, "mo")}
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), start=1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_ZH_CLASSIFIERS = "次张台个笔位份项人家条期种部道件岁周岁"

_NUM = r"(\d+(?:\.\d+)?)"
_PHONE = re.compile(r"\+\d{1,3}[- ]\d{1,4}(?:[- ]\d{2,5}){1,3}|\b\d{3,4}-\d{3,4}-\d{3,4}\b")
_TIME = re.compile(r"(上午|下午|晚上|早上|中午|凌晨)?\s*(\d{1,2})(?::(\d{2})|点(?:(\d{1,2})分?|半)?)\s*(am|pm|a\.m\.|p\.m\.)?")
_TIME_EN = re.compile(r"\b(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.)")
_DATE_EN = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b(?:\s+(?:of\s+)?([a-z]+))?|"
                      r"\b(\d{1,2})\s+(january|february|march|april|may|june|july|august|september|october|november|"
                      r"december)\b|\b(january|february|march|april|may|june|july|august|september|october|november|"
                      r"december)\s+(\d{1,2})\b")
_DATE_ZH = re.compile(r"(?:(\d{1,2})月)?(\d{1,2})[日号](?!内)")
_ZH_NUMERAL = re.compile(r"([零一二两三四五六七八九十百千万亿]{1,8})(?=[" + _ZH_CLASSIFIERS
                         + r"]|个月|年|天|小时|分钟|周|个工作日|元|块|美元|倍|到|至|-)")
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 10_000, "亿": 100_000_000}


def _zh_number(word: str) -> float | None:
    """一百二十 → 120, 三万 → 30000, 两千五百 → 2500, 十 → 10; ``None`` for a word without a digit."""
    total, section, digit = 0, 0, None
    for ch in word:
        if ch in _ZH_DIGITS and ch != "十":
            digit = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            section += (digit if digit is not None else 1) * _ZH_UNITS[ch]
            digit = None
        elif ch in _ZH_BIG:
            total += (section + (digit or 0)) * _ZH_BIG[ch]
            section, digit = 0, None
    if digit is None and section == 0 and total == 0 and not any(c in _ZH_UNITS for c in word):
        return None
    return float(total + section + (digit or 0))
_EN_WORD_NUM = re.compile(r"\b(" + "|".join(_EN_WORDS) + r")\b")
_NUMBER = re.compile(r"(?<![\d.])" + _NUM + r"(?![\d])")

_PERIODS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("transaction", re.compile(r"per (?:transaction|payment|withdrawal|transfer|remittance)|each (?:transaction|time)|"
                               r"single|单笔|每笔|/笔|每次")),
    ("day", re.compile(r"per day|a day|each day|daily|/day|每日|每天|单日|日累计|/天|每卡每日")),
    ("month", re.compile(r"per month|a month|each month|monthly|/month|每月|/月|月管理费|每期")),
    ("year", re.compile(r"per (?:calendar |card )?year|a year|each year|yearly|annual(?:ly)?|/year|每年|/年|年费|"
                        r"每个卡年|全年")),
)
_MIN = re.compile(r"at least|minimum|min\.?|no less than|from|or more|and above|起|以上|不低于|至少|最低|不少于")
_MAX = re.compile(r"up to|at most|maximum|max\.?|within|no more than|not more than|less than|最多|最长|最高|不超过|"
                  r"以内|以下|内|之内|不高于|封顶|上限")


def _period_near(text: str, start: int, end: int) -> str | None:
    """The period stated within a few characters after (or, in Chinese, just before) the value."""
    after, before = text[end:end + 24], text[max(0, start - 6):start]
    found = []
    for name, pattern in _PERIODS:
        m = pattern.search(after)
        if m:
            found.append((m.start(), name))
    if found:
        return min(found)[1]
    for name, pattern in _PERIODS:
        if pattern.search(before):
            return name
    return None


def _bound_near(text: str, start: int, end: int) -> Literal["min", "max"] | None:
    before, after = text[max(0, start - 14):start], text[end:end + 8]
    m_min = _MIN.search(before) or _MIN.match(after.lstrip()) or (re.match(r"\s*(?:元|万元)?(起|以上)", after))
    m_max = _MAX.search(before) or re.match(r"\s*\S{0,3}?(以内|以下|之内|内)", after)
    if m_min and not m_max:
        return "min"
    if m_max and not m_min:
        return "max"
    return None


def _scale_at(text: str, pos: int) -> tuple[float, int]:
    """A scale word right after a number (万, 千, k, million...) → (factor, characters consumed)."""
    m = re.match(r"\s*(百万|万|千|亿|thousand|million|billion|k|mn|bn|m)(?![a-z])", text[pos:])
    if m:
        return _SCALE[m.group(1)], m.end()
    return 1.0, 0


def _currency_before(text: str, start: int) -> str | None:
    before = text[max(0, start - 6):start].rstrip()
    for sym, code in sorted(_CURRENCY_BEFORE.items(), key=lambda kv: -len(kv[0])):
        if before.endswith(sym):
            return code
    return None


def _currency_after(text: str, pos: int) -> tuple[str | None, int]:
    m = re.match(r"\s*(元|块|yuan|rmb|dollars?|usd|美元|欧元|euros?|eur|港元)", text[pos:])
    if m:
        word = m.group(1)
        return _CURRENCY_AFTER.get(word, _CURRENCY_AFTER.get(word.rstrip("s"), "rmb")), m.end()
    return None, 0


def _duration_after(text: str, pos: int) -> tuple[float, str, int] | None:
    rest = text[pos:]
    m = re.match(r"\s*(?:-|to|至|到|~)?\s*(working |business |calendar )?"
                 r"(minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b", rest)
    if m:
        word = m.group(2).rstrip("s")
        scale, unit = _DURATION_EN[word]
        if m.group(1) in ("working ", "business ") and unit == "d":
            unit = "wd"
        return scale, unit, m.end()
    m = re.match(r"\s*(个工作日|工作日|个小时|小时|分钟|天|日内|个星期|星期|周|个月|年)", rest)
    if m:
        scale, unit = _DURATION_ZH[m.group(1)]
        return scale, unit, m.end()
    return None


def _count_noun(text: str, pos: int) -> tuple[str, int] | None:
    rest = text[pos:]
    m = re.match(r"\s*([" + _ZH_CLASSIFIERS + r"])", rest)
    if m:
        return m.group(1), m.end()
    m = re.match(r"\s*(?:free |more |extra |additional )?([a-z]{3,}?)(?:es|s)?\b", rest)
    if m and m.group(1) not in ("per", "and", "the", "for", "from", "with", "after", "before", "or", "to", "of",
                                "percent", "working", "business", "calendar"):
        return m.group(1), m.end()
    return None


def quantities(text: str) -> list[Quantity]:
    """Every typed value in ``text`` (normalized with :func:`normalize_text`), in order of position.

    >>> [(q.kind, q.value, q.period) for q in quantities("up to RMB 50,000 per transaction")]
    [('money', 50000.0, 'transaction')]
    """
    norm = normalize_text(text)
    taken: list[tuple[int, int]] = []
    found: list[Quantity] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    def add(kind: QuantityKind, value: float, unit: str, a: int, b: int, span_end: int | None = None) -> None:
        end = span_end if span_end is not None else b
        taken.append((a, end))
        found.append(Quantity(kind, value, unit, _period_near(norm, a, end), _bound_near(norm, a, end), a, end))

    for m in _PHONE.finditer(norm):
        add("phone", float(re.sub(r"\D", "", m.group(0))), "", m.start(), m.end())
    for m in _TIME.finditer(norm):
        if not free(m.start(), m.end()) or (m.group(3) is None and "点" not in m.group(0)):
            continue
        hour, minute = int(m.group(2)), int(m.group(3) or m.group(4) or (30 if m.group(0).endswith("半") else 0))
        if hour > 24 or minute > 59:
            continue
        marker, suffix = m.group(1) or "", (m.group(5) or "").replace(".", "")
        if (suffix == "pm" or marker in ("下午", "晚上")) and hour < 12:
            hour += 12
        add("time", float(hour * 60 + minute), "", m.start(), m.end())
    for m in _TIME_EN.finditer(norm):
        if free(m.start(), m.end()):
            hour = int(m.group(1)) % 12 + (12 if m.group(2).startswith("p") else 0)
            add("time", float(hour * 60), "", m.start(), m.end())
    for m in _DATE_EN.finditer(norm):
        if not free(m.start(), m.end()):
            continue
        if m.group(1):
            month = _MONTHS.get(m.group(2) or "", 0)
            add("date", float(month * 100 + int(m.group(1))), "", m.start(), m.end())
        elif m.group(3):
            add("date", float(_MONTHS[m.group(4)] * 100 + int(m.group(3))), "", m.start(), m.end())
        else:
            add("date", float(_MONTHS[m.group(5)] * 100 + int(m.group(6))), "", m.start(), m.end())
    for m in _DATE_ZH.finditer(norm):
        if free(m.start(), m.end()) and not norm[m.end() - 1:m.end() + 2].startswith("日内"):
            day = int(m.group(2))
            if 1 <= day <= 31:
                add("date", float(int(m.group(1) or 0) * 100 + day), "", m.start(), m.end())
    numbers: list[tuple[int, int, float, str]] = [(m.start(), m.end(), float(m.group(1)), "")
                                                  for m in _NUMBER.finditer(norm)]
    for m in _ZH_NUMERAL.finditer(norm):
        value = _zh_number(m.group(1))
        if value is not None:
            numbers.append((m.start(), m.end(), value, ""))
    for m in _EN_WORD_NUM.finditer(norm):
        value, unit = _EN_WORDS[m.group(1)]
        numbers.append((m.start(), m.end(), float(value), unit))
    for a, b, value, unit in sorted(numbers):
        if not free(a, b):
            continue
        if unit == "times":
            add("count", value, "times", a, b)
            continue
        if norm[b:b + 1] == "%" or norm[b:b + 8].startswith((" percent", " per cent")):
            add("percent", value, "", a, b, b + (1 if norm[b:b + 1] == "%" else 8))
            continue
        scale, used = _scale_at(norm, b)
        currency = _currency_before(norm, a)
        after_cur, used_cur = _currency_after(norm, b + used)
        if currency or after_cur:
            add("money", value * scale, currency or after_cur or "rmb", a, b, b + used + used_cur)
            continue
        if value >= 1900 and norm[b:b + 1] == "年":
            add("date", value * 100, "year", a, b, b + 1)
            continue
        age = re.match(r"\s*(?:周岁|岁|years? old)", norm[b:])
        if age:
            add("count", value, "age", a, b, b + age.end())
            continue
        duration = _duration_after(norm, b + used)
        if duration is not None:
            dscale, dunit, dused = duration
            add("duration", value * scale * dscale, dunit, a, b, b + used + dused)
            continue
        noun = _count_noun(norm, b + used)
        if noun is not None and scale == 1.0 and not norm[b:b + 1] == ".":
            add("count", value, noun[0], a, b, b + noun[1])
            continue
        add("number", value * scale, "", a, b, b + used)
    found.sort(key=lambda q: q.start)
    return _spread_ranges(norm, found)


_RANGE = re.compile(r"\s*(?:-|–|~|to|至|到)\s*(?:rmb|¥|usd|\$|人民币)?\s*$")


def _spread_ranges(norm: str, found: list[Quantity]) -> list[Quantity]:
    """In "5-7 working days" / "3至5个工作日" / "3万至5万元" the first number takes the second's kind and unit
    (and its scale, when the first has none of its own)."""
    out = list(found)
    for i in range(len(out) - 1):
        low, high = out[i], out[i + 1]
        if low.kind != "number" or high.kind in ("number", "phone") or not _RANGE.match(norm[low.end:high.start]):
            continue
        scale = 1.0
        own = re.match(_NUM, norm[low.start:])
        digits = re.match(_NUM, norm[high.start:])
        if own and own.end() == low.end - low.start and digits and high.kind in ("duration", "money"):
            scale = high.value / float(digits.group(1)) if float(digits.group(1)) else 1.0
        out[i] = Quantity(high.kind, low.value * scale, high.unit, high.period, low.bound, low.start, low.end)
    return out


def ranges(text: str, found: list[Quantity]) -> list[tuple[Quantity, Quantity]]:
    """Pairs of same-kind values joined by a range connector ("RMB 30,000 to RMB 100,000", "5-7 days")."""
    norm = normalize_text(text)
    return [(a, b) for a, b in itertools.pairwise(found)
            if a.kind == b.kind and a.unit == b.unit and _RANGE.match(norm[a.end:b.start]) and a.value < b.value]
