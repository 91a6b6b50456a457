"""The semantic layer's verifier: rules that refuse a near neighbour that asks something else.

Embeddings put "raise my limit" and "lower my limit" very close (multilingual-e5-small: a median
cosine of 0.95 on our near-miss pairs, higher than most true paraphrases). So a candidate above the
threshold is served only if it agrees with the query on:

- numbers with their units ("3 个月" ≠ "3 年", "3万" ≠ "30万", "30,000" ≠ "300,000");
- negation ("it was me" ≠ "it wasn't me"; Chinese A-not-A questions like 能不能 are not negations);
- contrast classes (direction, on/off, lock, card tier, account type, channel, location, loan type,
  password type, ...): two different values of a class never match ("gold" ≠ "platinum", "raise" ≠
  "lower", "ATM" ≠ "counter"); in the strict classes a value on one side only also refuses
  ("platinum card" ≠ "platinum supplementary card"); elsewhere one such one-sided mention is
  tolerated, two refuse.

Texts are compared after :class:`~workbench.cache.normalizer.QueryNormalizer`::

    v = RuleVerifier()
    v.verify("how do i raise my credit limit", "how do i lower my credit limit")   # 'direction differs'
    v.verify("金卡年费多少", "金卡的年费是多少")                                      # None: agrees

The lexicon is a banking-domain list written for this project's knowledge base; extend it with
``RuleVerifier(extra_classes={...})``. It was written with the near-miss pairs in view, so its
near-miss score on that set is optimistic (see the cache report).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, runtime_checkable

__all__ = ["CONTRAST_CLASSES", "HitVerifier", "NullVerifier", "RuleVerifier", "STRICT_CLASSES", "TextFeatures"]


@runtime_checkable
class HitVerifier(Protocol):
    """Decides whether a cached entry's question may answer the query (``None``: yes; else the reason)."""

    def verify(self, query: str, candidate: str) -> str | None: ...


class NullVerifier:
    """Accepts every candidate (the threshold alone decides)."""

    def verify(self, query: str, candidate: str) -> str | None:
        """Always ``None`` (accept)."""
        return None


