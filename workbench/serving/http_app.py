"""The HTTP service (FastAPI): the one HTTP contract of the workbench, for the engine and any other target.

Routes: ``POST /v1/chat`` (JSON or SSE), OpenAI-compatible ``POST /v1/chat/completions``,
``POST /v1/completions`` (the prompt is the question) and ``GET /v1/models``, ``GET /metrics`` (Prometheus), ``GET /healthz`` (and ``/health``, which load tools
probe), ``GET /readyz``, and the OpenAPI schema at ``/openapi.json``, which declares the request bodies
(:class:`ChatRequest`, :class:`ChatCompletionRequest`) and every error response.

The OpenAI route takes what real clients send (:mod:`workbench.serving.openai_compat`): message content
as a list of text parts, ``max_tokens`` or ``max_completion_tokens`` (the answer is cut to that many
tokens, ``finish_reason: "length"``), ``stream_options.include_usage`` (a last chunk with empty
``choices`` and the usage); ``usage.prompt_tokens`` counts the messages' tokens (words, or characters of
unspaced text: the retrieval prompt built inside is not the client's), ``completion_tokens`` the answer's.

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

import json
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
from fastapi.routing import APIRoute, APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException

from workbench.errors import GeneratorError, OverloadedError, WorkbenchError
from workbench.observability.logs import current_request_id
from workbench.serving.http_errors import ERROR_RESPONSES, error_response, public_message, response_for
from workbench.serving.openai_compat import (
    OWNED_BY,
    CompletionRequest,
    count_tokens,
    normalize_chat_body,
    truncate_tokens,
)
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


class _OpenAIRequest(Request):
    """A request whose JSON body is normalised as OpenAI clients send it (content parts, max_completion_tokens)
    before FastAPI validates it; ``state.include_usage`` keeps ``stream_options.include_usage``."""

    async def body(self) -> bytes:
        if not hasattr(self, "_normalized"):
            raw = await super().body()
            self._normalized = raw
            try:
                data = json.loads(raw)
            except (ValueError, RecursionError):  # FastAPI reports the malformed body as before
                return raw
            options = data.get("stream_options") if isinstance(data, dict) else None
            self.state.include_usage = isinstance(options, dict) and options.get("include_usage") is True
            norm = normalize_chat_body(data)
            if norm is not data:
                self._normalized = json.dumps(norm, ensure_ascii=False).encode()
        return self._normalized


class _OpenAIRoute(APIRoute):
    """The route class of the OpenAI-compatible routes (see :class:`_OpenAIRequest`)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def normalized(request: Request) -> Response:
            return await handler(_OpenAIRequest(request.scope, request.receive))

        return normalized


def _prompt_tokens(body: ChatCompletionRequest) -> int:
    return sum(count_tokens(m.content) for m in body.messages)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


