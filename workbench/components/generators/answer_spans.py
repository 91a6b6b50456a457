"""Typed answer spans: what kind of answer a question asks for, and where that answer sits in a sentence.

General rules about question types, in English and Chinese, never about particular documents:

* amounts (money, rates), counts, durations, clock times and dates are numbers with a unit; the answer
  keeps the words that bound or scale the number ("at least 30%", "up to RMB 50,000 per day",
  "最长30年", "每期0.75%", "7个工作日内");
* phone numbers;
* menu paths ("Me > Personal Info > Mobile Number", 「首页」→「跨境金融」→「汇款记录」) answer "how do I /
  where" questions;
* a yes/no question is answered by the clause that carries the polarity and its condition
  ("cannot be reopened", "不收取违约金"), with the polarity itself as ``yes``/``no``/``None``.

When several spans of the type occur, the one in the clause that shares most words with the question
wins (ties: the closest left context, then the earlier one)::

    question_type("how long does a transfer take")      # 'duration'
    span = best_span("duration", "Transfers usually arrive within 2 hours.", "how long does a transfer take")
    span.text                                            # 'within 2 hours'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from workbench.text import tokenize

__all__ = [
    "QUESTION_TYPES",
    "AnswerSpan",
    "Clause",
    "best_clause",
    "best_span",
    "find_spans",
    "menu_paths",
    "polarity",
    "question_type",
    "split_clauses",
]

#: Every type :func:`question_type` can return (``None`` means free text).
QUESTION_TYPES = ("phone", "path", "time", "date", "duration", "count", "rate", "money", "yesno")

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_ZH_NUM = r"[一二两三四五六七八九十百千]+"
_CUR = r"(?:RMB|CNY|USD|HKD|EUR|GBP|JPY|¥|￥|\$)"
_MAG = r"(?:\s?(?:million|thousand|k|万|千|亿))"
_MONEY_UNIT = r"(?:万元|千元|亿元|元|块|美元|港元|欧元|英镑|日元|yuan|dollars?)"
_TIME_UNIT_EN = (r"(?:working days?|business days?|calendar days?|natural days?|days?|hours?|hrs?|minutes?|mins?|"
                 r"seconds?|months?|weeks?|years?)")
_TIME_UNIT_ZH = r"(?:个工作日|个自然日|个营业日|工作日|自然日|天|日|小时|分钟|秒|个月|月|周|星期|年)"
_RANGE = r"\s?(?:-|–|~|to|至|到)\s?"

_SPANS: dict[str, re.Pattern[str]] = {
    "money": re.compile(
        rf"(?:the equivalent of\s)?{_CUR}\s?{_NUM}{_MAG}?(?:{_RANGE}(?:{_CUR}\s?)?{_NUM}{_MAG}?)?"
        rf"|{_NUM}(?:{_RANGE}{_NUM})?{_MAG}?\s?{_MONEY_UNIT}", re.I),
    "rate": re.compile(rf"{_NUM}\s?%(?:{_RANGE}{_NUM}\s?%)?|{_NUM}{_RANGE}{_NUM}\s?%|百分之[\d一二三四五六七八九十点.]+"
                       r"|[一二三四五六七八九]成"),
    # a long number, or a short service number right after a call word ("call 95528", "拨打110", "专线96110")
    "phone": re.compile(r"\+\d{1,3}(?:[- ]\d{1,4}){2,5}(?![\d,.%])|(?<![\d,.])(?:\+?\d{2,4}[- ]?)?\d{3,4}[- ]?\d{4}(?![\d,.%])|(?<![\d,.])95\d{3,4}(?![\d,.%])"
                        r"|(?:(?<=call )|(?<=dial )|(?<=hotline )|(?<=拨打)|(?<=致电)|(?<=热线)|(?<=专线)|(?<=电话))"
                        r"\d{3,6}(?![\d,.%])", re.I),
    "duration": re.compile(
        rf"{_NUM}(?:{_RANGE}{_NUM})?\s?(?:years? old|周岁|岁)|{_NUM}(?:{_RANGE}{_NUM})?\s?(?:(?:consecutive|full|straight|clear)\s)?{_TIME_UNIT_EN}\b|{_NUM}(?:{_RANGE}{_NUM})?\s?{_TIME_UNIT_ZH}"
        rf"|(?<![下上同第当次每前后]){_ZH_NUM}(?:{_RANGE}{_ZH_NUM})?{_TIME_UNIT_ZH}|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
        rf"twelve|a|an)\s(?:{_TIME_UNIT_EN})\b", re.I),
    "time": re.compile(r"(?<![\d.])\d{1,2}:\d{2}(?:\s?(?:-|–|to|至|and)\s?\d{1,2}:\d{2})?(?:\s?(?:am|pm))?", re.I),
    "date": re.compile(
        r"\b(?:the\s)?\d{1,2}(?:st|nd|rd|th)\b(?:\sof\s(?:the|each|every)\s(?:month|year))?"
        r"|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s\d{1,2}\b"
        r"|\b\d{1,2}\s(?:January|February|March|April|May|June|July|August|September|October|November|December)\b"
        r"|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)s?\b|\b(?:the\s)?(?:last|first) day of"
        r" (?:the|each|every) month\b|\bend of (?:the|each|every) month\b"
        r"|(?:每月|每年|次月|当月|下月)?\d{1,2}月?\d{1,2}[日号]|(?:每月|次月|当月|下月)(?:\d{1,2}|最后一)[日天号]|"
        r"(?:每月|次月|当月)(?:初|底|末)|周[一二三四五六日]|星期[一二三四五六日天]|次日|当日|当天|次一个工作日|下一个工作日",
        re.I),
    "count": re.compile(
        rf"{_NUM}(?:{_RANGE}{_NUM})?\s?(?:(?:free|more|extra|additional|separate|new|wrong|failed)\s)?"
        r"(?:times?|attempts?|cards?|visits?|transactions?|withdrawals?|points?|accounts?|payments?|people|persons?|"
        r"guests?|digits?|characters?|questions?|devices?|phones?|instalments?|miles?|cheques?|leaves?|pages?)\b"
        rf"|(?<![\d,.]){_NUM}\s(?:[a-z-]+\s){{0,2}}?[a-z]+s\b"
        rf"|(?:{_NUM}|{_ZH_NUM})\s?(?:次|张|笔|位|台|个(?!月|工作日|自然日|小时)|人|名|积分|分(?!钟)|里程|期|本|页|部|户)", re.I),
}

_QUALIFIER_BEFORE = re.compile(
    r"(?<![\w'-])(?:(?:at least|at most|up to|no more than|not more than|no less than|not less than|more than|less than|over|"
    r"under|within|from|by|after|before|until|about|around|only|maximum of|minimum of|a maximum of|a minimum of|maximum|minimum|"
    r"between|valid for|every|each|the equivalent of|the last|the past|last|past)\s)+$"
    r"|(?:最长|最短|最多|最少|最低|最高|不低于|不超过|不少于|不高于|至少|至多|超过|低于|高于|满|约|每期|每月|每日|每天|每笔|"
    r"每次|每年|每卡|单笔|单日|单次|(?:当日|当月|日|月)?累计(?:[\u4e00-\u9fff]{2}(?=满|不超过|不少于|达到))?|上限|年化|年满|日利率|月利率|年利率|连续|最近|北京时间|"
    r"[\u4e00-\u9fff]{0,2}(?:金额|本金|额度|价格|余额|房价)的)+$", re.I)
_QUALIFIER_AFTER = re.compile(
    r"^(?:\s(?:per|a|an|each|every)\s(?:(?:calendar|card|working|business|natural|statement)\s)?"
    r"(?:day|month|year|week|transaction|card|person|customer|account|withdrawal|instalment|payment|visit|guest|"
    r"time|quarter|hour)\b"
    r"|\s(?:or|and)\s(?:more|above|less|below|over|under)\b"
    r"|\s(?:after|before) (?:the|your|each) [a-z]+(?: [a-z]+)? (?:date|day)\b|\s(?:ahead|in advance|later|earlier|after|before)\b"
    r"|\s(?:on the (?:next|same|following|previous) (?:working |business )?day|on the day before|on the [a-z ]+? date|"
    r"the (?:same|next|following|previous) day|in a row)\b"
    r"|\sof the (?:amount|price|purchase price|loan|balance|principal)\b"
    r"|\s(?:Beijing|China Standard) time\b"
    rf"|\s(?:for|per) (?:every|each) {_CUR}\s?{_NUM}\b"
    r"|以上|以下|以内|之内|内|起存|起|左右|/年|/月|/笔|/天|/日|/次|每年|每月|每日|每笔)", re.I)


@dataclass(frozen=True)
class AnswerSpan:
    """A typed span of a sentence: ``text`` is ``sentence[start:end]``."""

    text: str
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Clause:
    """A clause of a sentence (between list markers, ``;``/``；``, ``:``/``：`` and commas)."""

    text: str
    start: int
    end: int
    label: str = ""
    """The clause before it when that one ends in a colon ("3 months: 1.15%" → label "3 months")."""


_TYPE_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("phone", re.compile(r"\bphone number\b|\bnumber (?:to|should i|do i|can i) call\b|\bhotline\b|\bcall (?:you|the bank)|"
                         r"\bcustomer service number\b|\bwhat number\b|\bwhich number\b|电话|热线|号码是|客服号", re.I)),
    ("time", re.compile(r"what time|\bopening hours\b|\bhours\b|\bcut-?off\b|\bdeadline\b|\blatest\b|几点|营业时间|"
                        r"服务时间|截止|最晚|上班", re.I)),
    ("date", re.compile(r"\bwhen\b|what day|which day|what date|\bdue date\b|\b(?:repayment|payment|statement) date\b|还款日是|哪天|几号|几日|什么时候|哪一天|日期", re.I)),
    ("duration", re.compile(r"how long|how soon|how far back|how old|\bage\b|多大年纪|年龄|几岁|多少岁|多大|how many (?:days|hours|minutes|months|years|weeks)|\bvalid(?:ity)?\b|"
                            r"\bterm\b|\bexpire|\bperiod\b|多久|多长时间|几天|多少天|几个工作日|期限|有效期|多长|几年|多少年|"
                            r"几个月|多少个月", re.I)),
    ("count", re.compile(r"how many|\bnumber of\b|几次|几张|多少次|多少个|几个|多少张|多少积分|几位|多少位|几台|几部", re.I)),
    ("rate", re.compile(r"\brate\b|\binterest\b|percent|\bapr\b|down ?payment|%|利率|费率|利息|百分之|首付|几成", re.I)),
    ("money", re.compile(r"how much|\bfees?\b|\bcosts?\b|\bcharges?\b|\bprice\b|\blimit\b|\bminimum\b|\bmaximum\b|\bmax\b|"
                         r"\bmin\b|\bamount\b|\bincome\b|\bdeposit\b|\bspend\b|多少钱|费用|手续费|年费|月费|管理费|额度|限额|上限|"
                         r"最低|最高|最多|多少|收入|起存|存多少|取多少|转多少", re.I)),
]
_ASKS_VALUE = re.compile(r"how much|\bwhat(?:'s| is)? (?:the )?(?:\w+ )?(?:number|fee|limit|amount)|\bwhich number|"
                         r"\bfees?\b|多少|几|费|哪个号码|什么号码", re.I)
_NOT_PATH = re.compile(r"^\s*why\b|为什么|为啥|怎么办|怎么算|怎么样|怎么回事|怎么计算|如何计算|咋办|what (?:do|should) i do|what happens|"
                       r"how (?:is|are) .* calculated|how much|how many|how long", re.I)
_PATH_CUE = re.compile(r"\bhow (?:do|can|to|should|would)\b|\bhow\b.*\b(?:app|online|mobile)\b|\bwhere\b|\bin the app\b|"
                       r"\bwhich (?:menu|page|screen|option)\b|\b(?:turn|switch) (?:on|off)\b|\benable\b|\bdisable\b|"
                       r"\b(?:set up|change|update|download|apply|cancel|find|report)\b|怎么|如何|怎样|在哪|哪里|去哪|入口|"
                       r"设置|开通|关闭|取消|修改|更改|下载|申请|办理|查询|查看|举报|解绑|绑定", re.I)
_YES_NO = re.compile(r"^\s*(?:is|are|was|were|can|could|do|does|did|will|would|should|shall|may|must|have|has|am)\b"
                     r"|\b(?:can|could|do|does|will|should|is|are) (?:i|you|we|they|it|my|the|a)\b.*\?\s*$"
                     r"|吗\s*[？?]?\s*$|能不能|可不可以|是不是|有没有|要不要|会不会|算不算|用不用|需不需要|行不行|可以吗|能否|是否", re.I)
_WH = re.compile(r"how much|how many|how long|what|which|when|where|how do|how to|how can|多少|几|多久|多长|什么|哪|怎么|如何",
                 re.I)
_QUANTITY_FAMILY = {"money": ("money", "rate"), "rate": ("rate", "money"), "count": ("count",),
                    "duration": ("duration",), "time": ("time", "date", "duration"),
                    "date": ("date", "time", "duration"), "phone": ("phone",)}


def question_type(question: str) -> str | None:
    """The kind of answer ``question`` asks for (one of :data:`QUESTION_TYPES`), or None for free text.

    A yes/no question ("is the gold card free the first year?", "金卡首年免年费吗") is ``yesno`` unless it
    also asks "how much/what/多少...": then the asked-for quantity wins. "how do I/where/怎么" questions
    are ``path`` only when no quantity cue is present (a menu path is looked for in the sentence).
    """
    q = question.strip()
    if _YES_NO.search(q) and not _WH.search(q):
        return "yesno"
    navigation = bool(_PATH_CUE.search(q)) and not _NOT_PATH.search(q)
    for kind, cue in _TYPE_CUES:
        if cue.search(q):
            # "how do I update my phone number" asks for the way, not for a number
            if kind in ("money", "phone") and navigation and not _ASKS_VALUE.search(q):
                return "path"
            return kind
    return "path" if navigation else None


def find_spans(kind: str, sentence: str) -> list[AnswerSpan]:
    """Every span of ``kind`` in ``sentence`` (a quantity type also yields its family's other types, after its own)."""
    if kind == "path":
        return menu_paths(sentence)
    out: list[AnswerSpan] = []
    seen: set[tuple[int, int]] = set()
    for sub in _QUANTITY_FAMILY.get(kind, ()):
        for m in _SPANS[sub].finditer(sentence):
            text = m.group().strip()
            if not text or any(s <= m.start() < e for s, e in seen):
                continue
            seen.add((m.start(), m.end()))
            out.append(AnswerSpan(text, sub, m.start(), m.start() + len(text)))
    return out


_EN_STEP = r"[A-Z0-9][\w'&/()-]*(?:\s(?:(?:a|an|of|the|and|to|for|by|&)\s)?[A-Z0-9][\w'&/()-]*)*"
_EN_PATH = re.compile(rf"(?<![\w-]){_EN_STEP}(?:\s>\s{_EN_STEP})+")
_EN_PATH_LEAD = re.compile(r"^(?:(?:Go|Open|Tap|Select|Choose|Under|In|Visit|Use|Then|And)\s(?:to\s|on\s)?)+")
_ZH_PATH = re.compile(r"[「“\"][^」”\"]{1,20}[」”\"](?:\s?(?:→|->|>|－>|＞|/)\s?[「“\"][^」”\"]{1,20}[」”\"])+")


def menu_paths(sentence: str) -> list[AnswerSpan]:
    """Menu paths of an app: "Me > Personal Info > Mobile Number" or 「首页」→「跨境金融」→「汇款记录」."""
    out = [AnswerSpan(m.group(), "path", m.start(), m.end()) for m in _ZH_PATH.finditer(sentence)]
    for m in _EN_PATH.finditer(sentence):
        lead = _EN_PATH_LEAD.match(m.group())
        cut = lead.end() if lead else 0
        text = m.group()[cut:].rstrip(".,;:")
        if text.endswith(")") and text.count("(") < text.count(")"):
            text = text[:-1]
        out.append(AnswerSpan(text, "path", m.start() + cut, m.start() + cut + len(text)))
    return sorted(out, key=lambda s: s.start)


_CLAUSE_BREAK = re.compile(r"(?<=%)(?=\d)|\s+-\s+|(?:^|\s)·\s?|(?<=：)\s*|(?<=[^\d]:)\s*|(?<=\d:)(?!\d{2})\s*|[;；。!！?？]\s*|,(?!\d{3})\s*|，\s*|(?:^|\s)\d\.\s?(?=\D)|"
                           r"(?<=[^\d])(?=[一二三四五六七八九十]、)|【[^】]*】|[（(][^）)]*[）)]")
_LEAD = re.compile(r"^(?:and|but|or|so|then|because|which|while|although|though|however|also|including|"
                   r"而且|并且|但是|但|且|并|或者|或|因此|所以|同时|另外|此外|如|即|则)\s*", re.I)


def split_clauses(sentence: str) -> list[Clause]:
    """Clauses of ``sentence``: cut at list markers (" - ", "·", "2."), ``;``/``；``/``。``, after ``:``/``：``, at
    commas, and around 【headings】 and (parentheses); a leading connective ("and", "但", "且"...) is dropped."""
    out: list[Clause] = []
    pos, label = 0, ""
    for m in [*_CLAUSE_BREAK.finditer(sentence), None]:
        end = m.start() if m else len(sentence)
        raw = sentence[pos:end]
        lead = len(raw) - len(raw.lstrip())
        text = raw.strip()
        cut = _LEAD.match(text)
        if cut and len(text) > cut.end():
            lead, text = lead + cut.end(), text[cut.end():]
        if out:
            gap = sentence[out[-1].end:pos + lead]
            if gap.strip().endswith((":", "：")):
                label = out[-1].text  # "Down payment: a, b" → both items are about the down payment
            elif not re.fullmatch(r"[\s,，]*(?:and\s|or\s|且|并|或)?[\s,，]*", gap.replace(",", ",")) or not gap.strip():
                label = ""
        text = text.rstrip(" .,;:。，；：")
        if text:
            out.append(Clause(text, pos + lead, pos + lead + len(text), label))
        if m:
            pos = m.end()
    return out


def _overlap_score(question_tokens: set[str], text: str, idf: Callable[[str], float]) -> float:
    return sum(idf(t) for t in question_tokens & set(tokenize(text, "auto")))


def best_clause(question: str, sentence: str, *, require: Callable[[Clause], bool] | None = None) -> Clause | None:
    """The clause of ``sentence`` that shares most (IDF-weighted within the sentence) words with ``question``, its
    label counted with it ("At the counter: there is no transfer limit ..." is about the counter)."""
    clauses = [c for c in split_clauses(sentence) if require is None or require(c)]
    if not clauses:
        return None
    q = set(tokenize(question, "auto"))
    df: dict[str, int] = {}
    for c in clauses:
        for t in set(tokenize(c.text, "auto")):
            df[t] = df.get(t, 0) + 1

    def idf(t: str) -> float:
        return 1.0 + math.log(len(clauses) / df.get(t, 1))

    return max(clauses, key=lambda c: (_overlap_score(q, f"{c.label} {c.text}", idf), -c.start))


def _extend(span: AnswerSpan, sentence: str, clause: Clause) -> AnswerSpan:
    """Grow a quantity span by the words that bound or scale it, within its clause."""
    start, end = span.start, span.end
    before = sentence[clause.start:start]
    m = _QUALIFIER_BEFORE.search(before)
    if m:
        start = clause.start + m.start()
    # a range written around the span ("between 08:00 and 22:00", "from 3.6% to 14.4%") is kept whole
    after = sentence[end:clause.end]
    m2 = _QUALIFIER_AFTER.match(after)
    if m2:
        end += m2.end()
    text = sentence[start:end].strip()
    ranged = re.match(r"from\s(?=.+\s(?:to|-|–)\s?\S)", text, re.I)  # "from 8:30 to 17:15": the range says it
    if ranged:
        start, text = start + ranged.end(), text[ranged.end():]
    return AnswerSpan(text, span.kind, start, start + len(text))


_POLARITY_NO = re.compile(r"\b(?:no|not|never|cannot|can't|won't|don't|doesn't|isn't|aren't|only|must|none|without)\b|n't\b|"
                          r"不|无|没有|未|禁止|须|只能|仅|无需|免", re.I)
_POLARITY_YES = re.compile(r"\b(?:yes|can|will|may|is|are|does|do|free|automatically|also)\b|可以|可|能|会|支持|即可|自动|免费",
                           re.I)


_THERE_IS = re.compile(r"^there (?:is|are|was|were)\s+", re.I)
_PREDICATE = re.compile(r"\b(?:can|cannot|can't|could|do|does|doesn't|don't|did|is|isn't|are|aren't|was|were|will|won't|"
                        r"would|must|may|should|has|have|hasn't|haven't|no|not|never|only|still|needs?|requires?|"
                        r"takes?|gets?|pays?)\b|不|无|没有|未|须|需|仅|只|可|能|会|免|将|仍|已|均|都|要|应", re.I)


def _predicate_start(clause: str) -> int:
    """Where the predicate of a short clause begins: a yes/no answer drops its subject ("It cannot be
    used..." → "cannot be used...", "There is no fee" → "no fee", "往来账户仅支持网点办理" → "仅支持网点办理");
    0 when the subject is long (more than 4 words or 8 characters)."""
    there = _THERE_IS.match(clause)
    if there:
        return there.end()
    m = _PREDICATE.search(clause)
    if not m or m.start() == 0:
        return 0
    subject = clause[: m.start()]
    size = len(subject) / 2 if re.search("[\u4e00-\u9fff]", subject) else len(subject.split())
    return 0 if size > 4 else m.start()


_CONDITION = re.compile(r"^(?:if|when|whenever|once|unless|while|after|before|as long as|provided|or if|or are|or)\b|"
                        r"^(?:如果|如|若|假如|当|一旦|只要|除非|对于)|的$", re.I)


_EXAMPLE = re.compile(r"^(?:for example|for instance|e\.g\.|example)\b|^(?:举例|例如|比如|譬如)", re.I)
_EXAMPLE_LABEL = re.compile(r"(?:^|\s)(?:for example|for instance|example)$|(?:举例|例如)$", re.I)


def _is_condition(clause: str, label: str = "") -> bool:
    """A conditional clause ("if you are aged 70 or over", "逾期未激活的") states when, not what; a worked
    example ("举例：6000元分12期, ...", "for example ...") illustrates, it does not state the rule."""
    return bool(_CONDITION.search(clause.strip())) or _is_example(clause, label)


def _is_example(clause: str, label: str = "") -> bool:
    """A worked example: the clause opens with "for example"/"举例", or follows one ("Example: RMB 6,000 over 12
    months ...", also when the heading "Example" is glued to the clause before it: "0.65% per month Example")."""
    label = label.strip()
    return bool(_EXAMPLE.search(clause.strip()) or _EXAMPLE.search(label) or _EXAMPLE_LABEL.search(label))


def polarity(clause: str) -> str | None:
    """``no`` when the clause negates or restricts ("cannot", "不", "无", "only"), ``yes`` when it affirms, else None."""
    if _POLARITY_NO.search(clause):
        return "no"
    if _POLARITY_YES.search(clause):
        return "yes"
    return None


#: A Chinese clause this short that holds the span is the answer itself (label and value: "月管理费10元").
_SHORT_ZH_CLAUSE = 8
#: Span ranking: clause overlap with the question + these bonuses.
_OWN_TYPE_BONUS = 1.0
_SCALE_BONUS = 1.5
_CONDITION_PENALTY = 3.0
_SCALES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    # the question names a scale ("daily", "单笔") → the span that carries the same scale
    scale: (re.compile(q, re.I), re.compile(a, re.I)) for scale, q, a in [
        ("day", r"\bdaily\b|\bper day\b|\ba day\b|\beach day\b|\bevery day\b|一天|每天|每日|单日|当日|日累计",
         r"\b(?:per|a|each|every) day\b|每天|每日|单日|日累计|/天|/日"),
        ("transaction", r"per transaction|each transaction|at a time|\bat once\b|\bone time\b|\bsingle\b|单笔|每笔|一次|一笔",
         r"\b(?:per|a|each|every) transaction\b|单笔|每笔|/笔"),
        ("month", r"\bmonthly\b|\bper month\b|\ba month\b|\beach month\b|每月|一个月|月费", r"\b(?:per|a|each|every) month\b|每月|/月"),
        ("year", r"\byearly\b|\bannual(?:ly)?\b|\bper year\b|\ba year\b|每年|一年|年费", r"\b(?:per|a|each|every) year\b|每年|/年"),
    ]
}


