"""What every generator of the workbench is: one blocking and one async streaming call, same signature.

The query pipeline calls any generator through this protocol (main, small and extractive alike), so it
never asks which class it has. A fake needs no inheritance::

    class Echo:
        def run(self, prompt="", messages=None, question="", documents=None, streaming_callback=None):
            return {"replies": [question], "meta": [{"completion_tokens": 1}]}
        async def run_async(self, prompt="", messages=None, question="", documents=None, streaming_callback=None):
            return self.run(prompt, messages, question, documents, streaming_callback)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["Generator"]


@runtime_checkable
class Generator(Protocol):
    """A Haystack generator component: ``replies`` and ``meta`` out, text pieces to ``streaming_callback``.

    ``meta[0]`` carries at least ``completion_tokens``; a remote generator adds ``simulated`` (the
    workbench's simulated LLM service served it). ``run_async`` calls ``streaming_callback`` on the
    event loop's thread.
    """

    def run(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
            documents: list[Any] | None = None,
            streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Generate one reply (blocking)."""
        ...

    async def run_async(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
                        documents: list[Any] | None = None,
                        streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Generate one reply without blocking the event loop."""
        ...
