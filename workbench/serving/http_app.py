"""The HTTP service (FastAPI): the one HTTP contract of the workbench, for the engine and any other target.

Routes: ``POST /v1/chat`` (JSON or SSE), OpenAI-compatible ``POST /v1/chat/completions``, ``GET /metrics``
(Prometheus), ``GET /healthz``, ``GET /readyz``, and the OpenAPI schema at ``/openapi.json``, which declares
the request bodies (:class:`ChatRequest`, :class:`ChatCompletionRequest`) and every error response.

Errors are ``{"error": {"type", "message"}}`` (:mod:`workbench.serving.http_errors`): bad input is a 400
(unknown tenant 404, wrong media type 415, body too large 413, too slow 408), overload a 429 with
``Retry-After``, never a 500 for anything a client sends. The transport limits are the
:class:`~workbench.serving.request_guard.RequestGuard`'s. The app serves any :class:`ChatTarget`: the
:class:`~workbench.serving.engine.AsyncEngine`, or a load-test target (a fixed delay, a stub)::

    app = create_app(lambda: AsyncEngine.from_config(PipelineConfig.load("fast")))
    app = create_app(DelayTarget(delay_s=0.02, tokens=4), limits=HttpLimits(max_in_flight=64))
    run_server(server_config(app, port=8000))      # workbench.serving.http_server
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, runtime_checkable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException

from workbench.errors import GeneratorError, OverloadedError, WorkbenchError
from workbench.observability.logs import current_request_id
from workbench.serving.http_errors import ERROR_RESPONSES, error_response, public_message, response_for
from workbench.serving.request_guard import HttpLimits, RequestGuard
from workbench.serving.schema import ChatCompletionRequest, ChatRequest, ChatResponse, StreamEvent
from workbench.sse import SSE_DONE, SSE_MEDIA_TYPE, sse_event

__all__ = ["ChatTarget", "create_app", "engine_factory"]

log = logging.getLogger(__name__)

_SSE_HEADERS = {"Cache-Control": "no-cache"}
_HTTP_TYPES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
               415: "unsupported_media_type"}
_PARSE_FAILURES = ((RecursionError, "it nests too deeply"), (UnicodeError, "it is not UTF-8 text"),
                   (ValueError, "a number in it is too long to read"))


@runtime_checkable
class ChatTarget(Protocol):
    """What the app serves: anything that answers a :class:`ChatRequest` (the engine, a load-test target).

    Optional members the app uses when present: ``stream(request)`` (token events, then one event with
    ``.response``; without it a streamed answer is the whole answer split into words), ``async start()`` /
    ``async aclose()`` (run with the app's lifespan), ``ready`` (``/readyz``), ``metrics.render()``
    (``/metrics``). Raise :class:`~workbench.errors.OverloadedError` to shed, other ``WorkbenchError`` s for
    bad input or backend failures.
    """

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """Answer one request."""
        ...


#: One server-sent event, as OpenAPI (before 3.2's ``itemSchema``) describes the events of a stream: ``data`` holds
#: the JSON payload (or ``[DONE]``).
_SSE_EVENT = {"type": "object", "required": ["data"],
              "properties": {"data": {"type": "string"}, "event": {"type": "string"}, "id": {"type": "string"},
                             "retry": {"type": "integer"}}}


def _responses(ok: str, response_model: Any) -> dict[int | str, dict[str, Any]]:
    ok_entry: dict[str, Any] = {"description": ok, "content": {SSE_MEDIA_TYPE: {"schema": _SSE_EVENT}}}
    if response_model is not None:
        ok_entry["model"] = response_model
    return {200: ok_entry, **ERROR_RESPONSES}


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        if e.get("type") == "json_invalid":
            return f"the body is not valid JSON: {e.get('ctx', {}).get('error', 'decode error')}"
        if not loc and e.get("type") in ("model_attributes_type", "model_type", "dict_type"):
            return "the body must be a JSON object"
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc) or 'body'}: {msg}")
    return "; ".join(parts)


def _with_id(resp: ChatResponse) -> dict[str, Any]:
    """The response as JSON data, carrying the HTTP request id (the one in the logs and ``X-Request-ID``)."""
    data = resp.to_dict()
    data["request_id"] = current_request_id()
    return data


def _stream_error(exc: BaseException) -> bytes:
    """The last event of a stream that failed after it started (the status line is already sent)."""
    rid = current_request_id()
    if isinstance(exc, WorkbenchError):
        if exc.http_status >= 500:
            log.warning("stream failed: %s: %s", exc.type, exc)
        return sse_event({"error": {"type": exc.type, "message": public_message(exc, rid)}})
    log.error("stream failed", exc_info=exc)
    return sse_event({"error": {"type": "internal_error", "message": f"the stream failed; request id {rid}"}})


async def _split(target: ChatTarget, req: ChatRequest) -> AsyncIterator[StreamEvent]:
    """A target without ``stream``: its answer, word by word, then the response."""
    resp = await target.handle(req)
    for word in resp.answer.split(" "):
        if word:
            yield StreamEvent(token=word + " ")
    yield StreamEvent(response=resp)


async def _opened(target: ChatTarget, req: ChatRequest) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
    """The first event of the target's stream (errors before it become a status code) and the rest."""
    stream_fn = getattr(target, "stream", None)
    events: AsyncIterator[StreamEvent] = stream_fn(req) if stream_fn is not None else _split(target, req)
    try:
        return await anext(events), events
    except StopAsyncIteration:
        raise GeneratorError("the answer stream ended before its first event") from None


def create_app(target: ChatTarget | Callable[[], ChatTarget], *, limits: HttpLimits | None = None,
               title: str = "RAG Serving Workbench") -> FastAPI:
    """The app serving ``target`` (or a zero-argument factory of one, called at startup).

    The target is started and closed with the app's lifespan when it has ``start``/``aclose``.

    :param target: a :class:`ChatTarget`, or a factory of one.
    :param limits: body size and time, in-flight shedding (default: the target config's ``serving`` section
        when the target has a ``cfg``, else :class:`HttpLimits` defaults).
    :param title: the OpenAPI title.
    :returns: the FastAPI app.
    """
    is_factory = not callable(getattr(target, "handle", None))
    state: dict[str, Any] = {"target": None if is_factory else target}  # an instance serves without a lifespan too
    if limits is None:
        serving = getattr(getattr(target, "cfg", None), "serving", None)
        limits = HttpLimits.from_config(serving) if serving is not None else HttpLimits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        served = target() if is_factory else target  # type: ignore[operator]
        if hasattr(served, "start"):
            await served.start()
        state["target"] = served
        try:
            yield
        finally:
            if is_factory:
                state["target"] = None
            if hasattr(served, "aclose"):
                await served.aclose()

    app = FastAPI(title=title, version="1", lifespan=lifespan)
    app.add_middleware(RequestGuard, limits=limits)

    def current() -> Any:
        served = state["target"]
        if served is None:
            raise OverloadedError("the service is starting", retry_after=1.0)
        return served

    @app.exception_handler(WorkbenchError)
    async def workbench_error(request: Request, exc: WorkbenchError) -> JSONResponse:
        return response_for(exc, current_request_id())

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "invalid_request", _validation_message(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI could not parse the JSON body
            why = next((text for kind, text in _PARSE_FAILURES if isinstance(exc.__cause__, kind)), "it is malformed")
            message = f"the body is not valid JSON: {why}"
        return error_response(exc.status_code, _HTTP_TYPES.get(exc.status_code, "http_error"), message,
                              dict(exc.headers) if exc.headers else None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "Starting or closing."}})
    async def readyz() -> JSONResponse:
        """Readiness: the target is started and ready."""
        served = state["target"]
        ok = served is not None and getattr(served, "ready", True)
        return JSONResponse({"status": "ready" if ok else "starting"}, status_code=200 if ok else 503)

    @app.get("/metrics", response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                              "description": "Prometheus text exposition."}})
    async def metrics() -> Response:
        """The target's Prometheus metrics (empty when it has none)."""
        served = state["target"]
        body = served.metrics.render() if served is not None and hasattr(served, "metrics") else b""
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/chat", response_model=None,
              responses=_responses("The answer (JSON), or with `stream: true` server-sent events: "
                                   '`data: {"token": ...}` per chunk, `data: {"response": {...}}`, '
                                   "`data: [DONE]`.", ChatResponse))
    async def chat(req: ChatRequest) -> Response:
        """Answer one question (the request path of DESIGN.md)."""
        served = current()
        if not req.stream:
            return JSONResponse(_with_id(await served.handle(req)))
        first, rest = await _opened(served, req)

        async def body() -> AsyncIterator[bytes]:
            ev = first
            try:
                while True:
                    if ev.response is not None:
                        yield sse_event({"response": _with_id(ev.response)})
                    else:
                        yield sse_event({"token": ev.token})
                    ev = await anext(rest)
            except StopAsyncIteration:
                yield SSE_DONE
            except Exception as exc:
                yield _stream_error(exc)

        return StreamingResponse(body(), media_type=SSE_MEDIA_TYPE, headers=_SSE_HEADERS)

    @app.post("/v1/chat/completions", response_model=None,
              responses=_responses("An OpenAI `chat.completion` (JSON), or with `stream: true` "
                                   "`chat.completion.chunk` events and `data: [DONE]`.", None))
    async def completions(body: ChatCompletionRequest) -> Response:
        """OpenAI-compatible: the last user message is the question; the answer is the assistant message."""
        req = body.to_chat_request()
        rid, created, model = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time()), body.model or "workbench"
        served = current()
        if not req.stream:
            resp: ChatResponse = await served.handle(req)
            return JSONResponse({
                "id": rid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": resp.answer},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": resp.tokens, "total_tokens": resp.tokens},
                "workbench": _with_id(resp)})
        first, rest = await _opened(served, req)

        def chunk(delta: dict[str, str], finish: str | None, extra: dict[str, Any] | None = None) -> bytes:
            out: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if extra:
                out["workbench"] = extra
            return sse_event(out)

        async def stream_body() -> AsyncIterator[bytes]:
            ev = first
            yield chunk({"role": "assistant"}, None)
            try:
                while True:
                    if ev.response is not None:
                        yield chunk({}, "stop", _with_id(ev.response))
                    elif ev.token is not None:
                        yield chunk({"content": ev.token}, None)
                    ev = await anext(rest)
            except StopAsyncIteration:
                yield SSE_DONE
            except Exception as exc:
                yield _stream_error(exc)

        return StreamingResponse(stream_body(), media_type=SSE_MEDIA_TYPE, headers=_SSE_HEADERS)

    def openapi() -> dict[str, Any]:
        """The schema, without FastAPI's default 422 (bad input is a 400 with the ErrorBody here)."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                                 description="The RAG Serving Workbench HTTP contract (see DESIGN.md).")
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def engine_factory(cfg_path: str, overrides: tuple[str, ...] = ()) -> Callable[[], Any]:
    """A factory building the :class:`AsyncEngine` of the config at ``cfg_path`` (preset name or YAML).

    :param cfg_path: a preset name or a YAML path.
    :param overrides: ``FIELD=VALUE`` strings, as ``--set`` takes them.
    :returns: a zero-argument callable for :func:`create_app`.
    """
    def make() -> Any:
        from workbench.cli import _load_config
        from workbench.serving.engine import AsyncEngine

        return AsyncEngine.from_config(_load_config(cfg_path, overrides))
    return make