_AFTER_CURRENCY = re.compile(rf"{_CUR}\s?$", re.I)
_TERM = re.compile(r"(\d+|[一二两三四五六七八九十]+)\s?(?:个)?(年|月|期|天|日)|(\d+)[\s-](year|month|day)s?\b", re.I)
_TERM_UNIT = {"year": "年", "month": "月", "day": "天", "日": "天"}
_ZH_DIGIT = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
#: Span ranking: bonus when the span's row of a table names the question's term ("1年：1.55%" for "一年期").
_TERM_BONUS = 2.0


def _zh_number(text: str) -> int:
    """A Chinese numeral below 100 ("三" 3, "十二" 12, "二十" 20) as an int."""
    if "十" not in text:
        return _ZH_DIGIT.get(text, 0)
    tens, _, units = text.partition("十")
    return _ZH_DIGIT.get(tens, 1) * 10 + _ZH_DIGIT.get(units, 0)


def _terms(text: str) -> set[str]:
    """The terms (a number of years, months, instalments or days) ``text`` names, normalised across the two
    languages and numeral systems: "一年期", "1年", "1-year" → ``{"1年"}``; "12 months", "12个月" → ``{"12月"}``."""
    out = set()
    for m in _TERM.finditer(text):
        number, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        value = int(number) if number.isdigit() else _zh_number(number)
        if value:
            out.add(f"{value}{_TERM_UNIT.get(unit.lower(), unit)}")
    return out