#: class → value → surface terms (English terms match on word boundaries; Chinese terms as substrings).
CONTRAST_CLASSES: dict[str, dict[str, Sequence[str]]] = {
    "direction": {
        "up": ("raise", "increase", "higher", "higher limit", "提高", "调高", "提额", "上调", "增加", "涨"),
        "down": ("lower", "reduce", "decrease", "降低", "调低", "降额", "下调", "减少"),
    },
    "switch": {
        "on": ("open", "opened", "activate", "activated", "set up", "setup", "enable", "turn on", "bind", "start",
               "sign up", "开通", "开启", "激活", "绑定", "设置", "开户", "启用"),
        "off": ("close", "closed", "cancel", "stop", "disable", "turn off", "unbind", "end", "deactivate",
                "terminate", "取消", "关闭", "注销", "解绑", "销户", "停止", "终止", "撤销"),
    },
    "lock": {
        "lock": ("lock", "locked", "freeze", "frozen", "block", "blocked", "冻结", "锁定", "锁了", "被锁", "限制"),
        "unlock": ("unlock", "unfreeze", "unblock", "解冻", "解锁", "解除", "解挂"),
    },
    "trade": {"buy": ("buy", "买", "购买", "认购"), "sell": ("sell", "卖", "卖掉", "转让", "赎回")},
    "flow": {
        "send": ("send", "sending", "汇出", "转出", "汇款到国外"),
        "receive": ("receive", "receiving", "incoming", "汇入", "收款", "入账"),
    },
    "bank": {
        "own": ("meridian", "our bank", "this bank", "same bank", "本行", "我行", "同行"),
        "other": ("another bank", "another banks", "other bank", "other banks", "different bank", "different banks",
                  "non meridian",
                  "interbank", "跨行", "他行", "其他银行", "别的银行", "外行"),
    },
    "location": {
        "domestic": ("in china", "domestic", "mainland", "境内", "国内"),
        "abroad": ("abroad", "overseas", "foreign", "international", "another country", "境外", "国外", "海外",
                   "出国", "跨境"),
    },
    "channel": {
        "counter": ("counter", "branch", "teller", "in person", "柜台", "网点", "营业厅"),
        "atm": ("atm", "atms", "自助机", "存取款机", "取款机"),
        "app": ("app", "mobile", "mobile banking", "online banking", "internet banking", "online", "手机银行", "网银",
                "手机上", "网上"),
        "phone": ("phone hours", "hotline", "call centre", "call center", "电话"),
        "chat": ("chat", "live chat", "online chat", "在线客服"),
    },
    "auth": {"sms": ("sms", "sms code", "text message", "短信"), "ukey": ("u key", "ukey", "usb key", "u盾", "网盾")},
    "tier": {
        "classic": ("classic", "standard", "经典卡", "普卡", "标准卡"),
        "gold": ("gold", "金卡"),
        "platinum": ("platinum", "白金卡", "白金"),
        "essential": ("essential", "基础"),
        "premier": ("premier", "优享"),
    },
    "card_role": {"supplementary": ("supplementary", "additional card", "附属卡", "副卡")},
    "card_type": {
        "credit": ("credit card", "credit cards", "信用卡"),
        "debit": ("debit card", "debit cards", "借记卡", "储蓄卡"),
    },
    "account": {
        "savings": ("savings", "savings account", "saving account", "储蓄账户", "储蓄"),
        "current": ("current account", "current accounts", "往来账户", "往来"),
        "fixed": ("fixed deposit", "time deposit", "term deposit", "定期"),
        "cd": ("large cd", "certificate of deposit", "大额存单"),
    },
    "loan": {
        "mortgage": ("mortgage", "home loan", "房贷", "住房贷款"),
        "car": ("car loan", "auto loan", "车贷", "汽车贷款"),
        "easy": ("easy loan", "personal loan", "consumer loan", "易贷", "消费贷"),
    },
    "instalment": {
        "purchase": ("purchase", "purchases", "消费分期"),
        "bill": ("bill instalment", "statement instalment", "账单分期"),
    },
    "car_kind": {
        "electric": ("electric", "ev", "新能源", "电动"),
        "petrol": ("petrol", "gasoline", "燃油"),
        "used": ("used car", "second hand", "二手"),
    },
    "home": {"first": ("first home", "首套"), "second": ("second home", "二套")},
    "secret": {
        "login": ("login password", "登录密码"),
        "transaction": ("transaction pin", "transaction password", "交易密码"),
        "card_pin": ("card pin", "card password", "atm pin", "银行卡密码", "取款密码"),
    },
    "term": {"temporary": ("temporary", "temp", "临时"), "permanent": ("permanent", "permanently", "永久")},
    "card_state": {
        "lost": ("lost", "lose", "丢", "丢失", "挂失"),
        "damaged": ("damaged", "broken", "坏", "损坏"),
        "swallowed": ("swallowed", "retained", "吞"),
    },
    "whose": {
        "self": ("my own", "myself", "自己", "本人"),
        "others": ("mom", "mother", "dad", "father", "parents", "for her", "for him", "someone else",
                   "other people", "others", "父母", "妈妈", "爸爸", "家人", "他人", "别人"),
    },
    "identity": {
        "national": ("chinese id", "id card", "身份证"),
        "foreigner": ("foreigner", "foreigners", "passport", "外国人", "护照", "外籍"),
    },
    "timing": {"early": ("early", "prepay", "提前"), "late": ("late", "overdue", "晚还", "逾期")},
    "portion": {
        "part": ("part of", "partial", "partially", "部分"),
        "full": ("all of", "full", "in full", "entire", "全部", "全额"),
        "minimum": ("minimum", "最低"),
    },
    "price": {
        "fee": ("fee", "fees", "charge", "charges", "charged", "cost", "costs", "手续费", "费用", "收费", "违约金",
                "penalty"),
        "interest": ("interest", "利息", "利率", "rate", "rates"),
    },
    "document": {
        "statement": ("statement", "stamped statement", "流水", "对账单", "明细"),
        "proof": ("proof of deposit", "存款证明"),
    },
    "freeze_by": {"court": ("court", "法院", "司法"), "bank_risk": ("risk control", "fraud check", "风控")},
    "waiver": {"waiver": ("waive", "waived", "waiver", "免年费", "减免", "免除")},
    "first_year": {"first_year": ("first year", "首年", "第一年")},
    "operation": {
        "withdraw": ("withdraw", "withdrawal", "withdrawals", "withdrawing", "take out", "cash out", "取钱", "取现",
                     "取款", "取多少"),
        "transfer": ("transfer", "transfers", "remittance", "remit", "send money", "转账", "转钱", "汇款"),
        "credit_limit": ("credit limit", "信用额度", "信用卡额度"),
    },
    "grace": {"grace": ("grace period", "宽限期")},
    "cardless": {"cardless": ("cardless", "without a card", "without my card", "no card", "无卡", "没带卡", "不带卡",
                              "不用卡", "忘带")},
    "ask": {
        "duration": ("how long", "how fast", "多久", "多长时间", "有效期"),
        "place": ("where", "哪里", "哪儿", "在哪"),
        "who": ("who", "谁"),
    },
    "amount_ask": {"amount": ("how much", "how many", "max", "maximum", "多少", "几张", "几次", "最多", "最少", "上限")},
    "income": {"income": ("income", "salary", "年收入", "收入")},
    "both": {"both": ("both", "都忘", "都不记得")},
}