async def _openai_events(first: StreamEvent, rest: AsyncIterator[StreamEvent], limit: int | None, *,
                         token: Callable[[str], bytes], done: Callable[[ChatResponse], bytes],
                         length: Callable[[], bytes], usage: Callable[[list[str]], bytes] | None) -> AsyncIterator[bytes]:
    """An OpenAI stream from the target's events: a chunk per token (at most ``limit``, then ``length()``), the
    final one, the usage chunk when asked (``usage``), ``[DONE]``; an error after the start is an error event."""
    ev, sent = first, []
    try:
        while True:
            if ev.response is not None:
                yield done(ev.response)
            elif ev.token is not None:
                if limit is not None and len(sent) >= limit:
                    yield length()
                    break
                sent.append(ev.token)
                yield token(ev.token)
            ev = await anext(rest)
    except StopAsyncIteration:
        pass
    except Exception as exc:
        yield _stream_error(exc)
        return
    finally:
        close = getattr(rest, "aclose", None)
        if close is not None:
            await close()
    if usage is not None:
        yield usage(sent)
    yield SSE_DONE


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
    @app.get("/health")
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

    openai = APIRouter(route_class=_OpenAIRoute)
    started = int(time.time())

    def model_name() -> str:
        return str(getattr(getattr(state["target"], "cfg", None), "name", None) or "workbench")

    @openai.get("/v1/models")
    async def models() -> dict[str, Any]:
        """OpenAI's model list: the served config, by name."""
        return {"object": "list", "data": [{"id": model_name(), "object": "model", "created": started,
                                            "owned_by": OWNED_BY}]}

    @openai.post("/v1/chat/completions", response_model=None,
                 responses=_responses("An OpenAI `chat.completion` (JSON), or with `stream: true` "
                                      "`chat.completion.chunk` events and `data: [DONE]`.", None))
    async def completions(body: ChatCompletionRequest, request: Request) -> Response:
        """OpenAI-compatible: the last user message is the question; the answer is the assistant message."""
        req = body.to_chat_request()
        rid, created, model = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time()), body.model or model_name()
        prompt_tokens = _prompt_tokens(body)
        limit = body.max_tokens
        served = current()
        if not req.stream:
            resp: ChatResponse = await served.handle(req)
            content, cut = truncate_tokens(resp.answer, limit) if limit else (resp.answer, False)
            return JSONResponse({
                "id": rid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "length" if cut else "stop", "logprobs": None}],
                "usage": _usage(prompt_tokens, count_tokens(content)), "workbench": _with_id(resp)})
        first, rest = await _opened(served, req)

        def chunk(delta: dict[str, str], finish: str | None, extra: dict[str, Any] | None = None) -> bytes:
            out: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if extra:
                out["workbench"] = extra
            return sse_event(out)

        def usage_chunk(sent: list[str]) -> bytes:
            return sse_event({"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                              "choices": [], "usage": _usage(prompt_tokens, count_tokens("".join(sent)))})

        async def stream_body() -> AsyncIterator[bytes]:
            yield chunk({"role": "assistant", "content": ""}, None)
            async for event in _openai_events(
                    first, rest, limit, token=lambda t: chunk({"content": t}, None),
                    done=lambda r: chunk({}, "stop", _with_id(r)), length=lambda: chunk({}, "length"),
                    usage=usage_chunk if getattr(request.state, "include_usage", False) else None):
                yield event

        return StreamingResponse(stream_body(), media_type=SSE_MEDIA_TYPE, headers=_SSE_HEADERS)

    @openai.post("/v1/completions", response_model=None,
                 responses=_responses("An OpenAI `text_completion` (JSON), or with `stream: true` its chunks and "
                                      "`data: [DONE]`.", None))
    async def text_completions(body: CompletionRequest, request: Request) -> Response:
        """OpenAI's legacy completion: the prompt is the question, the answer the completion text."""
        req = body.to_chat_request()
        rid, created, model = f"cmpl-{uuid.uuid4().hex[:12]}", int(time.time()), body.model or model_name()
        prompt_tokens, limit = count_tokens(req.question), body.max_tokens
        served = current()

        def doc(text: str, finish: str | None, **extra: Any) -> dict[str, Any]:
            return {"id": rid, "object": "text_completion", "created": created, "model": model,
                    "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}], **extra}

        if not req.stream:
            resp: ChatResponse = await served.handle(req)
            text, cut = truncate_tokens(resp.answer, limit) if limit else (resp.answer, False)
            return JSONResponse(doc(text, "length" if cut else "stop", usage=_usage(prompt_tokens, count_tokens(text)),
                                    workbench=_with_id(resp)))
        first, rest = await _opened(served, req)

        def usage_chunk(sent: list[str]) -> bytes:
            last = doc("", None, usage=_usage(prompt_tokens, count_tokens("".join(sent))))
            last["choices"] = []
            return sse_event(last)

        stream_body = _openai_events(
            first, rest, limit, token=lambda t: sse_event(doc(t, None)),
            done=lambda r: sse_event(doc("", "stop", workbench=_with_id(r))), length=lambda: sse_event(doc("", "length")),
            usage=usage_chunk if getattr(request.state, "include_usage", False) else None)
        return StreamingResponse(stream_body, media_type=SSE_MEDIA_TYPE, headers=_SSE_HEADERS)

    app.include_router(openai)

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
