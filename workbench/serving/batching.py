"""Micro-batching of query embeddings across concurrent requests.

Requests that arrive within ``max_wait_ms`` of each other (up to ``max_batch``) share one
``embed_batch`` call, run in a worker thread so the event loop never blocks. At most one batch per
batcher computes at a time: texts that arrive meanwhile wait and go out together as soon as it ends, so
batches grow with the load (a per-item cost falls as the batch grows) instead of piling up as many small
batches in front of the one embedding thread. An embedding computed elsewhere with the same model (the
semantic cache's lookup, through this very batcher) is handed on with :meth:`MicroBatcher.prime`. The serving engine hands one to each lane's query pipeline,
whose async embed stage goes through it::

    batcher = MicroBatcher(query_embedder.embed_batch, max_batch=32, max_wait_ms=2)
    vec = await batcher.embed("gold card annual fee?")      # shape (dim,)
    qp = QueryPipeline(cfg, kb, batcher=batcher)
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import numpy as np

from workbench.errors import ConfigError

__all__ = ["PRIMED", "MicroBatcher"]

#: How many primed embeddings a batcher keeps waiting for their :meth:`MicroBatcher.embed` at most.
PRIMED = 1024


class MicroBatcher:
    """Collects texts into batches of at most ``max_batch``, waiting at most ``max_wait_ms`` to fill one while
    no batch computes; while one does, arrivals wait for it to end (see the module docstring)."""

    def __init__(self, fn: Callable[[Sequence[str]], np.ndarray], *, max_batch: int = 32, max_wait_ms: float = 2.0,
                 executor: Executor | None = None) -> None:
        if max_batch < 1 or max_wait_ms < 0:
            raise ConfigError("max_batch must be >= 1 and max_wait_ms >= 0", field="serving.embed_batch_size")
        self.fn, self.max_batch, self.max_wait_ms = fn, max_batch, max_wait_ms
        self._own = executor is None
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="embed")
        self._pending: list[tuple[str, asyncio.Future[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running = False
        self.batches = 0
        self.items = 0
        self.reused = 0
        """Embeddings answered from :meth:`prime` (no model call)."""
        self.on_batch: Callable[[int], None] | None = None
        self._primed: OrderedDict[str, np.ndarray] = OrderedDict()

    def __repr__(self) -> str:
        return f"MicroBatcher(max_batch={self.max_batch}, max_wait_ms={self.max_wait_ms:g})"

    @property
    def mean_batch(self) -> float:
        """Mean batch size so far."""
        return self.items / self.batches if self.batches else 0.0

    def prime(self, text: str, embedding: np.ndarray) -> None:
        """Answer the next :meth:`embed` of ``text`` with ``embedding``, without a model call: the serving engine
        hands the semantic-cache lookup's embedding of a question (same model) to the pipeline's embed stage, so a
        request embeds its question once. At most ``PRIMED`` texts wait; the oldest go first."""
        self._primed[text] = embedding
        self._primed.move_to_end(text)
        while len(self._primed) > PRIMED:
            self._primed.popitem(last=False)

    async def embed(self, text: str) -> np.ndarray:
        """The embedding of ``text`` (computed in a batch with concurrent callers, or the one :meth:`prime` gave)."""
        primed = self._primed.pop(text, None)
        if primed is not None:
            self.reused += 1
            return primed
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((text, fut))
        if not self._running:  # a running batch flushes what is pending when it ends
            if len(self._pending) >= self.max_batch:
                self._flush()
            elif self._timer is None:
                self._timer = loop.call_later(self.max_wait_ms / 1000.0, self._flush)
        return await fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
        batch = [(t, f) for t, f in batch if not f.done()]  # callers that gave up (cancelled) need no row
        if batch:
            self._running = True
            asyncio.get_running_loop().create_task(self._run(batch))
        elif self._pending:
            self._flush()

    async def _run(self, batch: list[tuple[str, asyncio.Future[Any]]]) -> None:
        self.batches += 1
        self.items += len(batch)
        if self.on_batch is not None:
            self.on_batch(len(batch))
        try:
            vecs = await asyncio.get_running_loop().run_in_executor(self._executor, self.fn, [t for t, _ in batch])
        except Exception as exc:  # every waiter gets the failure
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
        else:
            for i, (_, fut) in enumerate(batch):
                if not fut.done():
                    fut.set_result(vecs[i])
        finally:
            self._running = False
            if self._pending:  # what arrived during this batch goes out now, together
                self._flush()

    def close(self) -> None:
        """Stop the worker thread (if this batcher created it)."""
        if self._own:
            self._executor.shutdown(wait=False, cancel_futures=True)
