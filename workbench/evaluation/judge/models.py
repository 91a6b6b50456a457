"""The model behind a judge: a bundled local chat model through llama.cpp, or any OpenAI-compatible server
(the project's ``workbench serve-llm``, vLLM, a hosted API), described by a
:class:`~workbench.config.GeneratorConfig` so a judge is chosen by configuration::

    gen = make_judge_generator("qwen2.5-coder-1.5b")                          # local, greedy
    gen = make_judge_generator(GeneratorConfig(kind="openai", base_url="http://127.0.0.1:8001/v1",
                                               model="judge", temperature=0.7))
    gen = make_judge_generator("qwen2.5-coder-0.5b", temperature=0.7)       # sampled, for repeated judging

Also the evidence a judge reads: the sentences of the document that state the gold answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.config import GeneratorConfig
from workbench.evaluation.metrics.answer.answer_match import content_tokens

__all__ = ["DEFAULT_JUDGE_MODEL", "evidence_for", "make_judge_generator"]

#: The best local judge found here (see bench/results/judge_agreement.json).
DEFAULT_JUDGE_MODEL = "qwen2.5-coder-1.5b"


def make_judge_generator(model: str | GeneratorConfig = DEFAULT_JUDGE_MODEL, *, temperature: float = 0.0,
                         max_tokens: int = 6, threads: int | None = 1, context_window: int = 4096,
                         stop: Sequence[str] = ("\n",)) -> Any:
    """A generator for a judge: a bundled GGUF name or path (llama.cpp, chat template) or a full
    :class:`GeneratorConfig` (``kind: openai`` for any OpenAI-compatible judge), used as given.

    :param model: the bundled chat model name, a .gguf path, or a generator config.
    :param temperature: 0 for greedy votes; > 0 to sample (repeated judging then varies by sample too).
    :param max_tokens: the reply's budget (a verdict word; more for ragas' JSON replies).
    :param threads: llama.cpp threads (1 was fastest on the shared 2-core machine).
    :param context_window: llama.cpp context size.
    :param stop: stop strings.
    :raises ValueError: the config is not a generating model (``kind: extractive``).
    """
    from workbench.pipelines import make_generator

    if isinstance(model, GeneratorConfig):
        cfg = model
    else:
        cfg = GeneratorConfig(kind="llama-cpp", model=model, temperature=temperature, max_tokens=max_tokens,
                              threads=threads, context_window=context_window, stop=tuple(stop), chat=True)
    if cfg.kind == "extractive":
        raise ValueError("a judge needs a language model: generator.kind 'llama-cpp', 'transformers' or 'openai'")
    return make_generator(cfg)


def evidence_for(references: Sequence[str], document: str, *, max_chars: int = 400) -> str:
    """The (at most two) sentences of ``document`` that share the most tokens with a reference, in document
    order, cut at ``max_chars``.

    >>> evidence_for(["RMB 600"], "Annual fee. The main card costs RMB 600 per year. Lounges: 4 visits.")
    'The main card costs RMB 600 per year.'
    """
    from workbench.text import split_sentences

    sentences = [s for line in document.splitlines() for s in split_sentences(line) if s.strip()]
    if not sentences or not references:
        return ""
    wanted = [set(content_tokens(r)) for r in references if content_tokens(r)]

    def score(sentence: str) -> float:
        tokens = set(content_tokens(sentence))
        return max((len(w & tokens) / len(w) for w in wanted), default=0.0)

    ranked = [i for i in sorted(range(len(sentences)), key=lambda i: (-score(sentences[i]), i))
              if score(sentences[i]) > 0][:2]
    chosen: list[int] = []
    for i in ranked:
        if chosen and sum(len(sentences[j]) for j in chosen) + len(sentences[i]) > max_chars:
            break
        chosen.append(i)
    return " ".join(sentences[i] for i in sorted(chosen))[:max_chars]
