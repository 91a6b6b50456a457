"""Running dashboard coroutines from widget callbacks and from plain synchronous code.

A notebook cell runs inside the kernel's event loop, so a widget callback schedules its work as a task
on that loop (:func:`schedule`) instead of blocking it; plain scripts and tests without a loop get the
coroutine run to completion. :func:`run_sync` waits for a coroutine from synchronous code, also inside
a running loop (then in a helper thread with its own loop).

```python
task = schedule(widget.submit("gold card fee?"))     # a Task in a notebook
answer = run_sync(widget.submit("gold card fee?"))   # the result, anywhere
```
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync", "schedule"]

T = TypeVar("T")


def schedule(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T] | T:
    """A task on the running loop (a notebook), or, with no running loop, the coroutine's result."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return loop.create_task(coro)


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