#: Classes whose values must match even when only one text mentions one ("platinum card" ≠ "platinum
#: supplementary card"). In the other classes a value mentioned on one side only is tolerated once
#: ("overseas ATM fee" ~ "fee for withdrawing cash overseas"); two such one-sided mentions reject.
STRICT_CLASSES = frozenset({
    "account", "ask", "card_role", "card_state", "car_kind", "cardless", "direction", "freeze_by", "home",
    "both", "first_year", "grace", "identity", "income", "instalment", "loan", "lock", "secret", "term", "tier", "timing", "trade",
    "waiver",
})

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
    """Numbers, negation and contrast-class rules (see the module docstring).

    ```python
    RuleVerifier().verify("跨行转3万多久到账", "跨行转30万多久到账")     # 'numbers differ'
    ```
    """

    def __init__(self, *, classes: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                 extra_classes: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                 strict: frozenset[str] = STRICT_CLASSES, max_one_sided: int = 1,
                 numbers: bool = True, negation: bool = True) -> None:
        table: dict[str, dict[str, Sequence[str]]] = {k: dict(v) for k, v in (classes or CONTRAST_CLASSES).items()}
        for cls, values in (extra_classes or {}).items():
            table.setdefault(cls, {}).update(values)
        self.strict = frozenset(strict)
        self.max_one_sided = max_one_sided
        self.check_numbers = numbers
        self.check_negation = negation
        self._term: dict[str, tuple[str, str]] = {}
        for cls, values in table.items():
            for value, terms in values.items():
                for term in terms:
                    self._term[term.casefold()] = (cls, value)
        alts = []
        for term in sorted(self._term, key=len, reverse=True):
            esc = re.escape(term)
            alts.append(rf"(?<![a-z0-9]){esc}(?![a-z0-9])" if _LATIN.fullmatch(term.replace(" ", "")) else esc)
        self._pattern = re.compile("|".join(alts)) if alts else None
        self.features = lru_cache(maxsize=65_536)(self._features)

    def _features(self, text: str) -> TextFeatures:
        found: dict[str, set[str]] = {}
        rest = text
        if self._pattern is not None:
            for m in self._pattern.finditer(text):
                cls, value = self._term[m.group(0)]
                found.setdefault(cls, set()).add(value)
            rest = self._pattern.sub(" ", text)
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
