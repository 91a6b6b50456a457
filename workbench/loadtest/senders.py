"""How a runner sends one :class:`WorkItem` and what it learns back: a :class:`Sender` returns an :class:`Outcome`.

:class:`TargetSender` calls an in-process :class:`~workbench.loadtest.target.Target` (streaming when the
request asks for it and the target can); :class:`~workbench.loadtest.http.HttpSender` speaks the
HTTP contract. A sender never raises for a failed request: sheds and errors are outcomes.

```python
out = await TargetSender(NoopTarget()).send(item)
out.status, out.tokens, out.cache_layer
```
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from workbench.errors import OverloadedError, WorkbenchError
from workbench.loadtest.target import Target
from workbench.loadtest.workload import WorkItem
from workbench.serving.schema import ChatResponse

__all__ = ["Outcome", "Sender", "TargetSender", "TokenClock"]

_NS = time.perf_counter_ns


@dataclass(slots=True)
class Outcome:
    """What came back for one request (``first_token_ns`` 0: not streamed, the end counts as first token)."""

    status: str
    first_token_ns: int = 0
    tokens: int = 0
    cache_layer: str | None = None
    variant: str | None = None
    degradation_level: int = 0
    simulated: bool = False
    http_status: int | None = None
    error: str | None = None
    answer: str | None = None
    """The answer text (scored against the item's gold when the runner scores answers)."""
    itl_max_ns: int = 0
    """The largest gap between two successive streamed tokens (0: fewer than two tokens streamed)."""

    @classmethod
    def from_response(cls, resp: ChatResponse, *, first_token_ns: int = 0, tokens: int | None = None,
                      http_status: int | None = None, itl_max_ns: int = 0) -> Outcome:
        return cls("ok", first_token_ns, resp.tokens if tokens is None else tokens, resp.cache_layer, resp.variant,
                   resp.degradation_level, resp.simulated, http_status, answer=resp.answer, itl_max_ns=itl_max_ns)


class TokenClock:
    """Times a stream's tokens: the first one's arrival and the largest gap between two successive ones."""

    __slots__ = ("first", "last", "max_gap", "n")

    def __init__(self) -> None:
        self.first = self.last = self.n = self.max_gap = 0

    def tick(self) -> None:
        """One token arrived now."""
        now = _NS()
        if self.n:
            self.max_gap = max(self.max_gap, now - self.last)
        else:
            self.first = now
        self.last = now
        self.n += 1


@runtime_checkable
class Sender(Protocol):
    """Sends one item and reports its :class:`Outcome` (never raises for a failed request)."""

    async def send(self, item: WorkItem) -> Outcome:
        """Send ``item`` and wait for the whole answer."""
        ...


class TargetSender:
    """Drives an in-process :class:`Target`: ``handle``, or ``stream`` for streamed requests when available.

    ``OverloadedError`` → ``shed``; another ``WorkbenchError`` or any exception → ``error`` (its type and text).
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self._stream = getattr(target, "stream", None)

    def __repr__(self) -> str:
        return f"TargetSender({self.target!r})"

    async def send(self, item: WorkItem) -> Outcome:
        req = item.request
        try:
            if req.stream and self._stream is not None:
                return await self._send_stream(item)
            return Outcome.from_response(await self.target.handle(req))
        except OverloadedError as exc:
            return Outcome("shed", error=f"overloaded: retry after {exc.retry_after:g} s")
        except WorkbenchError as exc:
            return Outcome("error", error=f"{exc.type}: {exc}")
        except Exception as exc:
            return Outcome("error", error=f"{type(exc).__name__}: {exc}")

    async def _send_stream(self, item: WorkItem) -> Outcome:
        assert self._stream is not None
        clock = TokenClock()
        resp: ChatResponse | None = None
        async for ev in self._stream(item.request):
            if ev.token is not None:
                clock.tick()
            if ev.response is not None:
                resp = ev.response
        if resp is None:
            return Outcome("error", clock.first, clock.n, error="stream ended without a final response event")
        return Outcome.from_response(resp, first_token_ns=clock.first, tokens=resp.tokens or clock.n,
                                     itl_max_ns=clock.max_gap)
