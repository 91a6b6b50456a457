"""Server-sent events: the one encoder and the one parser of the workbench.

The HTTP app encodes with :func:`sse_event` / :data:`SSE_DONE`; the OpenAI-compatible generator and the
HTTP load runner read streams with :func:`parse_sse_lines` (sync) or :func:`aparse_sse_lines` (async).
Only ``data:`` fields are used (multi-line data is joined with ``\\n`` as the SSE spec says); the stream
ends at ``data: [DONE]``::

    sse_event({"token": "hi"})                                    # b'data: {"token": "hi"}\\n\\n'
    list(parse_sse_lines(['data: {"a": 1}', '', 'data: [DONE]']))  # [{'a': 1}]
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

__all__ = ["SSE_DONE", "SSE_MEDIA_TYPE", "aparse_sse_lines", "parse_sse_lines", "sse_event"]

#: The media type of an event stream.
SSE_MEDIA_TYPE = "text/event-stream"

#: The last event of every stream the workbench sends.
SSE_DONE = b"data: [DONE]\n\n"


def sse_event(obj: Any) -> bytes:
    """One ``data:`` event carrying ``obj`` as JSON (UTF-8, non-ASCII kept)."""
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


class _Reader:
    """Accumulates ``data:`` lines into events; one instance per stream."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.done = False

    def feed(self, line: str) -> Any | None:
        """The decoded event that ``line`` completes, or ``None``; sets ``done`` at ``[DONE]``."""
        line = line.rstrip("\r\n")
        if line == "":
            return self.flush()
        if line.startswith(":"):
            return None
        if line.startswith("data:"):
            data = line[5:]
            self.buf.append(data[1:] if data.startswith(" ") else data)
        return None

    def flush(self) -> Any | None:
        if not self.buf:
            return None
        data = "\n".join(self.buf).strip()
        self.buf = []
        if data == "[DONE]":
            self.done = True
            return None
        return json.loads(data) if data else None


def parse_sse_lines(lines: Iterable[str]) -> Iterator[Any]:
    """The JSON payloads of an event stream given line by line, up to ``[DONE]``.

    :raises ValueError: (``json.JSONDecodeError``) on a ``data:`` field that is not JSON.
    """
    reader = _Reader()
    for line in lines:
        ev = reader.feed(line)
        if ev is not None:
            yield ev
        if reader.done:
            return
    ev = reader.flush()
    if ev is not None:
        yield ev


async def aparse_sse_lines(lines: AsyncIterable[str]) -> AsyncIterator[Any]:
    """The async twin of :func:`parse_sse_lines` (for ``httpx.Response.aiter_lines()``)."""
    reader = _Reader()
    async for line in lines:
        ev = reader.feed(line)
        if ev is not None:
            yield ev
        if reader.done:
            return
    ev = reader.flush()
    if ev is not None:
        yield ev
