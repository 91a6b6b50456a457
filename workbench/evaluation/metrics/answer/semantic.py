"""Semantic similarity of an answer to its references: the cosine of their embeddings (best reference).

Uses a workbench :class:`~workbench.models.EmbeddingModel` (default ``e5-small``, multilingual); any
object with ``embed_passages(texts) -> (n, d)`` L2-normalised vectors works (a fake in tests)::

    sim = SemanticSimilarity("e5-small")
    sim.score("twenty dollars a year", ["the annual fee is $20"])     # ~0.8
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.evaluation.metrics.answer.overlap import check_references
from workbench.evaluation.metrics.model_ref import EmbeddingModelRef

__all__ = ["SemanticSimilarity"]


class SemanticSimilarity:
    """Cosine similarity between embeddings of the prediction and each reference; the maximum is kept.

    An empty prediction scores 0.0 (there is nothing to compare).
    """

    def __init__(self, model: str | Any = "e5-small", *, threads: int | None = 1) -> None:
        if not isinstance(model, str) and not hasattr(model, "embed_passages"):
            raise TypeError("model must be a bundled model name, a folder, or an object with embed_passages()")
        self._ref = EmbeddingModelRef(model, threads=threads)

    @property
    def model(self) -> Any:
        """The embedding model (loaded on first use)."""
        return self._ref.model

    def score(self, prediction: str, references: Sequence[str]) -> float:
        """Best cosine similarity in [-1, 1] of ``prediction`` against ``references``."""
        check_references(references)
        if not prediction.strip():
            return 0.0
        vectors = np.asarray(self.model.embed_passages([prediction, *references]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1.0, norms)
        return float(np.max(vectors[1:] @ vectors[0]))
