"""Answer-type-aware matching: is a system answer **correct**, **partly** right or **wrong** against short
gold answers, the way a careful reader decides (the labelling rules in
``datasets/meridian_bank/labels/RULES.md``), not the way exact match does::

    match_answer("4", ["4 free visits per card year"], question="how many free lounge visits with gold")
    # AnswerMatch(verdict='correct', rule='count', ...)             EM: 0
    match_answer("不会。", ["未激活的卡片不会产生年费"], question="卡不激活会扣年费吗")
    # AnswerMatch(verdict='correct', rule='yes-no', ...)            EM: 0
    match_answer("RMB 50,000", ["RMB 100,000 per day"], question="daily transfer limit with sms code")
    # AnswerMatch(verdict='wrong', rule='value-mismatch', ...)

Against each reference, the first rule that applies decides (the best verdict over references is kept):

1. ``empty`` / ``abstained``: no answer, or "I couldn't find that ..." (wrong; on a question with no
   references, or whose only reference is such an abstention, i.e. an unanswerable one, abstaining is
   ``correct`` and any answer is ``wrong``).
2. ``exact``: equal after normalization (full/half width, case, punctuation, articles).
3. ``polarity``: a yes/no answer whose polarity contradicts the reference (wrong).
4. ``contains-reference``: the reference occurs in the answer (a sentence that states the fact), unless
   the answer offers it beside another value of its kind as alternatives (``competing-values``, wrong).
5. ``menu-path``: both are menu paths (``A > B > C``, 「A」→「B」): the same screens in order (correct),
   a prefix of two or more screens (partly), else wrong.
6. ``yes-no``: a yes/no answer to a yes/no question with the reference's polarity: bare (``不会。``), a
   short part of the reference (``free``), or opening with yes/no (``No, you don't need to``) when the
   reference states no condition (correct; a bare one is ``partly`` when the reference states a
   condition: if, only, 须, 仅...).
7. typed values (:mod:`~workbench.evaluation.metrics.answer.quantities`): amounts, percentages,
   durations, clock times, days, counts and phone numbers of the reference must be in the answer
   (``amount``, ``count``...); a different value of the same kind is ``value-mismatch`` (wrong); a value
   stated per a different period (per transaction vs per day) or with the opposite bound is
   ``value-scope`` (wrong); one end of a range, working vs calendar days or part of the reference's
   values is ``value-partial`` (partly). The reference's values that the question states need not be in
   the answer, and the end of a range the question asks for ("longest", 最少) is enough (correct).
8. ``within-reference``: the answer is a part of the reference that keeps its key values and at least
   half of its content (correct) or less (partly).
9. ``overlap``: token F1 (character level for Chinese) ≥ ``correct_f1`` is correct, ≥ ``partly_f1``
   partly, else wrong.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from workbench.evaluation.metrics.answer.quantities import Quantity, normalize_text, quantities, ranges

__all__ = ["VERDICTS", "AnswerMatch", "Verdict", "content_tokens", "is_abstention", "is_yes_no_question",
           "match_answer", "menu_path", "polarity", "reference_polarity"]

Verdict = Literal["correct", "partly", "wrong"]
#: The verdicts, best first.
VERDICTS: tuple[Verdict, ...] = ("correct", "partly", "wrong")
_RANK = {v: i for i, v in enumerate(VERDICTS)}


@dataclass(frozen=True)
class AnswerMatch:
    """The verdict on one answer, the rule that decided it and the reference it was decided against."""

    verdict: Verdict
    rule: str
    reference: str | None = None
    detail: str = ""

    @property
    def score(self) -> float:
        """1.0 for correct, 0.0 otherwise (the headline ``correct`` column)."""
        return 1.0 if self.verdict == "correct" else 0.0


_ARTICLES = frozenset({"a", "an", "the"})
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|\d+(?:\.\d+)?%?|[a-z]+(?:'[a-z]+)?")


def content_tokens(text: str) -> list[str]:
    """Normalized tokens: one per CJK character, numbers (thousands separators removed) and English words
    without articles; punctuation and brackets dropped.

    >>> content_tokens("「我的」→ The RMB 50,000!")
    ['我', '的', 'rmb', '50000']
    """
    return [t for t in _TOKEN.findall(normalize_text(text)) if t not in _ARTICLES]


_ABSTAIN = re.compile(r"couldn'?t find|could not find|not (?:found|mentioned|stated|available) in|no information|"
                      r"don'?t know|do not know|cannot answer|can'?t answer|not in the (?:knowledge base|context)|"
                      r"没有找到|未找到|无法回答|不知道|没有相关|资料中没有|无相关")


def is_abstention(answer: str) -> bool:
    """True for "I couldn't find that in the knowledge base" / 「资料中没有找到相关内容」 and similar."""
    return bool(_ABSTAIN.search(normalize_text(answer)))


_YESNO_EN = re.compile(r"^(?:can|could|is|are|was|were|do|does|did|will|would|should|shall|may|must|has|have|had|"
                       r"am)\b|\b(?:is|are|can|could|do|does|will|would|should|must) (?:it|there|i|you|we|my|the|"
                       r"this|that|they)\b")
_WH_EN = re.compile(r"\b(?:how|what|when|where|why|which|who|whom|whose)\b")
_YESNO_ZH = re.compile(r"[吗嘛么]\s*[?？]?\s*$|能不能|可不可以|会不会|是不是|有没有|要不要|用不用|是否|可否|能否|收不收|算不算")


def is_yes_no_question(question: str) -> bool:
    """True for a question a bare yes or no can answer ("can i ...", "is the ...", 「…吗」, 「能不能…」)."""
    q = normalize_text(question).strip()
    if _YESNO_ZH.search(q):
        return True
    m = _YESNO_EN.search(q)
    return bool(m) and (m.start() == 0 or not _WH_EN.search(q[:m.start()]))


_NEG_EN = re.compile(r"\b(?:no|not|never|cannot|can't|don't|doesn't|won't|isn't|aren't|wasn't|weren't|didn't|"
                     r"shouldn't|mustn't|nope|neither|nor|without)\b|n't\b")
_NEG_ZH = re.compile(r"不|没|无|未|非|否|别|勿|禁止")
_BARE_POS = re.compile(r"^(?:yes|yeah|yep|sure|of course|correct|right|true|是的?|对的?|可以|会的?|能的?|有的?|"
                       r"需要|要的?|行|收(?:费|取)?|算)$")
_BARE_NEG = re.compile(r"^(?:no|nope|not really|false|不是|不对|不可以|不会|不能|没有|无|不需要|不用|不要|不行|"
                       r"不收(?:费|取)?|不算|否)$")


def polarity(text: str) -> Literal["yes", "no"] | None:
    """The polarity a text states: ``no`` when it is negated (not, never, 不, 没, 无, 未...), else ``yes``;
    ``None`` for an empty text."""
    norm = normalize_text(text)
    if not norm.strip():
        return None
    return "no" if (_NEG_EN.search(norm) or _NEG_ZH.search(norm)) else "yes"


def _bare_yes_no(answer: str) -> Literal["yes", "no"] | None:
    """``yes``/``no`` when the answer is only a yes or no word (``不会。``, ``Yes.``, ``可以``), else ``None``."""
    words = " ".join(re.sub(r"[^\w\s']", " ", normalize_text(answer)).split())
    if _BARE_NEG.match(words):
        return "no"
    if _BARE_POS.match(words):
        return "yes"
    return None


def _leading_yes_no(answer: str) -> Literal["yes", "no"] | None:
    """The polarity of an answer that opens with yes or no: ``No, it is free``, ``可以，…``, or a Chinese
    negation that starts the answer (``不会扣年费``, ``无需…``); ``会员…`` does not count as ``会``."""
    norm = normalize_text(answer)
    m = re.match(r"^\s*(yes|no|是的?|不是|不会|不能|不可以|没有|可以|会|能)\s*[,，.。!！;；:：]", norm)
    if m:
        return _bare_yes_no(m.group(1))
    if re.match(r"^\s*(?:不会|不能|不可以|不用|不需要|无需|不收|不要|没有)", norm):
        return "no"
    return None


_FREE = re.compile(r"\bfree\b|\bwaived?\b|免")
_COST = re.compile(r"\b(?:fee|fees|charge|charged|charges|pay|cost|costs|penalty)\b|收费|收钱|手续费|要钱|要交|交钱|扣|付|违约金|"
                   r"年费|工本费|费用")


def reference_polarity(gold: str, question: str = "") -> Literal["yes", "no"] | None:
    """The answer a reference gives to a yes/no question: its :func:`polarity`, except that a reference
    saying "free" / "waived" / 免 answers "no" to a question about paying ("要交年费吗": 「首年免年费」 → no).

    >>> reference_polarity("首年免年费", "经典卡第一年要交年费吗"), reference_polarity("free", "is it free")
    ('no', 'yes')
    """
    pol = polarity(gold)
    g, q = normalize_text(gold), normalize_text(question)
    if pol == "yes" and _FREE.search(g) and _COST.search(q) and not _FREE.search(q):
        return "no"
    return pol


_ALTERNATIVE = re.compile(r"\bor\b|\beither\b|或|也可能|还是")


_CONDITION = re.compile(r"\b(?:if|only|unless|when|as long as|provided|except|but|after|before|within)\b|"
                        r"如果|若|只|仅|须|需|除非|前提|但|之后|以后|以内|满|才")


_PATH_SPLIT = re.compile(r"\s*(?:>|→|->|»|›|」\s*[→>-]?\s*「)\s*")


def menu_path(text: str) -> list[str] | None:
    """The screens of a menu path ("Me > Personal Info > Mobile Number", 「我的」→「个人信息」), or ``None``
    when the text holds no path of two or more screens. A longer answer is searched for its first path."""
    norm = normalize_text(text)
    m = re.search(r"「[^「」]{1,20}」(?:\s*(?:→|->|>)?\s*「[^「」]{1,20}」)+", norm)
    if m:
        parts = re.findall(r"「([^「」]+)」", m.group(0))
    else:
        m = re.search(r"[\w&'/ ]{1,40}?(?:\s*(?:>|→|->|»|›)\s*[\w&'/ ]{1,40})+", norm)
        if not m:
            return None
        parts = _PATH_SPLIT.split(m.group(0))
    screens = [" ".join(p.split()) for p in parts if p.strip()]
    return screens if len(screens) >= 2 else None


def _path_verdict(answer: list[str], gold: list[str]) -> tuple[Verdict, str]:
    def same(a: str, b: str) -> bool:  # prose around a path: "go to me" is the screen "me"
        return a == b or any(x.endswith(" " + y) or x.startswith(y + " ") for x, y in ((a, b), (b, a)))

    n = min(len(answer), len(gold))
    common = 0
    while common < n and same(answer[common], gold[common]):
        common += 1
    if common == len(gold):
        return "correct", "the same screens in order" + (" (and more)" if len(answer) > len(gold) else "")
    if common == len(answer) and common >= 2:
        return "partly", f"stops after {common} of {len(gold)} screens"
    # the answer's path may start lower (no top-level screen) but end on the same screens
    if len(answer) >= 2 and answer == gold[-len(answer):]:
        return "correct", "the same screens without the top level"
    return "wrong", "a different path"


def _contains(haystack: list[str], needle: list[str]) -> bool:
    if not needle or len(needle) > len(haystack):
        return False
    first = needle[0]
    for i in range(len(haystack) - len(needle) + 1):
        if haystack[i] == first and haystack[i:i + len(needle)] == needle:
            return True
    return False


def _compatible(g: Quantity, a: Quantity) -> bool:
    """Could ``a`` state the same kind of value as ``g`` (a bare number can stand for an amount or a count)?"""
    if g.kind == a.kind:
        return g.kind != "money" or g.unit == a.unit
    loose = {"number", "count", "money", "phone"}
    return (g.kind in loose and a.kind == "number") or (a.kind in loose and g.kind == "number")


def _equal(g: Quantity, a: Quantity) -> bool:
    if g.kind == "date" and a.kind == "date":
        gm, gd, am, ad = divmod(int(g.value), 100) + divmod(int(a.value), 100)
        return gd == ad and (gm == am or 0 in (gm, am))
    if g.kind == "duration" and a.kind == "duration" and {g.unit, a.unit} == {"d", "wd"}:
        return False
    return abs(g.value - a.value) <= 1e-6 * max(1.0, abs(g.value))


#: The question asks for the top (``high``) or the bottom (``low``) of what the reference gives as a range.
_ASKS_END = {
    "high": re.compile(r"\b(?:longest|maximum|max|most|highest|largest|biggest|latest|at most|upper limit)\b|"
                       r"最长|最多|最高|最大|最晚|最迟|上限|封顶"),
    "low": re.compile(r"\b(?:shortest|minimum|least|lowest|smallest|earliest|at least|lower limit)\b|"
                      r"最短|最少|最低|最小|最早|下限|起存|起购"),
}


def _asked_end(question: str) -> str | None:
    """``high`` / ``low`` when the question asks for one end of a range ("longest", "最少"), else ``None``."""
    norm = normalize_text(question)
    ends = [end for end, pattern in _ASKS_END.items() if pattern.search(norm)]
    return ends[0] if len(ends) == 1 else None


def _values_verdict(answer: str, gold: str, a_values: list[Quantity], g_values: list[Quantity],
                    question: str = "") -> tuple[Verdict, str, str] | None:
    """Compare the typed values; ``None`` when the answer states no value of the reference's kinds.

    The reference's values that the question itself states ("1000 points is worth how much", gold "1,000
    points = RMB 5") need not be repeated (RULES A8), as long as one value is left to answer; one end of a
    range is the answer when the question asks for that end ("最长多少天", gold 20至50天: 50天; RULES D3)."""
    kinds = [q for q in g_values if q.kind != "date" or q.unit != "year"]
    if not kinds:
        return None
    stated = quantities(question) if question else []
    unsaid = [g for g in kinds if not any(_compatible(g, q) and _equal(g, q) for q in stated)]
    if unsaid and len(unsaid) < len(kinds) and all(g.kind != "date" for g in kinds):
        kinds = unsaid
    relevant = [a for a in a_values if any(_compatible(g, a) for g in kinds)]
    if not relevant:
        return None
    rule = kinds[0].kind if kinds[0].kind in ("money", "percent", "duration", "time", "date", "count", "phone") \
        else "number"
    rule = {"money": "amount", "number": "count"}.get(rule, rule)
    matched: list[tuple[Quantity, Quantity]] = []
    for g in kinds:
        hit = next((a for a in relevant if _compatible(g, a) and _equal(g, a)), None)
        if hit is not None:
            matched.append((g, hit))
    if not matched:
        # working vs calendar days with the same number: partly (RULES D2)
        for g in kinds:
            for a in relevant:
                if g.kind == a.kind == "duration" and {g.unit, a.unit} == {"d", "wd"} and g.value == a.value:
                    return "partly", "value-partial", "working days vs calendar days"
        return "wrong", "value-mismatch", f"{relevant[0].kind} {relevant[0].value:g} is not the reference's"
    for g, a in matched:
        if g.period and a.period and g.period != a.period:
            return "wrong", "value-scope", f"per {a.period}, the reference says per {g.period}"
        if g.bound and a.bound and g.bound != a.bound:
            return "wrong", "value-scope", f"bound {a.bound}, the reference's is {g.bound}"
    extra = [a for a in relevant if not any(a is m for _, m in matched)
             and any(_compatible(g, a) and g.kind == a.kind for g, _ in matched)]
    gold_ranges = ranges(gold, g_values)
    if len(matched) < len(kinds):
        asked = _asked_end(question) if question else None
        for low, high in gold_ranges:
            hit = {id(g) for g, _ in matched}
            if id(high) in hit and id(low) not in hit:
                a = next(a for g, a in matched if g is high)
                if a.bound == "max":
                    return "correct", rule, "the range's upper bound, stated as a bound"
                if asked == "high":
                    return "correct", rule, "the range's upper end, which the question asks for"
            if id(low) in hit and id(high) not in hit and asked == "low":
                return "correct", rule, "the range's lower end, which the question asks for"
            if (id(low) in hit) != (id(high) in hit):
                return "partly", "value-partial", "one end of a range"
        if extra:
            return "wrong", "value-mismatch", "a value the reference does not give"
        return "partly", "value-partial", f"{len(matched)} of {len(kinds)} values"
    if extra and not ranges(answer, a_values):
        return "wrong", "value-mismatch", "a competing value beside the right one"
    return "correct", rule, ""


def _overlap_f1(answer: list[str], gold: list[str]) -> float:
    common = sum((Counter(answer) & Counter(gold)).values())
    if common == 0:
        return 0.0
    p, r = common / len(answer), common / len(gold)
    return 2 * p * r / (p + r)


def _competing(answer: str, gold: str) -> bool:
    """The answer offers the reference's value and another of the same kind as alternatives ("RMB 600 or RMB 2,000")."""
    norm = normalize_text(answer)
    kinds = {q.kind for q in quantities(gold)}
    values = [q for q in quantities(answer) if q.kind in kinds]
    return any(_ALTERNATIVE.search(norm[a.end:b.start]) and a.value != b.value
               for a, b in itertools.pairwise(values))


