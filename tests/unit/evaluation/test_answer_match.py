"""The answer-type-aware matcher: the labelling rules' own examples in both languages, a small set labelled
by hand for these tests, and hypothesis properties for notations (amounts, durations, paths) and totality."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.evaluation.labels import load_label_set
from workbench.evaluation.metrics.answer import exact_match
from workbench.evaluation.metrics.answer.answer_match import (
    VERDICTS,
    is_yes_no_question,
    match_answer,
    menu_path,
    reference_polarity,
)
from workbench.evaluation.metrics.answer.quantities import quantities

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "evaluation"

CASES = [
    # (answer, references, question, verdict, rule)
    ("4", ["4 free visits per card year"], "how many free lounge visits do i get with gold", "correct", "count"),
    ("4次", ["4 free visits per card year"], "how many free lounge visits do i get with gold", "correct", "count"),
    ("5", ["4 free visits per card year"], "how many free lounge visits do i get with gold", "wrong", "value-mismatch"),
    ("不会。", ["未激活的卡片不会产生年费"], "卡不激活会扣年费吗", "correct", "yes-no"),
    ("会", ["未激活的卡片不会产生年费"], "卡不激活会扣年费吗", "wrong", "polarity"),
    ("RMB 50,000", ["RMB 100,000 per day"], "whats the daily transfer limit with sms code", "wrong", "value-mismatch"),
    ("RMB 100,000", ["RMB 100,000 per day"], "whats the daily transfer limit with sms code", "correct", "amount"),
    ("10万元", ["RMB 100,000 per day"], "whats the daily transfer limit with sms code", "correct", "amount"),
    ("RMB 100,000 per transaction", ["RMB 100,000 per day"], "daily transfer limit with sms code", "wrong",
     "value-scope"),
    ("0.05% a year", ["0.05% per day"], "interest on a cash advance", "wrong", "value-scope"),
    ("RMB 600 or RMB 2,000", ["RMB 600"], "gold card annual fee", "wrong", "competing-values"),
    ("The main card costs RMB 600 per year.", ["RMB 600"], "gold card annual fee", "correct", "contains-reference"),
    ("Me → Personal Info → Mobile Number", ["Me > Personal Info > Mobile Number"], "change my phone number",
     "correct", "exact"),
    ("Go to Me > Personal Info", ["Me > Personal Info > Mobile Number"], "change my phone number", "partly",
     "menu-path"),
    ("Cards > Limits > Temporary Increase", ["Cards > Limits > Permanent Increase"], "permanent limit increase",
     "wrong", "menu-path"),
    ("我的 > 个人信息 > 手机号码", ["「我的」→「个人信息」→「手机号码」"], "怎么修改预留手机号", "correct", "exact"),
    ("「首页」→「跨境金融」", ["「首页」→「跨境金融」→「汇款记录」"], "汇出去的钱怎么查", "partly", "menu-path"),
    ("3台", ["最多同时绑定3台设备"], "手机银行最多能绑定几台手机", "correct", "count"),
    ("the 5th", ["on the 5th of the following month"], "when is the maintenance fee taken", "correct", "date"),
    ("每月28日", ["the 28th"], "31号放的款 每月几号还款", "correct", "date"),
    ("8:30 am", ["08:30"], "when do branches open", "correct", "time"),
    ("下午4点", ["北京时间16:00"], "境外汇款几点前提交", "correct", "time"),
    ("3 years", ["36 months"], "how long are points valid", "correct", "duration"),
    ("within 10 working days", ["5 to 10 working days"], "how long is the decision", "correct", "duration"),
    ("10 working days", ["5 to 10 working days"], "how long is the decision", "partly", "value-partial"),
    ("3 days", ["within 3 working days"], "how long", "partly", "value-partial"),
    # RULES D3: the end of a range the question asks for; A8: values the question already states
    ("50天", ["20至50天"], "信用卡免息期最长多少天", "correct", "duration"),
    ("20天", ["20至50天"], "信用卡免息期最长多少天", "partly", "value-partial"),
    ("6 months", ["6 to 60 months"], "shortest term for a personal loan", "correct", "duration"),
    ("5 RMB", ["1,000 points = RMB 5"], "1000 points is worth how much", "correct", "amount"),
    ("1000", ["1,000 points = RMB 5"], "1000 points is worth how much", "wrong", "value-mismatch"),
    ("0.1%", ["0.1% of the amount, minimum RMB 50, maximum RMB 260"], "remittance fee", "partly", "value-partial"),
    ("No", ["There is no first-year waiver"], "is the gold card free for the first year", "correct", "yes-no"),
    ("不用", ["首年免年费"], "经典卡第一年要交年费吗", "correct", "yes-no"),
    ("Yes", ["only for deposits opened in the app"], "can i withdraw my time deposit early in the app", "partly",
     "yes-no"),
    ("Yes, but only once", ["cannot be reopened"], "can i reopen a closed account", "wrong", "polarity"),
    ("", ["RMB 600"], "gold card annual fee", "wrong", "empty"),
    ("I couldn't find that in the knowledge base", ["RMB 600"], "gold card annual fee", "wrong", "abstained"),
    ("资料中没有找到相关内容", [], "明天巴黎天气怎么样", "correct", "abstained"),
    ("RMB 600", [], "what is the weather in paris tomorrow", "wrong", "answered-unanswerable"),
    ("+86 21 3888 5528", ["+86-21-3888-5528"], "number to call from abroad", "correct", "exact"),
    ("96110", ["95528"], "fraud line", "wrong", "value-mismatch"),
]


@pytest.mark.parametrize(("answer", "references", "question", "verdict", "rule"), CASES,
                         ids=[f"{c[0][:24]}->{c[3]}" for c in CASES])
def test_rule_examples(answer: str, references: list[str], question: str, verdict: str, rule: str) -> None:
    got = match_answer(answer, references, question=question)
    assert (got.verdict, got.rule) == (verdict, rule), got


def test_the_issue_examples_that_exact_match_got_wrong() -> None:
    assert exact_match("4", ["4 free visits per card year"], lang="en") == 0.0
    assert match_answer("4", ["4 free visits per card year"], question="how many free lounge visits with gold").score == 1
    assert exact_match("不会。", ["未激活的卡片不会产生年费"], lang="zh") == 0.0
    assert match_answer("不会。", ["未激活的卡片不会产生年费"], question="卡不激活会扣年费吗").score == 1
    assert match_answer("RMB 50,000", ["RMB 100,000 per day"], question="daily limit with sms code").score == 0


def test_the_hand_labelled_fixture_agrees_item_by_item() -> None:
    items = load_label_set(FIX / "judge_labels.jsonl")
    assert {i.lang for i in items} == {"en", "zh"} and len(items) == 20
    wrong = [(i.id, i.label, match_answer(i.system_answer, i.references, question=i.question))
             for i in items if match_answer(i.system_answer, i.references, question=i.question).verdict != i.label]
    assert wrong == []


def test_best_reference_wins_and_a_string_is_refused() -> None:
    got = match_answer("95528", ["RMB 20", "95528"], question="which number do i call")
    assert got.verdict == "correct" and got.reference == "95528"
    with pytest.raises(TypeError):
        match_answer("x", "x")  # type: ignore[arg-type]


def test_question_shapes_and_polarity() -> None:
    assert is_yes_no_question("can i open a current account in the app")
    assert is_yes_no_question("卡不激活会扣年费吗") and is_yes_no_question("往来账户能不能在app上开")
    assert not is_yes_no_question("how much is the gold card fee") and not is_yes_no_question("金卡年费多少")
    assert reference_polarity("cannot be reopened") == "no" and reference_polarity("always free") == "yes"
    assert menu_path("Cards > Limits > Lower My Limit") == ["cards", "limits", "lower my limit"]
    assert menu_path("「信用卡」→「激活新卡」") == ["信用卡", "激活新卡"] and menu_path("RMB 600") is None


def test_quantities_normalize_notations() -> None:
    def one(text: str) -> tuple[str, float, str | None, str | None]:
        (q,) = quantities(text)
        return q.kind, q.value, q.period, q.bound

    assert one("RMB 50,000") == one("5万元") == ("money", 50000.0, None, None)
    assert one("RMB 1 million") == one("100万元") == ("money", 1e6, None, None)
    assert one("up to RMB 50,000 per transaction") == ("money", 50000.0, "transaction", "max")
    assert one("至少提前1个工作日") == ("duration", 1.0, None, "min")
    assert one("3年")[1] == one("36 months")[1] == 36.0
    assert one("下午4:30")[1] == one("4:30 pm")[1] == 16 * 60 + 30
    assert one("1 January")[1] == one("1月1日")[1] == 101
    assert one("金卡12万元以上") == ("money", 120000.0, None, "min")
    assert [q.value for q in quantities("5-7 working days")] == [5.0, 7.0]
    assert [q.kind for q in quantities("三万到十万元")] == ["money", "money"]


_settings = settings(max_examples=80, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(st.integers(min_value=1, max_value=999).map(lambda n: n * 1000))
def test_amount_notations_agree_and_other_amounts_do_not(n: int) -> None:
    gold = f"RMB {n:,}"
    for notation in (f"{n}元", f"¥{n:,}", f"RMB{n}", f"{n:,} yuan"):
        assert match_answer(notation, [gold], question="how much is it").verdict == "correct", notation
    if n % 10000 == 0:
        assert match_answer(f"{n // 10000}万元", [gold], question="how much").verdict == "correct"
    assert match_answer(f"RMB {n + 1000:,}", [gold], question="how much is it").verdict == "wrong"


@_settings
@given(st.integers(min_value=1, max_value=10))
def test_duration_units_convert(years: int) -> None:
    assert match_answer(f"{years * 12} months", [f"{years} years"], question="how long").verdict == "correct"
    assert match_answer(f"{years}年", [f"{years * 12} months"], question="多久").verdict == "correct"
    assert match_answer(f"{years * 12 + 1} months", [f"{years} years"], question="how long").verdict == "wrong"


_screen = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8)


@_settings
@given(st.lists(_screen, min_size=3, max_size=5, unique=True), st.sampled_from([" > ", " → ", "->"]))
def test_menu_paths_compare_screens_not_separators(screens: list[str], sep: str) -> None:
    gold = " > ".join(screens)
    assert match_answer(sep.join(screens), [gold], question="where is it").verdict == "correct"
    assert match_answer(" > ".join(screens[:2]), [gold], question="where is it").verdict == "partly"
    zh = "→".join(f"「{s}」" for s in screens)
    assert match_answer(zh, [gold], question="where is it").verdict == "correct"


@_settings
@given(st.text(max_size=40), st.lists(st.text(max_size=30), max_size=3), st.text(max_size=30))
def test_total_on_any_text_and_more_references_never_hurt(answer: str, refs: list[str], question: str) -> None:
    got = match_answer(answer, refs, question=question)
    assert got.verdict in VERDICTS
    if refs:
        more = match_answer(answer, [*refs, answer], question=question)
        assert VERDICTS.index(more.verdict) <= VERDICTS.index(got.verdict)


def test_abstention_as_the_reference_and_leading_yes_no() -> None:
    abstain = ["I couldn't find that in the knowledge base"]
    assert match_answer("I couldn't find that in the knowledge base", abstain, question="lakers score").verdict \
        == "correct"
    assert match_answer("", abstain, question="lakers score").verdict == "wrong"            # empty is not abstaining
    assert match_answer("RMB 600", abstain, question="restaurant discounts").verdict == "wrong"
    assert match_answer("No, you don't have to register again for the app.", ["you don't need to register again"],
                        question="already use online banking do i have to register again for the app").verdict \
        == "correct"
    assert match_answer("不会扣年费", ["未激活的卡片不会产生年费"], question="卡不激活会扣年费吗").verdict == "correct"
    assert match_answer("free", ["free, anywhere in mainland China"],
                        question="is it free to withdraw at meridian atms").verdict == "correct"
    assert not is_yes_no_question("how do i close my savings account")
