"""Generate with Hugging Face transformers: a local model folder, or a GGUF file (dequantized on load)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from haystack import component, default_from_dict, default_to_dict

from workbench.components.generators.reply import clean_reply
from workbench.components.worker import BlockingGenerator, ComponentWorker
from workbench.errors import GeneratorError
from workbench.models import is_chat_model, resolve_hf_model, set_torch_threads

__all__ = ["TransformersGenerator"]


@component
class TransformersGenerator(BlockingGenerator):
    """A causal LM through transformers, greedy by default, streaming through ``TextIteratorStreamer``.

    Loading a GGUF dequantizes it to float (Gemma-3-270M: ~36 s; SmolLM2-135M: ~12 s, measured per
    process); a local HF folder loads faster. Prefer :class:`LlamaCppGenerator` for GGUF speed.

    ```python
    gen = TransformersGenerator("smollm2-135m"); gen.warm_up()
    gen.run(messages=[{"role": "user", "content": "hi"}])
    ```
    """

    def __init__(self, model: str = "smollm2-135m", *, max_tokens: int = 48, temperature: float = 0.0,
                 threads: int | None = 2, stop: list[str] | None = None, chat: bool | None = None) -> None:
        if max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        self.model, self.max_tokens, self.temperature, self.threads = model, max_tokens, temperature, threads
        self.stop = list(stop) if stop is not None else ["\n"]
        self.chat = is_chat_model(model) if chat is None else chat
        self._tok: Any = None
        self._lm: Any = None
        self._lock = threading.Lock()
        self.worker = ComponentWorker("generate")
        """The thread ``run_async`` generates on (one call at a time, like the model itself)."""

    def warm_up(self) -> None:
        """Load tokenizer and model (once)."""
        if self._lm is not None:
            return
        folder, gguf = resolve_hf_model(self.model)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        set_torch_threads(self.threads)
        kwargs = {"gguf_file": gguf} if gguf else {}
        self._tok = AutoTokenizer.from_pretrained(str(folder), **kwargs)
        self._lm = AutoModelForCausalLM.from_pretrained(str(folder), **kwargs)
        self._lm.eval()

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        self.warm_up()
        return self._tok.encode(text, add_special_tokens=False)

    def _inputs(self, prompt: str, messages: list[dict[str, str]] | None) -> Any:
        if self.chat:
            msgs = messages or [{"role": "user", "content": prompt}]
            text = self._tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        else:
            if not prompt:
                raise GeneratorError("a base model needs a prompt (connect the prompt builder's 'prompt' output)")
            text = prompt
        return self._tok(text, return_tensors="pt")

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
            documents: list[Any] | None = None,
            streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Generate one reply; the parameters are those of every generator (:class:`Generator`): ``prompt`` for
        a base model, ``messages`` for a chat model, ``streaming_callback`` gets text pieces as they are decoded.

        :returns: ``{"replies": [the cleaned reply], "meta": [{"model", "completion_tokens", "ttft_ms", ...}]}``.
        :raises GeneratorError: generation failed, or a base model got no prompt.
        """
        import torch
        from transformers import TextIteratorStreamer

        self.warm_up()
        inputs = self._inputs(prompt, messages)
        streamer = TextIteratorStreamer(self._tok, skip_prompt=True, skip_special_tokens=True)
        gen_kwargs = {**inputs, "max_new_tokens": self.max_tokens, "streamer": streamer,
                      "do_sample": self.temperature > 0, "pad_token_id": self._tok.eos_token_id}
        if self.temperature > 0:
            gen_kwargs["temperature"] = self.temperature
        if self.stop:
            gen_kwargs["stop_strings"] = self.stop
            gen_kwargs["tokenizer"] = self._tok
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with torch.inference_mode():
                    self._lm.generate(**gen_kwargs)
            except BaseException as exc:  # surfaced to the caller below
                errors.append(exc)
                streamer.end()

        start = time.perf_counter_ns()
        first_ns = None
        pieces = []
        with self._lock:
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            for piece in streamer:
                if not piece:
                    continue
                if first_ns is None:
                    first_ns = time.perf_counter_ns()
                pieces.append(piece)
                if streaming_callback is not None:
                    streaming_callback(piece)
            thread.join()
        if errors:
            raise GeneratorError(f"transformers generation failed: {errors[0]}") from errors[0]
        raw = "".join(pieces)
        end = time.perf_counter_ns()
        meta = {"model": self.model, "completion_tokens": len(self.tokenize(raw)) if raw else 0,
                "ttft_ms": (first_ns - start) / 1e6 if first_ns else None, "total_ms": (end - start) / 1e6, "raw": raw}
        return {"replies": [clean_reply(raw, self.stop)], "meta": [meta]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, model=self.model, max_tokens=self.max_tokens, temperature=self.temperature,
                               threads=self.threads, stop=self.stop, chat=self.chat)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransformersGenerator:
        return default_from_dict(cls, data)
