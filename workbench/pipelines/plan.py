"""The per-request plan of the query path: which retrievers, whether to rerank, which generator, how many passages,
whether the abstention gate may ask its grounding model.

A plan says what one request may use of the configured pipeline; it never adds a part the configuration
lacks. ``QueryPlan()`` is full service; the serving engine derives a lighter plan from its degradation
level (``DegradationLevel.plan``)::

    qp.run("gold card annual fee?", plan=QueryPlan(rerank=False, generator=GeneratorChoice.EXTRACTIVE))
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from workbench.errors import InputError

__all__ = ["FULL_PLAN", "GeneratorChoice", "QueryPlan", "RetrieverKind"]

RetrieverKind = Literal["dense", "bm25"]


class GeneratorChoice(StrEnum):
    """Which of the pipeline's generators answers."""

    MAIN = "main"
    """The configured generator (``generator``), with its grounding guard."""
    SMALL = "small"
    """The smaller generator (``serving.degradation.small_generator``); extractive when none is configured."""
    EXTRACTIVE = "extractive"
    """The extractive answerer: no language model at all."""


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """What one request runs of the configured query path (see the module docstring)."""

    retrievers: tuple[RetrieverKind, ...] = ("dense", "bm25")
    """The first-stage retrievers allowed (each runs only if the configuration has it)."""
    rerank: bool = True
    """Rerank the candidates (if a reranker is configured)."""
    generator: GeneratorChoice = GeneratorChoice.MAIN
    """Which generator answers."""
    top_k: int | None = None
    """Passages handed to the generator and returned as sources (``None``: the configuration's)."""
    grounding: bool = True
    """The abstention gate may ask its grounding model (``abstention.grounding: llm``); ``False``: it decides
    from retrieval signals alone (``abstention.retrieval_gate``), as degraded service should."""

    def __post_init__(self) -> None:
        if self.top_k is not None and self.top_k < 1:
            raise InputError(f"top_k must be >= 1, got {self.top_k}")


#: Full service: every configured stage runs.
FULL_PLAN = QueryPlan()