def _match_one(answer: str, gold: str, *, question: str, yes_no: bool, correct_f1: float,
               partly_f1: float) -> AnswerMatch:
    a_tok, g_tok = content_tokens(answer), content_tokens(gold)
    if not g_tok:
        return AnswerMatch("wrong", "empty-reference", gold)
    if a_tok == g_tok:
        return AnswerMatch("correct", "exact", gold)
    g_pol = reference_polarity(gold, question)
    lead = _bare_yes_no(answer) or _leading_yes_no(answer)
    if yes_no and lead is not None and g_pol is not None and lead != g_pol:
        return AnswerMatch("wrong", "polarity", gold, f"answers {lead}, the reference says {g_pol}")
    if _contains(a_tok, g_tok):
        if _competing(answer, gold):
            return AnswerMatch("wrong", "competing-values", gold, "the right value offered beside another")
        return AnswerMatch("correct", "contains-reference", gold)
    g_path = menu_path(gold)
    if g_path is not None:
        a_path = menu_path(answer)
        if a_path is not None:
            verdict, detail = _path_verdict(a_path, g_path)
            return AnswerMatch(verdict, "menu-path", gold, detail)
    # a yes/no answer with the reference's polarity (a contradiction returned above): bare ("不会。"), leading
    # ("No, you don't need to"), or a short part of the reference ("free" for "free, anywhere in China")
    short_part = _contains(g_tok, a_tok) and len(a_tok) <= 3 and polarity(answer) == g_pol
    bare = _bare_yes_no(answer) or (g_pol if short_part else None)
    conditional = bool(_CONDITION.search(normalize_text(gold)))
    if yes_no and g_pol is not None and (bare is not None or (lead is not None and not conditional)):
        if conditional:
            return AnswerMatch("partly", "yes-no", gold, "the reference states a condition")
        return AnswerMatch("correct", "yes-no", gold)
    values = _values_verdict(answer, gold, quantities(answer), quantities(gold), question)
    if values is not None:
        return AnswerMatch(values[0], values[1], gold, values[2])
    if _contains(g_tok, a_tok) and (len(a_tok) >= 2 or (a_tok[0].isalpha() and len(a_tok[0]) > 2)):
        if len(a_tok) * 2 >= len(g_tok):
            return AnswerMatch("correct", "within-reference", gold, f"{len(a_tok)} of {len(g_tok)} tokens")
        return AnswerMatch("partly", "within-reference", gold, f"{len(a_tok)} of {len(g_tok)} tokens")
    f1 = _overlap_f1(a_tok, g_tok) if a_tok else 0.0
    verdict: Verdict = "correct" if f1 >= correct_f1 else "partly" if f1 >= partly_f1 else "wrong"
    return AnswerMatch(verdict, "overlap", gold, f"F1 {f1:.2f}")


