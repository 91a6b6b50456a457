"""The worker thread of a component whose work blocks (a model call): its ``run_async`` runs there.

Each heavy component (query embedder, rerankers, in-process generators) owns one worker thread, started
on first use. Its model then runs one call at a time (llama.cpp and torch models are not meant to be
called from several threads at once), waiting requests queue in the executor instead of holding threads
of the event loop's default pool, and the event loop never blocks::

    worker = ComponentWorker("rerank")
    out = await worker.call(reranker.run, query="gold card fee", documents=docs)
    out = await worker.call_streaming(generator.run, on_piece, prompt="...Answer:")   # pieces on the loop
    worker.close()

:class:`BlockingGenerator` and :class:`BlockingRanker` give a component that ``run_async``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from haystack import Document, component

__all__ = ["BlockingGenerator", "BlockingRanker", "ComponentWorker"]

T = TypeVar("T")
_END = object()


class ComponentWorker:
    """One lazily started worker thread named ``wb-{name}`` (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"ComponentWorker({self.name!r}, started={self._pool is not None})"

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The worker's executor (created on first use; e.g. for a micro-batcher of the same model)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"wb-{self.name}")
        return self._pool

    async def call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """``fn(**kwargs)`` on the worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, **kwargs))

    async def call_streaming(self, fn: Callable[..., T], on_piece: Callable[[str], None] | None, /,
                             **kwargs: Any) -> T:
        """``fn(**kwargs, streaming_callback=...)`` on the worker thread; ``on_piece`` receives every piece
        on the event loop's thread, in order, before this returns ``fn``'s result."""
        if on_piece is None:
            return await self.call(fn, **kwargs, streaming_callback=None)
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[Any] = asyncio.Queue()

        def forward(piece: str) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        fut = loop.run_in_executor(self.executor, partial(fn, **kwargs, streaming_callback=forward))
        fut.add_done_callback(lambda _f: pieces.put_nowait(_END))  # after every piece: FIFO on the loop
        while (item := await pieces.get()) is not _END:
            on_piece(item)
        return fut.result()

    def close(self) -> None:
        """Stop the thread (queued calls are cancelled; a running call finishes in the background)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class BlockingGenerator:
    """Mixin for a generator component whose model blocks (llama.cpp, transformers): ``run_async`` is its
    ``run`` on the component's :class:`ComponentWorker` (``self.worker``), pieces streamed to the loop."""

    worker: ComponentWorker
    run: Callable[..., dict[str, Any]]

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    async def run_async(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
                        documents: list[Any] | None = None,
                        streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """:meth:`run` on the worker thread; ``streaming_callback`` receives the pieces on the event loop."""
        return await self.worker.call_streaming(self.run, streaming_callback, prompt=prompt, messages=messages,
                                                question=question, documents=documents)

    def close(self) -> None:
        """Stop the worker thread (the model stays loaded)."""
        self.worker.close()


class BlockingRanker:
    """Mixin for a reranker component whose model blocks: ``run_async`` is its ``run`` on the component's
    :class:`ComponentWorker` (``self.worker``)."""

    worker: ComponentWorker
    run: Callable[..., dict[str, list[Document]]]

    @component.output_types(documents=list[Document])
    async def run_async(self, query: str, documents: list[Document],
                        top_k: int | None = None) -> dict[str, list[Document]]:
        """:meth:`run` on the worker thread (the event loop never blocks on the model)."""
        return await self.worker.call(self.run, query=query, documents=documents, top_k=top_k)

    def close(self) -> None:
        """Stop the worker thread (the model stays loaded)."""
        self.worker.close()
