"""Generate in-process with llama.cpp (llama-cpp-python): GGUF models, streaming, chat templates."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

from haystack import component, default_from_dict, default_to_dict

from workbench.components.generators.reply import clean_reply
from workbench.components.worker import BlockingGenerator, ComponentWorker
from workbench.errors import GeneratorError, ModelNotFoundError
from workbench.models import is_chat_model, resolve_gguf

__all__ = ["LlamaCppGenerator"]

_LOAD_LOCK = threading.Lock()
"""One model load at a time in this process."""


def _quiet_loads_without_swapping_sys(llama_cpp: Any) -> None:
    """Keep llama-cpp-python's quiet model load (``verbose=False``) from swapping ``sys.stdout``/``sys.stderr``.

    To silence a load, llama-cpp-python points file descriptors 1 and 2 at /dev/null *and* assigns
    ``sys.stdout``/``sys.stderr`` for the whole process, then puts back what it saw. That assignment is not
    thread-safe: a load on a worker thread while another thread swaps the streams too (a CLI test runner, a
    notebook) can leave the process writing to a closed stream ("lost sys.stderr"). The descriptor redirect
    is what silences llama.cpp's C output; the assignment only silences Python prints, and there are none
    inside it. So its stream assignments go to a private view instead of ``sys``, and loads are serialized
    (:data:`_LOAD_LOCK`) so the descriptor redirects never interleave.
    """
    suppress = getattr(getattr(llama_cpp, "_utils", None), "suppress_stdout_stderr", None)
    if suppress is not None and getattr(suppress, "sys", None) is sys:
        suppress.sys = SimpleNamespace(stdout=sys.stdout, stderr=sys.stderr)


@component
class LlamaCppGenerator(BlockingGenerator):
    """A GGUF model through llama.cpp: a bundled name (``gemma-3-270m``, ``smollm2-135m``) or a .gguf path.

    Base models get the plain ``prompt``; chat models (``chat=True``, or auto for bundled instruct
    models) get ``messages`` through the model's own chat template. One llama.cpp context serves one
    call at a time (a lock guards it); run several instances for parallel generation.

    ```python
    gen = LlamaCppGenerator("gemma-3-270m", max_tokens=32); gen.warm_up()
    gen.run(prompt="...Answer:")["replies"][0]
    ```
    """

    def __init__(self, model: str = "gemma-3-270m", *, max_tokens: int = 48, temperature: float = 0.0,
                 threads: int | None = 2, context_window: int = 2048, stop: list[str] | None = None,
                 chat: bool | None = None, seed: int = 0) -> None:
        if max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        self.model, self.max_tokens, self.temperature = model, max_tokens, temperature
        self.threads, self.context_window, self.seed = threads, context_window, seed
        self.stop = list(stop) if stop is not None else ["\n"]
        self.chat = is_chat_model(model) if chat is None else chat
        self._llm: Any = None
        self._lock = threading.Lock()
        self.worker = ComponentWorker("generate")
        """The thread ``run_async`` generates on (one call at a time, like the model itself)."""

    def warm_up(self) -> None:
        """Load the model (once; ~0.5 s for Gemma-3-270M)."""
        if self._llm is not None:
            return
        path = resolve_gguf(self.model)
        try:
            import llama_cpp
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelNotFoundError("llama-cpp-python is not installed: run `bash scripts/setup.sh`") from exc
        with _LOAD_LOCK:
            _quiet_loads_without_swapping_sys(llama_cpp)
            # prompts on the same threads as generation: llama-cpp-python's batch default is every core, and two
            # spinning threads on a shared 2-core machine made a 0.5B prompt 10x slower (9-13 s vs ~1 s per pair)
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=self.context_window, n_threads=self.threads,
                                  n_threads_batch=self.threads, seed=self.seed, verbose=False)
        self._llm = llm

    @property
    def llm(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (loaded on first use)."""
        self.warm_up()
        return self._llm

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` under this model's tokenizer."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False)

    def stream(self, prompt: str = "", messages: list[dict[str, str]] | None = None) -> Iterator[str]:
        """Yield text chunks as they are generated (the caller owns the lock; see :meth:`run`)."""
        kwargs = {"max_tokens": self.max_tokens, "temperature": self.temperature, "stop": self.stop, "stream": True}
        if self.chat:
            if not messages:
                messages = [{"role": "user", "content": prompt}]
            for chunk in self.llm.create_chat_completion(messages=messages, **kwargs):
                piece = chunk["choices"][0].get("delta", {}).get("content")
                if piece:
                    yield piece
        else:
            if not prompt:
                raise GeneratorError("a base model needs a prompt (connect the prompt builder's 'prompt' output)")
            for chunk in self.llm.create_completion(prompt=prompt, **kwargs):
                piece = chunk["choices"][0].get("text")
                if piece:
                    yield piece

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
            documents: list[Any] | None = None,
            streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Generate one reply, streaming its pieces.

        :param prompt: the prompt of a base model.
        :param messages: the chat messages of a chat model (default: ``prompt`` as one user message).
        :param question: accepted for a common generator signature (unused).
        :param documents: accepted for a common generator signature (unused).
        :param streaming_callback: receives each text piece as it is generated (in the calling thread).
        :returns: ``{"replies": [the cleaned reply], "meta": [{"model", "completion_tokens", "ttft_ms",
            "total_ms", "raw"}]}``.
        :raises GeneratorError: the model failed, or a base model got no prompt.
        """
        self.warm_up()
        start = time.perf_counter_ns()
        first_ns = None
        pieces: list[str] = []
        with self._lock:
            try:
                for piece in self.stream(prompt, messages):
                    if first_ns is None:
                        first_ns = time.perf_counter_ns()
                    pieces.append(piece)
                    if streaming_callback is not None:
                        streaming_callback(piece)
            except GeneratorError:
                raise
            except Exception as exc:  # llama.cpp raises plain errors (context overflow, ...)
                raise GeneratorError(f"llama.cpp generation failed: {exc}") from exc
        raw = "".join(pieces)
        end = time.perf_counter_ns()
        meta = {
            "model": self.model,
            "completion_tokens": len(self.tokenize(raw)) if raw else 0,
            "ttft_ms": (first_ns - start) / 1e6 if first_ns else None,
            "total_ms": (end - start) / 1e6,
            "raw": raw,
        }
        return {"replies": [clean_reply(raw, self.stop)], "meta": [meta]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, model=self.model, max_tokens=self.max_tokens, temperature=self.temperature,
                               threads=self.threads, context_window=self.context_window, stop=self.stop,
                               chat=self.chat, seed=self.seed)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LlamaCppGenerator:
        return default_from_dict(cls, data)
