"""ChatWidget: built without a kernel, driven by setting .value / clicking, asserted on its output widgets."""

from __future__ import annotations

import asyncio

import pytest

from workbench.dashboards import ChatWidget, TargetBackend, as_backend
from workbench.errors import ConfigError, OverloadedError
from workbench.loadtest import DelayTarget
from workbench.serving.schema import ChatRequest, ChatResponse, SourceOut, StreamEvent


class RichTarget:
    """Streams three tokens, then a response with every field the widget shows."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    async def handle(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return self._resp(request)

    async def stream(self, request: ChatRequest):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        for tok in ("RMB ", "600 ", "a year"):
            await asyncio.sleep(0)
            yield StreamEvent(token=tok)
        yield StreamEvent(response=self._resp(request))

    def _resp(self, request: ChatRequest) -> ChatResponse:
        return ChatResponse(
            answer="RMB 600 a year", cache_layer="semantic", variant="B", degradation_level=1,
            degradation="no_rerank", tokens=3, session=request.session, memory_turns=len(self.requests) - 1,
            timings_ms={"retrieve_bm25": 0.8, "generate": 1.2, "total": 2.5},
            sources=[SourceOut(id="cards-gold-en", title="Gold card fees", text="The annual fee is RMB 600.",
                               score=5.39)])


class FailingTarget:
    async def handle(self, request: ChatRequest) -> ChatResponse:
        raise OverloadedError(retry_after=2)


async def test_setting_value_submits_and_shows_everything() -> None:
    target = RichTarget()
    chat = ChatWidget(target, user="u1", session="s1")
    chat.question.value = "gold card annual fee?"
    assert chat.question.value == "", "the box is cleared once the question is taken"
    await chat.wait()
    assert "RMB 600 a year" in chat.answer.value
    assert "semantic" in chat.meta.value and "B" in chat.meta.value and "no_rerank" in chat.meta.value
    assert "memory turns" in chat.meta.value
    assert "retrieve_bm25" in chat.timing.value and "generate" in chat.timing.value
    assert "Gold card fees" in chat.sources.value and "5.390" in chat.sources.value
    assert "gold card annual fee?" in chat.memory.value
    req = target.requests[0]
    assert (req.user, req.session, req.stream) == ("u1", "s1", True)


async def test_button_click_submits_the_typed_question_and_turns_accumulate() -> None:
    chat = ChatWidget(RichTarget())
    chat.question.value = "first"
    await chat.wait()
    chat.question.unobserve_all()  # now the box holds text without submitting, as while typing in the browser
    chat.question.value = "second"
    chat.ask_button.click()
    await chat.wait()
    assert [q for q, _ in chat.turns] == ["first", "second"]
    assert chat.memory.value.index("first") < chat.memory.value.index("second")


async def test_tokens_stream_into_the_answer_before_the_response() -> None:
    seen: list[str] = []
    chat = ChatWidget(RichTarget())
    chat.answer.observe(lambda c: seen.append(c["new"]), names="value")
    await chat.submit("fee?")
    assert any("RMB 600" in v and "a year" not in v for v in seen), seen
    assert "▌" not in chat.answer.value


def test_ask_is_synchronous_outside_a_loop() -> None:
    chat = ChatWidget(DelayTarget(answer="hello", tokens=2))
    resp = chat.ask("hi")
    assert resp is not None and resp.answer == "hello"
    assert "hello" in chat.answer.value and "miss" in chat.meta.value


async def test_ask_also_works_inside_a_running_loop() -> None:
    chat = ChatWidget(DelayTarget(answer="from a thread"))
    assert chat.ask("hi").answer == "from a thread"  # type: ignore[union-attr]


async def test_an_error_is_shown_and_the_widget_stays_usable() -> None:
    chat = ChatWidget(FailingTarget())
    assert await chat.submit("anything") is None
    assert "OverloadedError" in chat.status.value
    chat.backend = as_backend(DelayTarget(answer="back"))
    assert (await chat.submit("again")).answer == "back"  # type: ignore[union-attr]


async def test_a_target_without_stream_is_answered_in_one_event() -> None:
    class HandleOnly:
        async def handle(self, request: ChatRequest) -> ChatResponse:
            return ChatResponse(answer=f"echo {request.question}")

    events = [e async for e in TargetBackend(HandleOnly()).stream(ChatRequest(question="x"))]
    assert len(events) == 1 and events[0].response.answer == "echo x"  # type: ignore[union-attr]


def test_bad_backends_are_refused() -> None:
    with pytest.raises(ConfigError):
        ChatWidget(42)
    with pytest.raises(ConfigError):
        as_backend("ftp://example")


async def test_an_empty_question_says_so_in_the_widget() -> None:
    chat = ChatWidget(RichTarget())
    chat.ask_button.click()
    assert "type a question first" in chat.status.value and "wb-error" in chat.status.value
    assert await chat.submit("   ") is None and "type a question first" in chat.status.value


async def test_a_closed_target_is_named_with_the_way_out() -> None:
    from workbench.loadtest.inprocess import ThreadedTarget

    target = ThreadedTarget(lambda req: ChatResponse(answer="RMB 600"), workers=1)
    chat = ChatWidget(target)
    assert (await chat.submit("gold card fee?")).answer == "RMB 600"
    target.close()                                  # what a Cleanup cell used to do before the widget was used
    assert await chat.submit("gold card fee?") is None
    assert "after shutdown" in chat.status.value and "re-run the cell that creates it" in chat.status.value
