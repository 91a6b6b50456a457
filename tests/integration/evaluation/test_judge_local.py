"""The direct judge prompt with the real Qwen2.5-Coder-0.5B model (llama.cpp): readable verdicts, repeated
judging over prompt variants, and a clear case judged as the labels say."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.evaluation.judge import JudgeItem, PromptJudge, make_judge_generator
from workbench.evaluation.labels import load_label_set

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "evaluation"

pytestmark = pytest.mark.slow


def test_qwen_0_5b_judges_a_clear_case_with_repeats() -> None:
    items = {i.id: i for i in load_label_set(FIX / "judge_labels.jsonl")}
    gen = make_judge_generator("qwen2.5-coder-0.5b")
    try:
        judge = PromptJudge(gen, repeats=2)
        it = items["fx-01"]                        # "4" for "4 free visits per card year": correct (C1)
        v = judge.judge(JudgeItem(it.question, it.references, it.system_answer))
    finally:
        gen.close()
    assert len(v.votes) == 2 and v.failures == 0 and judge.calls == v.attempts >= 2
    assert v.verdict == "correct", v