def best_span(kind: str, sentence: str, question: str) -> AnswerSpan | None:
    """The span of ``kind`` that answers ``question`` in ``sentence`` (qualifiers kept), or None.

    For ``yesno`` the span is the clause with a polarity word that best matches the question; for a
    quantity, the span of the question's own type is preferred to the rest of its family (a fee question
    takes "RMB 12" before "0.5%"), then the clause that best matches the question.
    """
    if kind == "yesno":
        clause = best_clause(question, sentence, require=lambda c: polarity(c.text) is not None and not _is_condition(c.text)) \
            or best_clause(question, sentence, require=lambda c: polarity(c.text) is not None)
        if clause is None:
            return None
        cut = _predicate_start(clause.text)
        return AnswerSpan(clause.text[cut:], "yesno", clause.start + cut, clause.end)
    # a number that follows a currency is an amount, never a count ("2 points for every RMB 10": not "10 spent")
    spans = [s for s in find_spans(kind, sentence) if s.kind != "count" or not _AFTER_CURRENCY.search(sentence[:s.start])]
    if not spans:
        return None
    if kind == "path":
        q = set(tokenize(question, "auto"))
        return max(spans, key=lambda s: (len(q & set(tokenize(s.text, "auto"))), -s.start))
    clauses = split_clauses(sentence)
    q = set(tokenize(question, "auto"))
    clause_of: list[Clause] = []
    for s in spans:
        home = next((c for c in clauses if c.start <= s.start < c.end), Clause(sentence, 0, len(sentence)))
        clause_of.append(home)
    df: dict[str, int] = {}
    for c in clauses:
        for t in set(tokenize(c.text, "auto")):
            df[t] = df.get(t, 0) + 1

    def idf(t: str) -> float:
        return 1.0 + math.log(max(1, len(clauses)) / df.get(t, 1))

    extended = [_extend(s, sentence, c) for s, c in zip(spans, clause_of, strict=True)]
    asked = [answer for question_cue, answer in _SCALES.values() if question_cue.search(question)]
    asked_terms = _terms(question)

    def rank(i: int) -> tuple[bool, float, float, int]:
        s, c = spans[i], clause_of[i]
        left = sentence[max(c.start, s.start - 40): s.start]
        bonus = _OWN_TYPE_BONUS * (s.kind == kind) + _SCALE_BONUS * any(a.search(extended[i].text) for a in asked) \
            - _CONDITION_PENALTY * _is_condition(c.text, c.label)  # "If paid out on the 29th, ... is the 28th": not the 29th
        if asked_terms and asked_terms & _terms(f"{c.label} {sentence[c.start:s.start]}"):
            bonus += _TERM_BONUS  # "一年期定期利率" in "3个月：1.15%6个月：1.35%1年：1.55%": the 1年 row
        # a span stated by the rule beats any span of a worked example
        return (not _is_example(c.text, c.label), _overlap_score(q, f"{c.label} {c.text}", idf) + bonus,
                _overlap_score(q, left, idf), -s.start)

    i = max(range(len(spans)), key=rank)
    span, home = extended[i], clause_of[i]
    if re.search("[\u4e00-\u9fff]", home.text) and len(home.text) <= _SHORT_ZH_CLAUSE:
        return AnswerSpan(home.text, span.kind, home.start, home.end)
    return _drop_implied(span, question)


