"""The summary hook: compress turns that fell out of the window into a running summary.

A summarizer is any callable ``(previous_summary | None, turns) -> str``. The default,
:class:`LocalModelSummarizer`, asks the bundled local model; :class:`ExtractiveSummarizer` is a
deterministic, model-free alternative (what the user asked, the first words of each answer)::

    memory = ConversationMemory(store, summarize=True, summarizer=ExtractiveSummarizer(max_chars=400))
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from workbench.memory.records import Turn
from workbench.text import detect_language

__all__ = ["ExtractiveSummarizer", "LocalModelSummarizer", "Summarizer"]


class Summarizer(Protocol):
    """Turns (plus the previous summary) into a new summary."""

    def __call__(self, previous: str | None, turns: Sequence[Turn]) -> str: ...


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: max(0, n - 1)] + "…"


class ExtractiveSummarizer:
    """Deterministic: keeps each older question and the start of its answer, capped at ``max_chars``."""

    def __init__(self, *, max_chars: int = 600, answer_chars: int = 60) -> None:
        if max_chars < 20:
            raise ValueError("max_chars must be >= 20")
        self.max_chars, self.answer_chars = max_chars, answer_chars

    def __call__(self, previous: str | None, turns: Sequence[Turn]) -> str:
        lines = [previous] if previous else []
        lines += [f"Q: {_clip(t.user, 120)} A: {_clip(t.assistant, self.answer_chars)}" for t in turns]
        text = " | ".join(lines)
        return text if len(text) <= self.max_chars else "…" + text[-(self.max_chars - 1):]


class LocalModelSummarizer:
    """The local model (default Gemma-3-270M via llama.cpp) writes a one-line summary of the older turns.

    The model is loaded on first use. Small models summarize poorly, so the output is capped and
    falls back to :class:`ExtractiveSummarizer` when it comes back empty.
    """

    def __init__(self, generator: Any = None, *, model: str = "gemma-3-270m", max_chars: int = 600) -> None:
        self._generator, self.model, self.max_chars = generator, model, max_chars
        self._fallback = ExtractiveSummarizer(max_chars=max_chars)
        self._lock = threading.Lock()

    @property
    def generator(self) -> Any:
        """The generator component (built on first use)."""
        with self._lock:
            if self._generator is None:
                from workbench.components.generators.llama_cpp_generator import LlamaCppGenerator

                self._generator = LlamaCppGenerator(self.model, max_tokens=64, threads=1)
            return self._generator

    def __call__(self, previous: str | None, turns: Sequence[Turn]) -> str:
        convo = "\n".join(f"User: {_clip(t.user, 200)}\nAssistant: {_clip(t.assistant, 200)}" for t in turns)
        zh = detect_language(convo) == "zh"
        head = "用一句话概括以下对话中用户关心的产品和问题。" if zh else \
            "Summarize in one sentence which products and questions the user asked about."
        prev = f"\n{'已有摘要' if zh else 'Earlier summary'}: {previous}" if previous else ""
        prompt = f"{head}{prev}\n{convo}\n{'摘要' if zh else 'Summary'}:"
        reply = self.generator.run(prompt=prompt, messages=[{"role": "user", "content": prompt}])["replies"][0]
        reply = _clip(reply, self.max_chars)
        if not reply:
            return self._fallback(previous, turns)
        return _clip(f"{previous} {reply}" if previous else reply, self.max_chars)
