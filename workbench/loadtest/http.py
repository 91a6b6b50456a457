"""The HTTP sender: drives ``POST {base_url}/v1/chat`` of ``workbench serve`` (or any server of the contract).

Non-streamed requests read the JSON ChatResponse; streamed ones (``"stream": true``) read the
``text/event-stream`` (parsed by :func:`workbench.sse.aparse_sse_lines`): the first ``data: {"token": ...}``
event is the time to first token, token events are counted, ``data: {"response": {...}}`` carries the final
response, ``data: [DONE]`` ends it, ``data: {"error": ...}`` is a failure after the stream started. HTTP 429
is a shed (its ``Retry-After`` is kept in the error text); other 4xx/5xx and transport failures are
errors. The client is aiohttp's (about 85 µs of CPU per request here, against httpx's 0.6-1.2 ms, which under an
open loop's many requests in flight fell to a third of 150 req/s offered on this 2-core machine). With an :class:`~workbench.loadtest.endpoint.EndpointMapping` it drives any OpenAI-compatible chat
endpoint (streamed: each chunk with ``delta.content`` is a token) or a team's own RAG endpoint (its
request template and answer path); a reply without an answer at the path is an error. One pooled
``aiohttp.ClientSession`` per event loop, created on first use; the runners call :meth:`HttpSender.aclose` at the
end of a run.

```python
result = await OpenLoopRunner(HttpSender("http://127.0.0.1:8000"), Workload(), LoadProfile.steady(50, 10)).run()
```
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from workbench.loadtest.endpoint import EndpointMapping, extract_path
from workbench.loadtest.senders import Outcome, TokenClock
from workbench.loadtest.workload import WorkItem
from workbench.serving.openai_compat import count_tokens
from workbench.sse import aparse_sse_lines

__all__ = ["HttpSender"]

_HEADERS = {"content-type": "application/json"}
#: What a failed transport raises (connection refused or reset, timeout, a malformed HTTP reply).
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)


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
        self._url = self.base_url + self.path
        self._client: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"HttpSender({self.base_url}{self.path})"

    def _get_client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self._client is not None:  # made on an earlier loop, gone with it: forget it without a warning
                self._client.detach()
            t = self.timeout_s  # per step (connect, each read), as a streamed answer may take longer in all
            timeout = aiohttp.ClientTimeout(total=None, connect=t, sock_connect=t, sock_read=t)
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0)
            self._client = aiohttp.ClientSession(connector=connector, timeout=timeout, headers=self._headers)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the pool (a later :meth:`send` opens a new one)."""
        if self._client is not None:
            client, self._client, self._loop = self._client, None, None
            await client.close()

    async def __aenter__(self) -> HttpSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send(self, item: WorkItem) -> Outcome:
        client = self._get_client()
        if self.mapping.kind != "workbench":
            try:
                return await self._send_mapped(client, item)
            except _TRANSPORT_ERRORS as exc:
                return Outcome("error", error=f"{type(exc).__name__}: {exc}")
            except ValueError as exc:
                return Outcome("error", http_status=200, error=f"bad response body: {exc}")
        body = item.request.model_dump_json(exclude_none=True).encode()
        try:
            if item.request.stream:
                return await self._stream(client, body)
            async with client.post(self._url, data=body) as r:
                content = await r.read()
                if r.status != 200:
                    return _failure(r.status, r.headers, content)
            d = json.loads(content)
            return Outcome("ok", 0, int(d.get("tokens") or 0), d.get("cache_layer"), d.get("variant"),
                           int(d.get("degradation_level") or 0), bool(d.get("simulated")), 200,
                           answer=d.get("answer"))
        except _TRANSPORT_ERRORS as exc:
            return Outcome("error", error=f"{type(exc).__name__}: {exc}")
        except ValueError as exc:
            return Outcome("error", http_status=200, error=f"bad response body: {exc}")

    async def _stream(self, client: aiohttp.ClientSession, body: bytes) -> Outcome:
        clock = TokenClock()
        final: dict[str, Any] | None = None
        async with client.post(self._url, data=body) as r:
            if r.status != 200:
                return _failure(r.status, r.headers, await r.read())
            async for ev in aparse_sse_lines(_lines(r)):
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

    async def _send_mapped(self, client: aiohttp.ClientSession, item: WorkItem) -> Outcome:
        body = json.dumps(self.mapping.body(item.request), ensure_ascii=False).encode()
        if self.mapping.kind == "openai" and item.request.stream:
            return await self._stream_openai(client, body)
        async with client.post(self._url, data=body) as r:
            content = await r.read()
            if r.status != 200:
                return _failure(r.status, r.headers, content)
        reply = json.loads(content)
        answer, _ = self.mapping.answer(reply)
        if answer is None:
            where = self.mapping.answer_path or "choices[0].message.content"
            return Outcome("error", http_status=200, error=f"no answer text at {where} in the reply")
        usage = reply.get("usage") if isinstance(reply, dict) else None
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return Outcome("ok", 0, int(tokens) if isinstance(tokens, int) else count_tokens(answer), http_status=200,
                       answer=answer)

    async def _stream_openai(self, client: aiohttp.ClientSession, body: bytes) -> Outcome:
        clock = TokenClock()
        parts: list[str] = []
        usage_tokens: int | None = None
        async with client.post(self._url, data=body) as r:
            if r.status != 200:
                return _failure(r.status, r.headers, await r.read())
            async for ev in aparse_sse_lines(_lines(r)):
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


async def _lines(r: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The response body's lines as text, without their line ends (what the SSE parser reads)."""
    async for raw in r.content:
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


def _failure(status: int, headers: Mapping[str, str], content: bytes) -> Outcome:
    try:
        err = json.loads(content)["error"]
        text = f"{err.get('type')}: {err.get('message')}"
    except (ValueError, KeyError, TypeError):
        text = content[:200].decode("utf-8", "replace")
    if status == 429:
        return Outcome("shed", http_status=429, error=f"{text} (Retry-After: {headers.get('retry-after')})")
    return Outcome("error", http_status=status, error=f"HTTP {status} {text}")
