"""Our local model behind ragas' custom-LLM interface (``InstructorBaseRagasLLM``), offline.

ragas 0.4's metric collections ask the LLM for a pydantic ``response_model``; their prompts end with
a JSON schema, worked examples and ``Output:``. :class:`LocalRagasLLM` completes the prompt with a
workbench generator (llama.cpp by default), finds the first JSON object in the reply that validates
against the model, and raises :class:`~workbench.errors.GeneratorError` when there is none, so a
judgment the model could not produce is reported as missing, never invented::

    llm = LocalRagasLLM("gemma-3-270m", max_tokens=160)
    from ragas.metrics.collections import Faithfulness
    await Faithfulness(llm=llm).ascore(user_input=q, response=a, retrieved_contexts=ctx)

A 270M-parameter judge is weak: treat its scores as a smoke test of the wiring, not as evidence.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ragas.llms.base import InstructorBaseRagasLLM

from workbench.errors import GeneratorError

__all__ = ["LocalRagasLLM", "parse_structured"]

M = TypeVar("M", bound=BaseModel)


def parse_structured(text: str, response_model: type[M]) -> M:
    """The first JSON object in ``text`` that validates as ``response_model``.

    >>> from pydantic import BaseModel
    >>> class V(BaseModel):
    ...     verdict: int
    >>> parse_structured('sure: {"verdict": 1} done', V).verdict
    1
    """
    decoder = json.JSONDecoder()
    start = text.find("{")
    problems: list[str] = []
    while start != -1:
        try:
            obj, _end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            problems.append(f"invalid JSON at {start}: {exc.msg}")
        else:
            try:
                return response_model.model_validate(obj)
            except ValidationError as exc:
                problems.append(f"JSON at {start} does not match {response_model.__name__}: {exc.errors()[0]['msg']}")
        start = text.find("{", start + 1)
    detail = "; ".join(problems[:3]) or "no JSON object in the reply"
    raise GeneratorError(f"the judge model did not return a valid {response_model.__name__}: {detail}. "
                         f"Reply began: {text[:120]!r}")


class LocalRagasLLM(InstructorBaseRagasLLM):
    """A workbench generator as a ragas judge.

    ``generator`` is a bundled model name for :class:`~workbench.components.LlamaCppGenerator`
    (``gemma-3-270m``, ``smollm2-135m``) or any object with ``run(prompt=...) -> {"replies", "meta"}``
    (the raw text is read from ``meta[0]["raw"]`` when present). Calls are serialized (one llama.cpp
    context serves one call at a time); generation is greedy and seeded.
    """

    def __init__(self, generator: Any = "gemma-3-270m", *, max_tokens: int = 192, context_window: int = 4096,
                 threads: int | None = 2, seed: int = 0) -> None:
        if isinstance(generator, str):
            from workbench.components import LlamaCppGenerator

            generator = LlamaCppGenerator(generator, max_tokens=max_tokens, temperature=0.0, threads=threads,
                                          context_window=context_window, stop=["\n-----", "\ninput:", "\n\n\n"],
                                          seed=seed)
        if not hasattr(generator, "run"):
            raise TypeError("generator must be a model name or a generator component with run(prompt=...)")
        self.generator = generator
        self.calls = 0
        self.failures = 0
        self._lock = threading.Lock()

    def complete(self, prompt: str) -> str:
        """The raw completion of ``prompt``."""
        with self._lock:
            self.calls += 1
            out = self.generator.run(prompt=prompt)
        meta = (out.get("meta") or [{}])[0]
        raw = meta.get("raw")
        return raw if isinstance(raw, str) else (out.get("replies") or [""])[0]

    def generate(self, prompt: str, response_model: type[M]) -> M:
        """Complete ``prompt`` and parse the reply as ``response_model`` (raises :class:`GeneratorError`)."""
        text = self.complete(prompt)
        try:
            return parse_structured(text, response_model)
        except GeneratorError:
            self.failures += 1
            raise

    async def agenerate(self, prompt: str, response_model: type[M]) -> M:
        """:meth:`generate` in a worker thread (the model call blocks)."""
        return await asyncio.to_thread(self.generate, prompt, response_model)

    def __repr__(self) -> str:
        return f"LocalRagasLLM({getattr(self.generator, 'model', type(self.generator).__name__)!r})"
