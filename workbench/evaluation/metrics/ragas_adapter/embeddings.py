"""A workbench embedding model behind ragas' modern embedding interface (``BaseRagasEmbedding``).

```python
emb = LocalRagasEmbeddings("e5-small")
AnswerRelevancy(llm=LocalRagasLLM(), embeddings=emb, strictness=1)
```
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from ragas.embeddings.base import BaseRagasEmbedding

from workbench.evaluation.metrics.model_ref import EmbeddingModelRef

__all__ = ["LocalRagasEmbeddings"]


class LocalRagasEmbeddings(BaseRagasEmbedding):
    """Embeds with a bundled model name (``e5-small``, ``minilm``) or any object with ``embed_queries``."""

    def __init__(self, model: str | Any = "e5-small", *, threads: int | None = 1) -> None:
        super().__init__()
        self._ref = EmbeddingModelRef(model, threads=threads)

    @property
    def model(self) -> Any:
        """The embedding model (loaded on first use)."""
        return self._ref.model

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        """One vector."""
        return self.embed_texts([text])[0]

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """One vector per text (questions and answers are embedded as queries)."""
        return np.asarray(self.model.embed_queries(list(texts)), dtype=np.float32).tolist()

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        """:meth:`embed_text` in a worker thread."""
        return await asyncio.to_thread(self.embed_text, text)

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """:meth:`embed_texts` in a worker thread."""
        return await asyncio.to_thread(self.embed_texts, texts)
