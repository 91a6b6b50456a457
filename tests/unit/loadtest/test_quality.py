"""Answers of a load run scored against the dataset's gold: correct goodput, and quality per degradation level."""

import pytest

from workbench.loadtest import ClosedLoopRunner, Workload, WorkloadSpec
from workbench.loadtest.quality import score_answers
from workbench.loadtest.stats import SLO
from workbench.serving.schema import ChatRequest, ChatResponse


@pytest.fixture(scope="module")
def items() -> list:
    return [it for it in Workload(WorkloadSpec(seed=3)).items(400) if it.references]


def test_workload_items_carry_their_gold() -> None:
    wl = Workload(WorkloadSpec(seed=3, personalized_share=0.1, session_share=0.1))
    its = wl.items(500)
    kinds = {it.kind for it in its if it.references}
    assert kinds == {"question", "paraphrase", "personalized", "turn"}
    assert sum(it.references is not None for it in its) >= 0.9 * len(its)
    back = type(its[0]).from_dict(its[0].to_dict())
    assert back == its[0]


def test_score_answers_uses_the_matcher_and_samples(items: list) -> None:
    answers = [it.references[0] if i % 2 else "I am not sure." for i, it in enumerate(items)]
    ok = [i % 10 != 0 for i in range(len(items))]
    v = score_answers(items, answers, ok)
    assert all(x is None for x, good in zip(v, ok, strict=True) if not good)
    assert all(x == "correct" for i, (x, good) in enumerate(zip(v, ok, strict=True)) if good and i % 2)
    assert all(x != "correct" for i, (x, good) in enumerate(zip(v, ok, strict=True)) if good and not i % 2)
    s = score_answers(items, answers, ok, sample=50, seed=1)
    assert sum(x is not None for x in s) == 50 and s == score_answers(items, answers, ok, sample=50, seed=1)
    with pytest.raises(ValueError):
        score_answers(items, answers[:3], ok)


class Degrading:
    """Right (the gold) at level 0; the odd requests degraded to level 2 and wrong; every 3rd from the cache."""

    def __init__(self, items: list) -> None:
        self.gold = {it.request.question: it.references[0] for it in items}
        self.n = 0

    async def handle(self, request: ChatRequest) -> ChatResponse:
        self.n += 1
        if self.n % 2:
            return ChatResponse(answer="Please contact the branch.", degradation_level=2,
                                cache_layer="exact" if self.n % 3 == 0 else None)
        return ChatResponse(answer=self.gold[request.question], cache_layer="exact" if self.n % 3 == 0 else None)


async def test_correct_goodput_leaves_degraded_and_cached_wrong_answers_out(items: list) -> None:
    res = await ClosedLoopRunner(Degrading(items), items, users=1, max_requests=200, score=True).run()
    s = res.summary(SLO(e2el_ms=10_000))
    q = s["quality"]
    assert q["scored"] == 200 and not q["sampled"]
    assert s["correct_share"] == pytest.approx(0.5)
    assert s["goodput_rps"] == pytest.approx(s["throughput_rps"])
    assert s["correct_goodput_rps"] == pytest.approx(s["goodput_rps"] / 2)
    lv = q["by_degradation_level"]
    assert lv["0"]["correct_share"] == 1.0 and lv["2"]["correct_share"] == 0.0
    assert lv["0"]["share"] == pytest.approx(0.5) and lv["2"]["share"] == pytest.approx(0.5)
    assert 0 < q["by_cache_layer"]["exact"]["correct_share"] < 1  # cached wrong answers count as wrong
    lo, hi = q["correct_share_ci95"]
    assert lo < 0.5 < hi
    sampled = await ClosedLoopRunner(Degrading(items), items, users=1, max_requests=200, score=40).run()
    sq = sampled.summary(SLO(e2el_ms=10_000))["quality"]
    assert sq["scored"] == 40 and sq["sampled"] and sq["correct_share_ci95"][1] - sq["correct_share_ci95"][0] > 0.2
    assert sampled.df.verdict.notna().sum() == 40
