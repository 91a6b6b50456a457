"""Span rules of workbench.components.generators.answer_spans, on crafted sentences (one rule per case, both
languages where the rule has a counterpart)."""

import pytest

from workbench.components.generators.answer_spans import best_span, question_type, split_clauses

CASES = [
    # a qualifier is a whole word: "reach" does not end in the qualifier "each"
    ("money", "how much must my balance reach to skip the fee",
     "The fee is waived once your savings reach RMB 80,000.", "RMB 80,000"),
    ("money", "how much is the overdraft charge for each day",
     "An overdraft costs each RMB 15 per day.", "each RMB 15 per day"),
    # a deadline question asks for the time: "before"/"by" restates it
    ("time", "what is the cutoff for same-day payments", "Payments made before 15:30 Beijing time leave the same day.",
     "15:30 Beijing time"),
    ("time", "what's the deadline to order foreign cash", "Order by 11:00 on the day before you collect it.",
     "11:00 on the day before"),
    ("time", "what time do i need the money in my account", "Put the money in by 21:00 that evening.", "by 21:00"),
    ("time", "境外汇款几点截止", "北京时间15:30前提交的汇款当日发出。", "北京时间15:30"),
    # a fee named after its period asks for the amount (English "per year"; Chinese 元/年 is the unit itself)
    ("money", "whats the annual fee on the silver card", "The silver card costs RMB 300 per year.", "RMB 300"),
    ("money", "monthly fee for the basic account", "The basic account costs RMB 8 a month.", "RMB 8"),
    ("money", "silver card fee", "The silver card costs RMB 300 per year.", "RMB 300 per year"),
    ("money", "银卡年费多少", "主卡年费300元/年，首年免年费。", "300元/年"),
    # a rate question does not need the rate's name back; a percentage keeps its base
    ("rate", "活期存款利率是多少", "【利率】外币活期年利率0.05%；", "0.05%"),
    ("money", "临时额度最多能提多少", "临时额度最高可达固定额度的30%。", "固定额度的30%"),
    # how long something is valid: the length, not "valid for"
    ("duration", "how long does the code last", "Each code is valid for 10 minutes, then expires.", "10 minutes"),
    ("duration", "how long is the hold after a new device", "Transfers are limited for 48 hours after binding.",
     "48 hours after"),
    # bounds written in Chinese: consecutive, the last, cumulative spending, time zone
    ("duration", "储蓄账户多久不用会变成久悬户", "储蓄账户连续12个月无主动交易的，转为久悬户。", "连续12个月"),
    ("duration", "能查多少年的交易记录", "App可查询最近5年内的交易明细。", "最近5年内"),
    ("money", "银卡刷多少能免年费", "一个卡片年度内累计消费满2万元，即可免除下一年度年费。", "累计消费满2万元"),
    ("money", "minimum top-up for the travel card", "Top up any amount, minimum RMB 100 each time.",
     "minimum RMB 100 each time"),
    # a number after a currency is an amount, never a count; an earning rate keeps its base
    ("count", "how many miles per rmb on the travel card",
     "Travel card: 3 miles for every RMB 20 spent Lounge visits are not included.", "3 miles for every RMB 20"),
    # a table row that names the question's term, whatever the numerals or the language
    ("rate", "两年期定期利率多少", "【定期年利率】3个月：1.10%6个月：1.30%1年：1.50%2年：1.60%3年：1.90%", "1.60%"),
    ("rate", "interest rate for a 6-month deposit", "Rates: 3 months: 1.10%, 1 year: 1.50%, 6 months: 1.30%, 2 years: 1.60%.",
     "1.30%"),
    ("money", "分十二期每期手续费多少", "3期：每期0.75%6期：每期0.70%12期：每期0.60%", "每期0.60%"),
    # a daily cumulative cap keeps its scale, so a question about a day finds it
    ("money", "短信验证一天能转多少", "· 短信验证码：单笔3万元，日累计8万元；", "日累计8万元"),
    # a yes/no clause is matched with the label before its colon, as quantity spans are
    ("yesno", "is there a limit on payments in the app",
     "In the app: there is no payment limit other than your daily cap, so the app is the place for payments above "
     "your card limits.", "no payment limit other than your daily cap"),
    ("yesno", "柜台取现有没有限额", "柜台取现：除账户余额外不设限额，超出ATM限额的取现可到柜台办理。", "不设限额"),
    # a worked example after a heading glued to a clause ("... per month Example: RMB 6,000 ...") is not the rule
    ("money", "fee for a 6 month instalment",
     "- 6 months: 0.70% per month Example: RMB 3,000 over 6 months means RMB 500 principal plus a RMB 21 fee.",
     "0.70% per month"),
]


@pytest.mark.parametrize(("kind", "question", "sentence", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_span_rule(kind: str, question: str, sentence: str, expected: str) -> None:
    assert question_type(question) == kind
    span = best_span(kind, sentence, question)
    assert span is not None and span.text == expected
    assert sentence[span.start:span.end] == span.text, "the span is a slice of its sentence"


def test_example_heading_glued_to_a_clause_is_a_label() -> None:
    clauses = split_clauses("- 6 months: 0.70% per month Example: RMB 3,000 over 6 months")
    assert [c.label for c in clauses][-1] == "0.70% per month Example"
