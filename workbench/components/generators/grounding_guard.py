"""Replace an answer that is not grounded in the context with the extractive answer."""

from __future__ import annotations

import re
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from workbench.components.generators.extractive import ExtractiveAnswerer
from workbench.components.generators.reply import is_not_found

__all__ = ["GroundingGuard", "is_grounded"]

_NOISE = re.compile(r"[\s,，。.、：:；;!！?？\"'“”()（）]")


def _norm(text: str) -> str:
    return _NOISE.sub("", text.lower())


def is_grounded(answer: str, context: list[str]) -> bool:
    """True when the (normalized) answer occurs verbatim in the (normalized) context."""
    a = _norm(answer)
    return bool(a) and a in _norm(" ".join(context))


@component
class GroundingGuard:
    """A faithfulness guard for small models: a reply that does not occur in the context it was given
    (Gemma-3-270M often answers with a number from nowhere) is replaced by the extractive answer.
    ``meta[0]["grounded"]`` says which happened.

    ```python
    out = GroundingGuard().run(replies=["100,000"], meta=[{}], question=q, documents=docs, context=ctx)
    ```
    """

    def __init__(self, *, max_passages: int = 3) -> None:
        self.max_passages = max_passages
        self._fallback = ExtractiveAnswerer(max_passages=max_passages)

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, replies: list[str], question: str, documents: list[Document], context: list[str],
            meta: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Keep the reply if grounded in ``context`` (or the model's "not found" reply, ``prompt.not_found``),
        else answer extractively from ``documents``."""
        reply = replies[0] if replies else ""
        m = dict(meta[0]) if meta else {}
        if is_not_found(reply):
            return {"replies": [reply], "meta": [m]}
        if is_grounded(reply, context):
            m["grounded"] = True
            return {"replies": [reply], "meta": [m]}
        answer, details = self._fallback.answer(question, documents)
        m.update(grounded=False, fallback="extractive", rejected_reply=reply, **details)
        return {"replies": [answer], "meta": [m]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, max_passages=self.max_passages)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroundingGuard:
        return default_from_dict(cls, data)
