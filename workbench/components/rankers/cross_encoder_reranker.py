"""Rerank with a cross-encoder from a local folder (none ships offline here; bring your own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from workbench.components.worker import BlockingRanker, ComponentWorker
from workbench.errors import ModelNotFoundError
from workbench.models import set_torch_threads

__all__ = ["CrossEncoderReranker"]


@component
class CrossEncoderReranker(BlockingRanker):
    """Scores (query, passage) pairs with a sentence-transformers ``CrossEncoder`` loaded from ``model_path``.

    ```python
    ranker = CrossEncoderReranker("/models/ms-marco-MiniLM-L-6-v2", top_k=3)
    ranker.warm_up()
    top = ranker.run(query="gold card fee", documents=candidates)["documents"]
    ```
    """

    def __init__(self, model_path: str, *, top_k: int = 3, batch_size: int = 16, threads: int | None = 1) -> None:
        if top_k < 1:
            raise ValueError("top_k must be >= 1")
        self.model_path, self.top_k, self.batch_size, self.threads = model_path, top_k, batch_size, threads
        self._model: Any = None
        self.worker = ComponentWorker("rerank")
        """The thread ``run_async`` computes on."""

    def warm_up(self) -> None:
        """Load the cross-encoder (once); a missing folder raises :class:`ModelNotFoundError`."""
        if self._model is not None:
            return
        path = Path(self.model_path).expanduser()
        if not (path.is_dir() and (path / "config.json").is_file()):
            raise ModelNotFoundError(f"cross-encoder folder {self.model_path!r} not found (it needs a config.json); "
                                     "set reranker.model to a local cross-encoder, or reranker.kind to 'embedding'")
        from sentence_transformers import CrossEncoder

        set_torch_threads(self.threads)
        self._model = CrossEncoder(str(path), device="cpu")

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document], top_k: int | None = None) -> dict[str, list[Document]]:
        """The ``top_k`` passages by cross-encoder score.

        :param query: the question.
        :param documents: the first-stage candidates.
        :param top_k: how many to keep (default: the component's ``top_k``).
        :returns: ``{"documents": the best top_k, scored}``.
        :raises ModelNotFoundError: the model folder is missing.
        """
        if not documents:
            return {"documents": []}
        self.warm_up()
        scores = self._model.predict([(query, d.content or "") for d in documents], batch_size=self.batch_size,
                                     show_progress_bar=False)
        ranked = sorted(zip(documents, scores, strict=True), key=lambda p: -float(p[1]))
        k = top_k or self.top_k
        return {"documents": [Document(id=d.id, content=d.content, meta=d.meta, score=float(s)) for d, s in ranked[:k]]}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, model_path=self.model_path, top_k=self.top_k, batch_size=self.batch_size,
                               threads=self.threads)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrossEncoderReranker:
        return default_from_dict(cls, data)
