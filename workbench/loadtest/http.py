"""The HTTP sender: drives ``POST {base_url}/v1/chat`` of ``workbench serve`` (or any server of the contract).

Non-streamed requests read the JSON ChatResponse; streamed ones (``"stream": true``) read the
``text/event-stream`` (parsed by :func:`workbench.sse.aparse_sse_lines`): the first ``data: {"token": ...}``
event is the time to first token, token events are counted, ``data: {"response": {...}}`` carries the final
response, ``data: [DONE]`` ends it, ``data: {"error": ...}`` is a failure after the stream started. HTTP 429
is a shed (its ``Retry-After`` is kept in the error text); other 4xx/5xx and transport failures are
errors. With an :class:`~workbench.loadtest.endpoint.EndpointMapping` it drives any OpenAI-compatible chat
endpoint (streamed: each chunk with ``delta.content`` is a token) or a team's own RAG endpoint (its
request template and answer path); a reply without an answer at the path is an error. One pooled ``httpx.AsyncClient`` per event loop, created on first use; the runners call
:meth:`HttpSender.aclose` at the end of a run.

```python
result = await OpenLoopRunner(HttpSender("http://127.0.0.1:8000"), Workload(), LoadProfile.steady(50, 10)).run()
```
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from workbench.loadtest.endpoint import EndpointMapping, extract_path
from workbench.loadtest.senders import Outcome, TokenClock
from workbench.loadtest.workload import WorkItem
from workbench.serving.openai_compat import count_tokens
from workbench.sse import aparse_sse_lines

__all__ = ["HttpSender"]

_HEADERS = {"content-type": "application/json"}


class HttpSender:
    """Sends work items to ``{base_url}/v1/chat`` over a pooled async HTTP/1.1 client.

    ``max_connections`` bounds the pool (requests beyond it wait for a connection, and that wait counts
    in open-loop latency); ``timeout_s`` is the per-request timeout (a timeout is an error outcome).
    """

    def __init__(self, base_url: str, *, timeout_s: float = 30.0, max_connections: int = 512,
                 path: str | None = None, mapping: EndpointMapping | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self.mapping = mapping or EndpointMapping()
        self.path = path or self.mapping.route
        self._headers = {**_HEADERS, **self.mapping.headers}
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"HttpSender({self.base_url}{self.path})"

    def _get_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            limits = httpx.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections)
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s, limits=limits)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the pool (a later :meth:`send` opens a new one)."""
        if self._client is not None:
            client, self._client, self._loop = self._client, None, None
            await client.aclose()

    async def __aenter__(self) -> HttpSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send(self, item: WorkItem) -> Outcome:
        client = self._get_client()
        if self.mapping.kind != "workbench":
            try:
                return await self._send_mapped(client, item)
            except httpx.HTTPError as exc:
                return Outcome("error", error=f"{type(exc).__name__}: {exc}")
            except ValueError as exc:
                return Outcome("error", http_status=200, error=f"bad response body: {exc}")
        body = item.request.model_dump_json(exclude_none=True)
        try:
            if item.request.stream:
                return await self._stream(client, body)
            r = await client.post(self.path, content=body, headers=self._headers)
            if r.status_code != 200:
                return _failure(r.status_code, r.headers, r.content)
            d = r.json()
            return Outcome("ok", 0, int(d.get("tokens") or 0), d.get("cache_layer"), d.get("variant"),
                           int(d.get("degradation_level") or 0), bool(d.get("simulated")), 200,
                           answer=d.get("answer"))
        except httpx.HTTPError as exc:
            return Outcome("error", error=f"{type(exc).__name__}: {exc}")
        except ValueError as exc:
            return Outcome("error", http_status=200, error=f"bad response body: {exc}")

    async def _stream(self, client: httpx.AsyncClient, body: str) -> Outcome:
        clock = TokenClock()
        final: dict[str, Any] | None = None
        async with client.stream("POST", self.path, content=body, headers=self._headers) as r:
            if r.status_code != 200:
                return _failure(r.status_code, r.headers, await r.aread())
            async for ev in aparse_sse_lines(r.aiter_lines()):
                if ev.get("token") is not None:
                    clock.tick()
                if ev.get("response") is not None:
                    final = ev["response"]
                if ev.get("error") is not None:
                    err = ev["error"]
                    return Outcome("error", clock.first, clock.n, http_status=200,
                                   error=f"stream failed: {err.get('type')}: {err.get('message')}")
        if final is None:
            return Outcome("error", clock.first, clock.n, http_status=200,
                           error="stream ended without a final response event")
        return Outcome("ok", clock.first, int(final.get("tokens") or clock.n), final.get("cache_layer"),
                       final.get("variant"), int(final.get("degradation_level") or 0), bool(final.get("simulated")),
                       200, answer=final.get("answer"), itl_max_ns=clock.max_gap)

    async def _send_mapped(self, client: httpx.AsyncClient, item: WorkItem) -> Outcome:
        body = json.dumps(self.mapping.body(item.request), ensure_ascii=False)
        if self.mapping.kind == "openai" and item.request.stream:
            return await self._stream_openai(client, body)
        r = await client.post(self.path, content=body, headers=self._headers)
        if r.status_code != 200:
            return _failure(r.status_code, r.headers, r.content)
        reply = r.json()
        answer, _ = self.mapping.answer(reply)
        if answer is None:
            where = self.mapping.answer_path or "choices[0].message.content"
            return Outcome("error", http_status=200, error=f"no answer text at {where} in the reply")
        usage = reply.get("usage") if isinstance(reply, dict) else None
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return Outcome("ok", 0, int(tokens) if isinstance(tokens, int) else count_tokens(answer), http_status=200,
                       answer=answer)

    async def _stream_openai(self, client: httpx.AsyncClient, body: str) -> Outcome:
        clock = TokenClock()
        parts: list[str] = []
        usage_tokens: int | None = None
        async with client.stream("POST", self.path, content=body, headers=self._headers) as r:
            if r.status_code != 200:
                return _failure(r.status_code, r.headers, await r.aread())
            async for ev in aparse_sse_lines(r.aiter_lines()):
                if ev.get("error") is not None:
                    err = ev["error"]
                    return Outcome("error", clock.first, clock.n, http_status=200,
                                   error=f"stream failed: {err.get('type')}: {err.get('message')}")
                text = extract_path(ev, "choices[0].delta.content")
                if isinstance(text, str) and text:
                    clock.tick()
                    parts.append(text)
                usage = ev.get("usage")
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    usage_tokens = usage["completion_tokens"]
        answer = "".join(parts)
        return Outcome("ok", clock.first, usage_tokens if usage_tokens is not None else clock.n, http_status=200,
                       answer=answer, itl_max_ns=clock.max_gap)


def _failure(status: int, headers: httpx.Headers, content: bytes) -> Outcome:
    try:
        err = json.loads(content)["error"]
        text = f"{err.get('type')}: {err.get('message')}"
    except (ValueError, KeyError, TypeError):
        text = content[:200].decode("utf-8", "replace")
    if status == 429:
        return Outcome("shed", http_status=429, error=f"{text} (Retry-After: {headers.get('retry-after')})")
    return Outcome("error", http_status=status, error=f"HTTP {status} {text}")
