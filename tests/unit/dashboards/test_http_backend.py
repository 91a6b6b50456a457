"""HttpBackend speaks the served chat stream: SSE token events, the response event, [DONE]; errors are raised."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from workbench.dashboards import ChatWidget, HttpBackend, parse_sse_line
from workbench.errors import WorkbenchError
from workbench.serving.schema import ChatRequest, ChatResponse


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat")
    async def chat(body: dict) -> object:  # type: ignore[type-arg]
        if body["question"] == "overload":
            return JSONResponse({"error": {"type": "overloaded", "message": "retry later"}}, status_code=429)
        assert body["stream"] is True

        async def events():  # type: ignore[no-untyped-def]
            for tok in ("RMB", " 600"):
                yield f"data: {json.dumps({'token': tok})}\n\n"
            resp = ChatResponse(answer="RMB 600", cache_layer="exact", session=body.get("session"), memory_turns=2)
            yield f"data: {json.dumps({'response': resp.to_dict()})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


async def test_stream_events_are_parsed() -> None:
    backend = HttpBackend("http://testserver/", transport=httpx.ASGITransport(app=_app()))
    events = [e async for e in backend.stream(ChatRequest(question="fee?", session="s9"))]
    assert [e.token for e in events[:2]] == ["RMB", " 600"]
    assert events[2].response is not None and events[2].response.cache_layer == "exact"
    assert len(events) == 3


async def test_widget_over_http_shows_cache_layer_and_memory() -> None:
    chat = ChatWidget(HttpBackend("http://testserver", transport=httpx.ASGITransport(app=_app())), session="s9")
    resp = await chat.submit("fee?")
    assert resp is not None and resp.memory_turns == 2
    assert "RMB 600" in chat.answer.value and "exact" in chat.meta.value


async def test_http_error_is_raised_with_the_server_message() -> None:
    backend = HttpBackend("http://testserver", transport=httpx.ASGITransport(app=_app()))
    with pytest.raises(WorkbenchError, match=r"429.*retry later"):
        _ = [e async for e in backend.stream(ChatRequest(question="overload"))]


def test_parse_sse_line() -> None:
    assert parse_sse_line("") is None and parse_sse_line(": keep-alive") is None
    assert parse_sse_line('data: {"token": "x"}').token == "x"  # type: ignore[union-attr]
    done = parse_sse_line("data: [DONE]")
    assert done is not None and done.token is None and done.response is None
