"""What a load test drives in-process: the :class:`Target` protocol, and small targets for calibration.

Any object with ``async def handle(request) -> ChatResponse`` is a target (the async engine is one);
``stream(request)`` is optional (token events, then one event carrying ``.response``). A target raises
:class:`~workbench.errors.OverloadedError` when it sheds, and other ``WorkbenchError``s for bad input.

```python
target = DelayTarget(delay_s=0.01, tokens=8)
resp = await target.handle(ChatRequest(question="gold card fee?"))
```
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, runtime_checkable

from workbench.errors import ConfigError
from workbench.serving.schema import ChatRequest, ChatResponse, StreamEvent

__all__ = ["CallableTarget", "DelayTarget", "NoopTarget", "SlotTarget", "StreamingTarget", "Target"]


@runtime_checkable
class Target(Protocol):
    """Anything that answers a :class:`ChatRequest` asynchronously (a fake needs no inheritance)."""

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """Answer one request; raise ``OverloadedError`` to shed it."""
        ...


@runtime_checkable
class StreamingTarget(Target, Protocol):
    """A :class:`Target` that can also stream: token events, then one event with ``.response`` set."""

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Stream one answer."""
        ...


_EMPTY = ChatResponse(answer="")


class NoopTarget:
    """Returns the same empty :class:`ChatResponse` at once: measures the runner's own overhead.

    ```python
    result = await OpenLoopRunner(NoopTarget(), workload, LoadProfile.steady(5000, 2)).run()
    ```
    """

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """The empty response, immediately (no await point)."""
        return _EMPTY


class DelayTarget:
    """Answers after ``delay_s`` (an ``asyncio.sleep``), optionally streaming ``tokens`` tokens ``tpot_s`` apart.

    A stand-in service with a known latency, for tests and calibration.

    ```python
    DelayTarget(delay_s=0.02, tokens=5, tpot_s=0.002)
    ```
    """

    def __init__(self, *, delay_s: float = 0.0, tokens: int = 0, tpot_s: float = 0.0, answer: str = "ok") -> None:
        if delay_s < 0 or tpot_s < 0 or tokens < 0:
            raise ConfigError("delay_s, tpot_s and tokens must be >= 0", field="DelayTarget")
        self.delay_s, self.tokens, self.tpot_s, self.answer = delay_s, tokens, tpot_s, answer

    def __repr__(self) -> str:
        return f"DelayTarget(delay_s={self.delay_s:g}, tokens={self.tokens}, tpot_s={self.tpot_s:g})"

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """Sleep for the whole answer, then return it."""
        total = self.delay_s + self.tpot_s * max(self.tokens - 1, 0)
        if total:
            await asyncio.sleep(total)
        return ChatResponse(answer=self.answer, tokens=self.tokens)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """``tokens`` token events (the first after ``delay_s``), then the response."""
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        for i in range(self.tokens):
            if i and self.tpot_s:
                await asyncio.sleep(self.tpot_s)
            yield StreamEvent(token="t ")
        yield StreamEvent(response=ChatResponse(answer=self.answer, tokens=self.tokens))


class SlotTarget:
    """A service whose capacity is known by construction: ``slots`` requests at a time, each taking exactly
    ``service_s``; the rest wait their turn (FIFO). Capacity = ``slots / service_s`` requests/s.

    ``answer_fn(request)`` gives the answer text (default ``"ok"``), so a test can make it right or wrong.

    ```python
    target = SlotTarget(service_s=0.01, slots=4)      # 400 req/s; latency 10 ms below that, a queue above
    ```
    """

    def __init__(self, *, service_s: float, slots: int,
                 answer_fn: Callable[[ChatRequest], str] | None = None) -> None:
        if service_s <= 0 or slots < 1:
            raise ConfigError("service_s must be > 0 and slots >= 1", field="SlotTarget")
        self.service_s, self.slots, self.answer_fn = service_s, slots, answer_fn
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"SlotTarget(service_s={self.service_s:g}, slots={self.slots})"

    @property
    def capacity_rps(self) -> float:
        """Requests per second it can serve: ``slots / service_s``."""
        return self.slots / self.service_s

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """Wait for a slot, hold it for ``service_s``, answer."""
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:  # one semaphore per event loop (a runner per asyncio.run)
            self._sem, self._loop = asyncio.Semaphore(self.slots), loop
        async with self._sem:
            await asyncio.sleep(self.service_s)
        return ChatResponse(answer=self.answer_fn(request) if self.answer_fn else "ok", tokens=1)


class CallableTarget:
    """Adapts ``async fn(request) -> ChatResponse`` to a :class:`Target`.

    ```python
    CallableTarget(my_async_answer)
    ```
    """

    def __init__(self, fn: Callable[[ChatRequest], Awaitable[ChatResponse]], *, name: str = "callable") -> None:
        self.fn, self.name = fn, name

    def __repr__(self) -> str:
        return f"CallableTarget({self.name})"

    async def handle(self, request: ChatRequest) -> ChatResponse:
        """Await the wrapped function."""
        return await self.fn(request)
