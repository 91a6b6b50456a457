"""The cache's decision logic is written once, as plans that yield I/O steps; two drivers perform them.

A *plan* is a generator: it decides (which key, hit or miss, which layer, what to count) and, whenever
it needs the outside world (a backend ``GET``, a ``SET``, an embedding), it yields an :data:`IOStep`,
``(sync_call, async_call, args)``, and receives the result. :func:`run_sync` performs each step with
the sync call, :func:`run_async` awaits the async one. So ``lookup`` and ``alookup`` (and every other
sync/async pair of the cache) are one-line wrappers around the same plan: the sync path never touches
an event loop (no loop, no thread hop on the hot path) and the async path never blocks one::

    def _get(self, key):                       # the plan: written once
        blob = yield (self.backend.get, self.backend.aget, (key,))
        return decode_entry(blob) if blob is not None else None

    def get(self, key):                        # sync form
        return run_sync(self._get(key))

    async def aget(self, key):                 # async form
        return await run_async(self._get(key))

A plan composes other plans with ``yield from``. An exception raised by a step propagates to the caller
of the driver, as if the plan had made the call itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

__all__ = ["IOStep", "Plan", "run_async", "run_sync"]

T = TypeVar("T")

#: One I/O step of a plan: the sync callable, its async twin, and the positional arguments for either.
IOStep = tuple[Callable[..., Any], Callable[..., Awaitable[Any]], tuple[Any, ...]]

#: A plan: a generator that yields :data:`IOStep` s, receives their results, and returns its outcome.
Plan = Generator[IOStep, Any, T]


def run_sync(plan: Plan[T]) -> T:
    """Run ``plan`` to its outcome, performing each step with its sync call (no event loop involved).

    :param plan: a started-or-fresh plan generator.
    :returns: the plan's return value.
    """
    try:
        step = next(plan)
        while True:
            step = plan.send(step[0](*step[2]))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def run_async(plan: Plan[T]) -> T:
    """Run ``plan`` to its outcome, awaiting each step's async call.

    :param plan: a fresh plan generator.
    :returns: the plan's return value.
    """
    try:
        step = next(plan)
        while True:
            step = plan.send(await step[1](*step[2]))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
