"""HttpBackend speaks the served chat stream (the one HTTP app, in process): token events, the response event,
[DONE]; HTTP errors and error events are raised."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from workbench.dashboards import ChatWidget, HttpBackend, parse_sse_line
from workbench.errors import GeneratorError, OverloadedError, WorkbenchError
from workbench.serving import create_app
from workbench.serving.schema import ChatRequest, ChatResponse, StreamEvent


class _Teller:
    """Answers "RMB 600" from the exact cache with two memory turns; sheds "overload"; fails "break" mid-stream."""

    async def handle(self, request: ChatRequest) -> ChatResponse:
        if request.question == "overload":
            raise OverloadedError("retry later", retry_after=1.0)
        return ChatResponse(answer="RMB 600", cache_layer="exact", session=request.session, memory_turns=2)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        resp = await self.handle(request)
        for tok in ("RMB", " 600"):
            yield StreamEvent(token=tok)
        if request.question == "break":
            raise GeneratorError("the model server at http://10.1.2.3:8001 went away")
        yield StreamEvent(response=resp)


def _backend() -> HttpBackend:
    return HttpBackend("http://testserver/", transport=httpx.ASGITransport(app=create_app(_Teller())))


async def test_stream_events_are_parsed() -> None:
    events = [e async for e in _backend().stream(ChatRequest(question="fee?", session="s9"))]
    assert [e.token for e in events[:2]] == ["RMB", " 600"]
    assert events[2].response is not None and events[2].response.cache_layer == "exact"
    assert len(events) == 3


async def test_widget_over_http_shows_cache_layer_and_memory() -> None:
    chat = ChatWidget(_backend(), session="s9")
    resp = await chat.submit("fee?")
    assert resp is not None and resp.memory_turns == 2
    assert "RMB 600" in chat.answer.value and "exact" in chat.meta.value


async def test_http_error_is_raised_with_the_server_message() -> None:
    with pytest.raises(WorkbenchError, match=r"429.*retry later"):
        _ = [e async for e in _backend().stream(ChatRequest(question="overload"))]


async def test_error_event_mid_stream_is_raised_without_internals() -> None:
    seen: list[StreamEvent] = []
    with pytest.raises(WorkbenchError, match=r"generator_error") as info:
        async for e in _backend().stream(ChatRequest(question="break")):
            seen.append(e)
    assert [e.token for e in seen] == ["RMB", " 600"]
    assert "10.1.2.3" not in str(info.value)


def test_parse_sse_line() -> None:
    assert parse_sse_line("") is None and parse_sse_line(": keep-alive") is None
    assert parse_sse_line('data: {"token": "x"}').token == "x"  # type: ignore[union-attr]
    done = parse_sse_line("data: [DONE]")
    assert done is not None and done.token is None and done.response is None
