"""An embedding model named now and loaded on first use, for the metrics that embed (semantic similarity,
ragas' answer relevancy)::

    ref = EmbeddingModelRef("e5-small")     # nothing loaded yet
    ref.model.embed_queries(["a question"])  # loads the bundled model once
"""

from __future__ import annotations

from typing import Any

__all__ = ["EmbeddingModelRef"]


class EmbeddingModelRef:
    """A bundled model name or folder (loaded lazily by :func:`workbench.models.load_embedding_model`), or a
    ready model object (used as is).

    :param model: ``"e5-small"``, ``"minilm"``, a local folder, or an object with ``embed_queries`` /
        ``embed_passages``.
    :param threads: torch threads for a loaded model (``None``: torch's default).
    :raises TypeError: ``model`` is neither a name nor a model object.
    """

    def __init__(self, model: str | Any = "e5-small", *, threads: int | None = 1) -> None:
        if not isinstance(model, str) and not (hasattr(model, "embed_passages") or hasattr(model, "embed_queries")):
            raise TypeError("model must be a bundled model name, a folder, or an object with embed_passages()")
        self.spec = model
        self.threads = threads
        self._model: Any = None if isinstance(model, str) else model

    @property
    def model(self) -> Any:
        """The embedding model (loaded on first use)."""
        if self._model is None:
            from workbench.models import load_embedding_model

            self._model = load_embedding_model(self.spec, threads=self.threads)
        return self._model

    def __repr__(self) -> str:
        return f"EmbeddingModelRef({self.spec!r}, loaded={self._model is not None})"
