"""Running dashboard coroutines from widget callbacks and from plain synchronous code.

A notebook cell runs inside the kernel's event loop, so a widget callback schedules its work as a task
on that loop (:func:`schedule`) instead of blocking it; plain scripts and tests without a loop get the
coroutine run to completion. :func:`run_sync` waits for a coroutine from synchronous code, also inside
a running loop (then in a helper thread with its own loop). :class:`BackgroundRun` runs a coroutine on
its own event loop in a daemon thread and lets another thread wait for it or cancel it: a load generator
that must not share the notebook's loop with widget redraws.

```python
task = schedule(widget.submit("gold card fee?"))     # a Task in a notebook
answer = run_sync(widget.submit("gold card fee?"))   # the result, anywhere
run = BackgroundRun(runner.run()); run.cancel(); result = await run.wait()
```
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["BackgroundRun", "TaskList", "run_sync", "schedule"]

T = TypeVar("T")


def schedule(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T] | T:
    """A task on the running loop (a notebook), or, with no running loop, the coroutine's result."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return loop.create_task(coro)


class TaskList:
    """The answers a widget has scheduled and not yet awaited: :meth:`start` schedules, :meth:`wait` awaits them all.

    ```python
    tasks = TaskList(); tasks.start(widget.submit("gold card fee?")); await tasks.wait()
    ```
    """

    def __init__(self) -> None:
        self.pending: list[asyncio.Task[Any]] = []

    def __len__(self) -> int:
        return len(self.pending)

    def start(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Schedule ``coro`` (:func:`schedule`): kept to await later on a running loop, run at once without one."""
        task = schedule(coro)
        if isinstance(task, asyncio.Task):
            self.pending.append(task)

    async def wait(self) -> None:
        """Await every scheduled task, also those scheduled while waiting."""
        while self.pending:
            await self.pending.pop(0)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """The coroutine's result: ``asyncio.run`` without a running loop, else in a helper thread with its own loop.

    Inside a notebook prefer ``await coro``: the helper thread's loop is not the kernel's loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wb-run-sync") as pool:
        return pool.submit(asyncio.run, coro).result()


class BackgroundRun(Generic[T]):
    """A coroutine run by ``asyncio.run`` in a daemon thread: its own event loop, shared with nothing.

    Everything the coroutine creates (tasks, an HTTP client's pool, semaphores) lives on that loop.
    :meth:`cancel` is safe from any thread, also before the loop has started: the coroutine sees a
    ``CancelledError`` at its next await and may return a partial result (then :meth:`wait` returns it)
    or let the cancellation through (then :meth:`wait` raises ``CancelledError``). An exception the
    coroutine raises is re-raised by :meth:`wait` / :meth:`result`.

    ```python
    run = BackgroundRun(runner.run(), name="wb-loadtest")
    result = await run.wait()          # from a notebook's loop, which stays free meanwhile
    ```
    """

    def __init__(self, coro: Coroutine[Any, Any, T], *, name: str = "wb-background") -> None:
        self.future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancel = False
        self._thread = threading.Thread(target=self._main, args=(coro,), name=name, daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"BackgroundRun({self._thread.name}, done={self.done()})"

    def _main(self, coro: Coroutine[Any, Any, T]) -> None:
        async def body() -> T:
            with self._lock:
                self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
                if self._cancel:
                    self._task.cancel()  # type: ignore[union-attr]
            try:
                return await coro
            finally:
                with self._lock:  # from here on cancel() has nothing to reach
                    self._loop = self._task = None

        try:
            value = asyncio.run(body())
        except asyncio.CancelledError:
            self.future.cancel()
        except BaseException as exc:  # handed to the waiting thread
            self.future.set_exception(exc)
        else:
            self.future.set_result(value)

    def cancel(self) -> None:
        """Ask the coroutine to stop (from any thread); a no-op once it has finished."""
        with self._lock:
            self._cancel = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)

    def done(self) -> bool:
        """True once the coroutine has finished (returned, raised or been cancelled)."""
        return self.future.done()

    async def wait(self, timeout: float | None = None) -> T:
        """The coroutine's result, awaited on the caller's loop (which keeps running meanwhile).

        :raises TimeoutError: not finished within ``timeout`` seconds (the run goes on).
        """
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self.future)), timeout)

    def result(self, timeout: float | None = None) -> T:
        """The coroutine's result, blocking the calling thread (not from the run's own thread)."""
        return self.future.result(timeout)