#: Words of a span that the question already says: (question cue, span kinds, the words at the span's start,
#: the words at its end). A deadline question asks for the time, "before"/"by" restates it ("whats the cut-off
#: time" → "16:00", not "before 16:00"); a fee named by its period asks for the amount ("annual fee" →
#: "RMB 600", not "RMB 600 per year"); a rate question does not need the rate's name back ("活期利率多少" →
#: "0.20%", not "年利率0.20%"); a question about how long something lasts or is valid does not need "valid for".
_IMPLIED: list[tuple[re.Pattern[str], tuple[str, ...], re.Pattern[str] | None, re.Pattern[str] | None]] = [
    (re.compile(r"\bcut[- ]?off\b|\bdeadline\b|\blatest\b|截止|最晚", re.I), ("time",),
     re.compile(r"^(?:before|by|until|no later than)\s+", re.I), None),
    (re.compile(r"\b(?:annual|yearly)\s(?:\w+\s)?fees?\b", re.I), ("money",), None,
     re.compile(r"\s(?:per|a|each|every)\s(?:calendar\s|card\s)?year$", re.I)),
    (re.compile(r"\bmonthly\s(?:\w+\s)?fees?\b", re.I), ("money",), None,
     re.compile(r"\s(?:per|a|each|every)\s(?:calendar\s)?month$", re.I)),
    (re.compile(r"利率|利息"), ("rate",), re.compile(r"^[日月年]利率"), None),
    (re.compile(r"how long|\bvalid|\blast\b|有效期|多久", re.I), ("duration",), re.compile(r"^valid for\s+", re.I), None),
]


def _drop_implied(span: AnswerSpan, question: str) -> AnswerSpan:
    """``span`` without the words at its edges that ``question`` already says (:data:`_IMPLIED`)."""
    start, end, text = span.start, span.end, span.text
    for cue, kinds, head, tail in _IMPLIED:
        if span.kind not in kinds or not cue.search(question):
            continue
        m = head.match(text) if head else None
        if m and m.end() < len(text):
            start, text = start + m.end(), text[m.end():]
        m = tail.search(text) if tail else None
        if m and m.start() > 0:
            end, text = end - (len(text) - m.start()), text[: m.start()]
    return AnswerSpan(text, span.kind, start, end)
