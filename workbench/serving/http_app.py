"""The HTTP service (FastAPI): ``POST /v1/chat`` (JSON or SSE), OpenAI-compatible ``POST /v1/chat/completions``,
``GET /metrics`` (Prometheus), ``GET /healthz``, ``GET /readyz``.

Errors are ``{"error": {"type", "message"}}`` with the exception's HTTP status (429 + ``Retry-After``
when shedding); bad input is a 4xx, never a 500::

    app = create_app(lambda: AsyncEngine.from_config(PipelineConfig.load("fast")))
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

from workbench.errors import OverloadedError, WorkbenchError
from workbench.serving.schema import ChatRequest, ChatResponse, StreamEvent

__all__ = ["create_app", "engine_factory"]

log = logging.getLogger(__name__)


def _error(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message}}, status_code=status, headers=headers)


def _from_exc(exc: WorkbenchError) -> JSONResponse:
    if isinstance(exc, OverloadedError):
        return _error(429, exc.type, str(exc), {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    return _error(exc.http_status, exc.type, str(exc))


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        where = ".".join(str(p) for p in e.get("loc", ())) or "body"
        parts.append(f"{where}: {e.get('msg')}")
    return "; ".join(parts)


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "invalid_request", "the body is not valid JSON")
    if not isinstance(body, dict):
        return _error(400, "invalid_request", "the body must be a JSON object")
    return body


def _sse(obj: Any) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


async def _first_then_rest(events: AsyncIterator[Any]) -> tuple[Any, AsyncIterator[Any]]:
    """The first event (so errors before it become a status code), and the rest."""
    first = await events.__anext__()
    return first, events


def create_app(engine_or_factory: Any) -> FastAPI:
    """The app serving an engine (anything with ``handle``/``stream``/``metrics``), or a factory of one.

    A factory (a zero-argument callable) is called at startup; the engine is started and closed with the app.
    """
    state: dict[str, Any] = {"engine": None}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = engine_or_factory if hasattr(engine_or_factory, "handle") else engine_or_factory()
        if hasattr(engine, "start"):
            await engine.start()
        state["engine"] = engine
        try:
            yield
        finally:
            state["engine"] = None
            if hasattr(engine, "aclose"):
                await engine.aclose()

    app = FastAPI(title="RAG Serving Workbench", version="1", lifespan=lifespan)

    def engine() -> Any:
        eng = state["engine"]
        if eng is None:
            raise OverloadedError("the service is starting", retry_after=1.0)
        return eng

    async def parse_chat(request: Request) -> ChatRequest | JSONResponse:
        body = await _json_body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            return ChatRequest.model_validate(body)
        except ValidationError as exc:
            return _error(422, "invalid_request", _validation_message(exc))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        eng = state["engine"]
        ok = eng is not None and getattr(eng, "ready", True)
        return JSONResponse({"status": "ready" if ok else "starting"}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        eng = state["engine"]
        body = eng.metrics.render() if eng is not None and hasattr(eng, "metrics") else b""
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/chat")
    async def chat(request: Request) -> Response:
        req = await parse_chat(request)
        if isinstance(req, JSONResponse):
            return req
        try:
            eng = engine()
            if not req.stream:
                return JSONResponse((await eng.handle(req)).to_dict())
            first, rest = await _first_then_rest(eng.stream(req))
        except WorkbenchError as exc:
            return _from_exc(exc)

        async def body() -> AsyncIterator[bytes]:
            ev: StreamEvent = first
            try:
                while True:
                    yield _sse(ev.model_dump(mode="json", exclude_none=True))
                    ev = await rest.__anext__()
            except StopAsyncIteration:
                yield b"data: [DONE]\n\n"
            except WorkbenchError as exc:
                yield _sse({"error": {"type": exc.type, "message": str(exc)}})

        return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, JSONResponse):
            return body
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in msgs):
            return _error(422, "invalid_request", "'messages' must be a non-empty list of {role, content} objects")
        users = [m["content"] for m in msgs if m.get("role", "user") == "user"]
        if not users:
            return _error(422, "invalid_request", "'messages' has no user message")
        fields = {"question": users[-1], "stream": bool(body.get("stream", False))}
        for k in ("tenant", "user", "session", "variant"):
            if body.get(k) is not None:
                fields[k] = body[k]
        try:
            req = ChatRequest.model_validate(fields)
        except ValidationError as exc:
            return _error(422, "invalid_request", _validation_message(exc))
        rid, created, model = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time()), str(body.get("model") or "workbench")

        def chunk(delta: dict[str, str], finish: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
            out = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if extra:
                out["workbench"] = extra
            return out

        try:
            eng = engine()
            if not req.stream:
                resp: ChatResponse = await eng.handle(req)
                return JSONResponse({
                    "id": rid, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": resp.answer},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": resp.tokens, "total_tokens": resp.tokens},
                    "workbench": resp.to_dict()})
            first, rest = await _first_then_rest(eng.stream(req))
        except WorkbenchError as exc:
            return _from_exc(exc)

        async def stream_body() -> AsyncIterator[bytes]:
            ev: StreamEvent = first
            yield _sse(chunk({"role": "assistant"}, None))
            try:
                while True:
                    if ev.token is not None:
                        yield _sse(chunk({"content": ev.token}, None))
                    elif ev.response is not None:
                        yield _sse(chunk({}, "stop", ev.response.to_dict()))
                    ev = await rest.__anext__()
            except StopAsyncIteration:
                yield b"data: [DONE]\n\n"
            except WorkbenchError as exc:
                yield _sse({"error": {"type": exc.type, "message": str(exc)}})

        return StreamingResponse(stream_body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app


def engine_factory(cfg_path: str) -> Callable[[], Any]:
    """A factory building the :class:`AsyncEngine` of the config at ``cfg_path`` (preset name or YAML)."""
    def make() -> Any:
        from workbench.config import PipelineConfig
        from workbench.serving.engine import AsyncEngine

        return AsyncEngine.from_config(PipelineConfig.load(cfg_path))
    return make
