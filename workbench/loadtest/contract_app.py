"""A small FastAPI app that implements exactly the HTTP contract of ``workbench serve``'s ``/v1/chat``.

It answers with an injected :class:`~workbench.loadtest.target.Target` (a fixed delay, the ``fast``
preset's pipeline in a thread, ...), so the HTTP runner and Locust can be tested and calibrated
before (and independently of) the real serving app:

* ``POST /v1/chat``: ChatRequest JSON → ChatResponse JSON; with ``"stream": true`` a
  ``text/event-stream`` of ``data: {"token": ...}`` events, ``data: {"response": {...}}``, ``data: [DONE]``
  (from the target's ``stream`` when it has one, else its answer split into words).
* Overload: HTTP 429 with ``Retry-After`` and ``{"error": {"type": "overloaded", "message": ...}}``,
  from the target's ``OverloadedError`` or from ``max_in_flight``; bad input: 4xx, same body.
* ``GET /healthz``.

```python
with UvicornServer(create_contract_app(DelayTarget(delay_s=0.02))) as server:
    httpx.post(f"{server.url}/v1/chat", json={"question": "gold card fee?"}).json()["answer"]
```
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from workbench.errors import InputError, OverloadedError, WorkbenchError
from workbench.loadtest.target import Target
from workbench.serving.schema import ChatRequest, ChatResponse, StreamEvent

__all__ = ["create_contract_app", "main"]


def _error(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message}}, status_code=status, headers=headers)


def _from_exc(exc: WorkbenchError) -> JSONResponse:
    if isinstance(exc, OverloadedError):
        return _error(429, exc.type, str(exc), {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    return _error(exc.http_status, exc.type, str(exc))


def create_contract_app(target: Target, *, max_in_flight: int | None = None, retry_after_s: float = 1.0) -> FastAPI:
    """The contract app over ``target``; beyond ``max_in_flight`` concurrent requests it sheds with 429."""
    app = FastAPI(title="workbench contract app", docs_url=None, redoc_url=None, openapi_url=None)
    state = {"in_flight": 0}
    stream_fn = getattr(target, "stream", None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat")
    async def chat(request: Request) -> Response:
        try:
            req = ChatRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            return _from_exc(InputError(f"{where}: {first.get('msg')}"))
        if max_in_flight is not None and state["in_flight"] >= max_in_flight:
            return _from_exc(OverloadedError("too many requests in flight", retry_after=retry_after_s))
        if req.stream:
            return await _streamed(req)
        state["in_flight"] += 1
        try:
            resp = await target.handle(req)
        except WorkbenchError as exc:
            return _from_exc(exc)
        finally:
            state["in_flight"] -= 1
        return Response(resp.model_dump_json(), media_type="application/json")

    async def _streamed(req: ChatRequest) -> Response:
        state["in_flight"] += 1
        events = stream_fn(req) if stream_fn is not None else _split(target, req)
        try:  # the first event decides between a 200 stream and an error status
            first = await anext(events)
        except WorkbenchError as exc:
            state["in_flight"] -= 1
            return _from_exc(exc)
        except StopAsyncIteration:
            state["in_flight"] -= 1
            return _error(500, "stream_error", "the target's stream produced no events")

        async def body() -> AsyncIterator[bytes]:
            try:
                yield _sse(first)
                async for ev in events:
                    yield _sse(ev)
                yield b"data: [DONE]\n\n"
            except WorkbenchError as exc:
                yield f"data: {json.dumps({'error': {'type': exc.type, 'message': str(exc)}})}\n\n".encode()
            finally:
                state["in_flight"] -= 1

        return StreamingResponse(body(), media_type="text/event-stream")

    return app


def _sse(ev: StreamEvent) -> bytes:
    return f"data: {ev.model_dump_json(exclude_none=True)}\n\n".encode()


async def _split(target: Target, req: ChatRequest) -> AsyncIterator[StreamEvent]:
    """A target without ``stream``: its answer, word by word, then the response."""
    resp: ChatResponse = await target.handle(req)
    for word in resp.answer.split(" "):
        if word:
            yield StreamEvent(token=word + " ")
    yield StreamEvent(response=resp)


def main(argv: list[str] | None = None) -> None:
    """``python -m workbench.loadtest.contract_app --port 8000 --delay-ms 20 [--tokens 8 --tpot-ms 2]``:
    serve the contract app over a :class:`DelayTarget` in its own process (benchmarks: server and load
    generator must not share a process)."""
    import argparse

    import uvicorn

    from workbench.loadtest.target import DelayTarget

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--tokens", type=int, default=0)
    ap.add_argument("--tpot-ms", type=float, default=0.0)
    ap.add_argument("--max-in-flight", type=int, default=None)
    a = ap.parse_args(argv)
    app = create_contract_app(DelayTarget(delay_s=a.delay_ms / 1e3, tokens=a.tokens, tpot_s=a.tpot_ms / 1e3),
                              max_in_flight=a.max_in_flight)
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
