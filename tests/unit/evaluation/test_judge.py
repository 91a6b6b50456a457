"""LLM judges without a model: verdict parsing, majority votes, prompt variants, evidence, and the failure
modes a real model cannot be made to produce on demand (unreadable replies, a failing backend), with stubs."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.errors import GeneratorError
from workbench.evaluation.judge import (
    JudgeItem,
    PromptJudge,
    RagasJudge,
    evidence_for,
    majority,
    make_judge_generator,
    parse_verdict,
)

ITEM = JudgeItem("how many free lounge visits with gold", ("4 free visits per card year",), "4",
                 evidence="The main cardholder gets 4 free visits per card year.")


class _Scripted:
    """A generator stub that replies from a script (an exception in the script is raised)."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = list(replies)
        self.seen: list[list[dict[str, str]]] = []

    def run(self, prompt: str = "", messages: list[dict[str, str]] | None = None, **_: Any) -> dict[str, Any]:
        self.seen.append(messages or [])
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return {"replies": [reply], "meta": [{"raw": reply}]}


def test_parse_verdict_reads_the_first_verdict_word() -> None:
    assert parse_verdict("Correct.") == "correct" and parse_verdict("verdict: partially") == "partly"
    assert parse_verdict("incorrect, it is per month") == "wrong" and parse_verdict("「错误」") == "wrong"
    assert parse_verdict("部分正确") == "partly"
    with pytest.raises(GeneratorError):
        parse_verdict("The answer mentions four visits")


def test_majority_ties_go_to_the_less_favourable_verdict() -> None:
    assert majority(["correct", "correct", "wrong"]) == "correct"
    assert majority(["correct", "partly"]) == "partly" and majority([None, None]) is None


def test_retries_failures_and_variance_are_reported_not_averaged_away() -> None:
    gen = _Scripted(["hmm", "correct", "wrong", GeneratorError("503"), "no idea"])
    judge = PromptJudge(gen, repeats=3, retries=1)
    v = judge.judge(ITEM)
    assert v.votes == ("correct", "wrong", None)       # repeat 1 retried once; repeat 3 failed twice
    assert v.failures == 1 and v.attempts == 5 and judge.failed_calls == 3 and gen.replies == []
    assert v.verdict == "wrong" and v.variance == pytest.approx(0.25) and not v.unanimous
    none = PromptJudge(_Scripted(["?", "?"]), repeats=1, retries=1).judge(ITEM)
    assert none.verdict is None and none.failures == 1
    frame = PromptJudge(_Scripted(["correct"]), repeats=1).judge_many([ITEM])
    assert frame.loc[0, "verdict"] == "correct" and frame.loc[0, "failures"] == 0


def test_prompt_variants_reorder_and_drop_the_evidence() -> None:
    judge = PromptJudge(_Scripted([]), examples=2)
    first, second, third = (judge.messages(ITEM, v)[-1]["content"] for v in range(3))
    assert first.index("REFERENCE") < first.index("ANSWER") and "EVIDENCE" in first
    assert second.index("ANSWER") < second.index("REFERENCE") and "EVIDENCE" in second
    assert "EVIDENCE" not in third
    msgs = judge.messages(ITEM)
    assert msgs[0]["role"] == "system" and len(msgs) == 1 + 2 * 2 + 1 and msgs[2]["role"] == "assistant"
    with pytest.raises(ValueError):
        PromptJudge(_Scripted([]), repeats=0)
    with pytest.raises(TypeError):
        PromptJudge(object())


def test_ragas_judge_maps_scores_and_counts_unreadable_json() -> None:
    good = RagasJudge(_Scripted(['{"rating": 4}', '{"rating": 2}']), "answer_accuracy", retries=0)
    assert good.judge(ITEM).verdict == "correct"                       # (4 + 2) / 8 = 0.75
    bad = RagasJudge(_Scripted(["no json"] * 2 + ["still none"] * 2), "answer_accuracy", retries=1)
    v = bad.judge(ITEM)
    assert v.verdict is None and v.failures == 1 and v.attempts == 2 and "no score" in v.errors[0]
    with pytest.raises(ValueError):
        RagasJudge(_Scripted([]), "faithfulness")


def test_evidence_is_the_sentence_that_states_the_reference() -> None:
    doc = "Classic: no lounge access.\nGold: the main cardholder gets 4 free visits per card year. Guests pay RMB 200."
    assert evidence_for(["4 free visits per card year"], doc) == \
        "Gold: the main cardholder gets 4 free visits per card year."
    assert evidence_for([], doc) == ""
    with pytest.raises(ValueError):
        from workbench.config import GeneratorConfig

        make_judge_generator(GeneratorConfig(kind="extractive"))
