"""A local chat model asked a yes/no question, scored by its next-token logits instead of a sampled reply.

``log P(yes) - log P(no)`` over the first token of the reply is one forward pass (no sampling, no
decoding loop), and a prompt that starts like the previous one (the same instruction and worked examples)
re-evaluates only its new tokens: llama.cpp keeps the evaluated prefix. The abstention gate's grounding
check (:mod:`workbench.pipelines.abstention`) asks it whether passages state an answer.

```python
model = VerdictModel("qwen2.5-coder-0.5b", purpose="the grounding check")
model.score([{"role": "system", "content": "Reply yes or no."}, {"role": "user", "content": "Is 2 > 1?"}])  # > 0
```
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from workbench.errors import GeneratorError

__all__ = ["VerdictModel"]


class VerdictModel:
    """A GGUF chat model scoring yes against no on the first token of its reply (one call at a time).

    :param model: a bundled GGUF chat model name or a .gguf path.
    :param threads: llama.cpp threads.
    :param context_window: the model's context in tokens.
    :param yes: the words whose first tokens count as yes.
    :param no: the words whose first tokens count as no.
    :param purpose: what it is used for (named in error messages).
    """

    def __init__(self, model: str, *, threads: int = 1, context_window: int = 2048,
                 yes: Sequence[str] = ("yes", "Yes"), no: Sequence[str] = ("no", "No"),
                 purpose: str = "the yes/no model") -> None:
        self.model = model
        self.threads = threads
        self.context_window = context_window
        self.purpose = purpose
        self._words = (tuple(yes), tuple(no))
        self._llm: Any = None
        self._format: Callable[[list[dict[str, str]]], str] | None = None
        self._yes: list[int] = []
        self._no: list[int] = []
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is loaded."""
        return self._llm is not None

    def warm_up(self) -> None:
        """Load the model (once).

        :raises ModelNotFoundError: the model is not installed.
        :raises GeneratorError: the model has no chat template.
        """
        with self._lock:
            if self._llm is not None:
                return
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            from workbench.components.generators.llama_cpp_generator import LlamaCppGenerator

            gen = LlamaCppGenerator(self.model, max_tokens=1, chat=True, threads=self.threads,
                                    context_window=self.context_window)
            llm = gen.llm
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise GeneratorError(f"{self.model} has no chat template: {self.purpose} needs a chat model")
            formatter = Jinja2ChatFormatter(template=template, eos_token="", bos_token="")
            self._format = lambda messages: formatter(messages=messages).prompt  # type: ignore[arg-type]
            yes, no = self._words
            self._yes = sorted({llm.tokenize(w.encode(), add_bos=False)[0] for w in yes})
            self._no = sorted({llm.tokenize(w.encode(), add_bos=False)[0] for w in no})
            self._llm = llm

    def score(self, messages: Sequence[Mapping[str, str]]) -> float:
        """``log P(yes) - log P(no)`` for the reply to ``messages``: above 0 the model says yes.

        :param messages: the chat (``role``/``content``), the question last.
        :returns: the log-odds of yes.
        :raises GeneratorError: the model failed (a context overflow, a non-finite score).
        """
        import llama_cpp
        import numpy as np

        self.warm_up()
        assert self._format is not None
        with self._lock:
            llm = self._llm
            prompt = self._format([dict(m) for m in messages])
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            kept = llm.input_ids[: llm.n_tokens].tolist()
            same = 0
            while same < min(len(kept), len(tokens) - 1) and kept[same] == tokens[same]:
                same += 1
            llm.n_tokens = same  # keep the evaluated prefix (instruction and examples)
            try:
                llm.eval(tokens[same:])
            except Exception as exc:  # llama.cpp raises plain errors (context overflow, ...)
                llm.n_tokens = 0
                raise GeneratorError(f"{self.purpose} failed: {exc}") from exc
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(llm.n_vocab(),))
            value = float(np.logaddexp.reduce(logits[self._yes]) - np.logaddexp.reduce(logits[self._no]))
        if not math.isfinite(value):
            raise GeneratorError(f"{self.purpose} scored {value}")
        return value