def match_answer(answer: str, references: Sequence[str], *, question: str = "", correct_f1: float = 0.8,
                 partly_f1: float = 0.5) -> AnswerMatch:
    """The verdict on ``answer`` against ``references`` (the best over them; see the module docstring).

    :param answer: the system's answer.
    :param references: the gold answers; empty for an unanswerable question (then only an abstention is
        correct).
    :param question: the question (decides whether a bare yes/no can answer it).
    :param correct_f1: token-overlap F1 from which an answer no other rule decided is correct.
    :param partly_f1: token-overlap F1 from which it is partly right.
    :returns: the :class:`AnswerMatch`.
    :raises TypeError: ``references`` is a string.
    """
    if isinstance(references, str):
        raise TypeError("references must be a sequence of strings, not one string")
    references = [r for r in references if not is_abstention(r)]  # an abstention as gold: unanswerable
    if not content_tokens(answer):
        return AnswerMatch("wrong", "empty")
    if is_abstention(answer):
        return AnswerMatch("wrong" if references else "correct", "abstained")
    if not references:
        return AnswerMatch("wrong", "answered-unanswerable")
    yes_no = is_yes_no_question(question) if question else False
    best: AnswerMatch | None = None
    for gold in references:
        found = _match_one(answer, gold, question=question, yes_no=yes_no, correct_f1=correct_f1,
                           partly_f1=partly_f1)
        if best is None or _RANK[found.verdict] < _RANK[best.verdict]:
            best = found
        if best.verdict == "correct":
            break
    assert best is not None
    return best
