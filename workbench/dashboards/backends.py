"""Chat backends: what a :class:`~workbench.dashboards.chat.ChatWidget` talks to.

A backend turns one :class:`ChatRequest` into a stream of :class:`StreamEvent` s: token chunks, then one
event carrying the full :class:`ChatResponse`. Two kinds:

* :class:`TargetBackend`: an in-process target (anything with ``async handle(request)``, and optionally
  ``stream(request)``: ``make_inprocess_target(cfg)`` or the async engine).
* :class:`HttpBackend`: a served URL (``POST {url}/v1/chat`` with ``stream: true``, server-sent events
  ``data: {"token": ...}``, ``data: {"response": {...}}``, ``data: [DONE]``, read with :mod:`workbench.sse`).

```python
backend = as_backend(make_inprocess_target(PipelineConfig.load("fast")))   # or as_backend("http://127.0.0.1:8000")
async for event in backend.stream(ChatRequest(question="gold card annual fee?", stream=True)):
    print(event.token or event.response.answer)
```
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from workbench.errors import ConfigError, WorkbenchError
from workbench.serving.schema import ChatRequest, ChatResponse, StreamEvent
from workbench.sse import aparse_sse_lines, parse_sse_lines

__all__ = ["ChatBackend", "HttpBackend", "TargetBackend", "as_backend", "parse_sse_line"]


@runtime_checkable
class ChatBackend(Protocol):
    """Streams the answer to one request: token events, then one event with ``.response`` set."""

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Token events, then the response event."""
        ...


class TargetBackend:
    """An in-process target as a chat backend: its ``stream`` when it has one, else ``handle`` (one event).

    ```python
    backend = TargetBackend(DelayTarget(tokens=3))
    ```
    """

    def __init__(self, target: Any) -> None:
        if not callable(getattr(target, "handle", None)):
            raise ConfigError(f"a chat target needs an async handle(request) method; got {type(target).__name__}",
                              field="target")
        self.target = target

    def __repr__(self) -> str:
        return f"TargetBackend({self.target!r})"

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The target's own stream (request sent with ``stream=True``), or its whole answer as one event."""
        streamer = getattr(self.target, "stream", None)
        if callable(streamer):
            async for event in streamer(request.model_copy(update={"stream": True})):
                yield event
            return
        yield StreamEvent(response=await self.target.handle(request))


class HttpBackend:
    """A served workbench: ``POST {url}/v1/chat`` with ``stream: true``, read as server-sent events.

    ``transport`` is passed to ``httpx.AsyncClient`` (tests use ``httpx.ASGITransport(app=...)``).

    ```python
    backend = HttpBackend("http://127.0.0.1:8000", timeout_s=60)
    ```
    """

    def __init__(self, url: str, *, timeout_s: float = 120.0, transport: Any = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"url must start with http:// or https://, got {url!r}", field="url")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.transport = transport

    def __repr__(self) -> str:
        return f"HttpBackend({self.url!r})"

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Token and response events parsed from the SSE stream; an HTTP error raises ``WorkbenchError``."""
        import httpx

        body = request.model_copy(update={"stream": True}).model_dump(mode="json", exclude_none=True)
        async with httpx.AsyncClient(timeout=self.timeout_s, transport=self.transport) as client, \
                client.stream("POST", f"{self.url}/v1/chat", json=body) as resp:
            if resp.status_code >= 400:
                await resp.aread()
                raise WorkbenchError(f"{self.url}/v1/chat answered HTTP {resp.status_code}: {_error_text(resp.text)}")
            async for data in aparse_sse_lines(resp.aiter_lines()):
                yield _event(data)


_DONE = StreamEvent()


def _event(data: dict[str, Any]) -> StreamEvent:
    """A parsed ``data:`` payload of the chat stream as an event; an error event raises ``WorkbenchError``."""
    if data.get("error") is not None:
        raise WorkbenchError(f"the chat stream failed: {_error_text(json.dumps(data))}")
    if data.get("response") is not None:
        return StreamEvent(response=ChatResponse.model_validate(data["response"]))
    return StreamEvent(token=data.get("token"))


def parse_sse_line(line: str) -> StreamEvent | None:
    """One line of the chat stream as an event (``None`` for blank/comment lines; a sentinel for ``[DONE]``).

    Parsed by :func:`workbench.sse.parse_sse_lines`, the workbench's one SSE parser.

    >>> parse_sse_line('data: {"token": "RMB"}').token
    'RMB'
    """
    for data in parse_sse_lines([line, ""]):
        return _event(data)
    return _DONE if line.startswith("data:") and line[5:].strip() == "[DONE]" else None


def _error_text(text: str) -> str:
    try:
        err = json.loads(text).get("error", {})
        return f"{err.get('type')}: {err.get('message')}"
    except (ValueError, AttributeError):
        return text[:200]


def as_backend(target_or_url: Any) -> ChatBackend:
    """A backend from a URL string, an in-process target, or an existing backend.

    ```python
    as_backend("http://127.0.0.1:8000")      # HttpBackend
    as_backend(make_inprocess_target(cfg))   # TargetBackend
    ```
    """
    if isinstance(target_or_url, str):
        return HttpBackend(target_or_url)
    if isinstance(target_or_url, TargetBackend | HttpBackend):
        return target_or_url
    if callable(getattr(target_or_url, "handle", None)):
        return TargetBackend(target_or_url)
    if isinstance(target_or_url, ChatBackend):
        return target_or_url
    raise ConfigError(f"expected a URL, a target with handle(request), or a chat backend; got "
                      f"{type(target_or_url).__name__}", field="backend")
