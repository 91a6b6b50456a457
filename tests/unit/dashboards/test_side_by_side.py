"""SideBySideChat: one question answered by two targets at once, each column with its answer, sources and timings,
and a line saying whether the answers agree; a failing column does not stop the other."""

from __future__ import annotations

import pytest

from workbench.dashboards import SideBySideChat
from workbench.errors import OverloadedError
from workbench.serving.schema import ChatRequest, ChatResponse, SourceOut


class Target:
    def __init__(self, answer: str, total_ms: float) -> None:
        self.answer, self.total_ms = answer, total_ms
        self.requests: list[ChatRequest] = []

    async def handle(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return ChatResponse(answer=self.answer, timings_ms={"retrieve": 1.0, "total": self.total_ms},
                            sources=[SourceOut(id="cards-gold-en", title="Gold card fees", text="RMB 600.", score=1.0)])


class Failing:
    async def handle(self, request: ChatRequest) -> ChatResponse:
        raise OverloadedError(retry_after=1)


async def test_both_answer_the_same_question_side_by_side() -> None:
    fast, slow = Target("RMB 600", 3.0), Target("The fee is RMB 600 a year", 250.0)
    pair = SideBySideChat(fast, slow, labels=("fast", "default"), session="s")
    pair.question.value = "gold card annual fee?"
    await pair.wait()
    assert [r.question for r in fast.requests + slow.requests] == ["gold card annual fee?"] * 2
    assert (fast.requests[0].session, slow.requests[0].session) == ("s-fast", "s-default")
    left, right = pair.panels
    assert "RMB 600" in left.answer.value and "a year" in right.answer.value
    assert "cards-gold-en" in left.sources.value and "retrieve" in right.timing.value
    assert "answers differ" in pair.status.value and "fast 3 ms" in pair.status.value
    same = await SideBySideChat(Target("RMB 600", 1.0), Target("RMB 600", 2.0)).submit("fee?")
    assert [r.answer for r in same if r is not None] == ["RMB 600", "RMB 600"]


async def test_a_failing_column_and_empty_input_are_shown() -> None:
    pair = SideBySideChat(Target("RMB 600", 3.0), Failing())
    first, second = await pair.submit("fee?")
    assert first is not None and second is None
    assert "some configurations failed" in pair.status.value and "wb-error" in pair.panels[1].status.value
    pair.ask_button.click()
    assert "type a question first" in pair.status.value


def test_needs_two_backends_and_matching_labels() -> None:
    with pytest.raises(TypeError):
        SideBySideChat(Target("x", 1.0))
    with pytest.raises(ValueError):
        SideBySideChat(Target("x", 1.0), Target("y", 1.0), labels=("only-one",))
