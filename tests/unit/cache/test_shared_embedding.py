"""One embedding per request: the stack's async lookups embed through a shared batcher, and hand the vector on."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from workbench.cache import CacheStack
from workbench.cache.testing import HashingEmbedder
from workbench.errors import InputError


class CountingBatcher:
    """Stands in for the engine's micro-batcher: embeds with the same model, counts the texts it was given."""

    def __init__(self, model: HashingEmbedder) -> None:
        self.model = model
        self.texts: list[str] = []

    async def embed(self, text: str) -> np.ndarray:
        self.texts.append(text)
        return self.model.embed_queries([text])[0]


async def test_async_lookups_embed_through_the_shared_batcher(make_stack: Callable[..., CacheStack],
                                                              embedder: HashingEmbedder) -> None:
    stack = make_stack()
    batcher = CountingBatcher(embedder)
    stack.share_embedding(batcher.embed)
    calls = embedder.calls
    assert await stack.alookup("acme", "What is the Gold Card annual fee?") is None
    assert batcher.texts == ["what is the gold card annual fee"]  # the normalized question, once
    assert embedder.calls == calls + 1  # the batcher's model call; the layer did not embed again
    vec = stack.query_embedding("what is the gold card annual fee")
    assert vec is not None and np.allclose(vec, embedder.embed_queries(["what is the gold card annual fee"])[0])
    await stack.astore("acme", "What is the Gold Card annual fee?", {"answer": "RMB 300"})
    hit = await stack.alookup("acme", "what is the gold card annual fee please")
    assert hit is not None and hit.layer == "semantic" and len(batcher.texts) == 2


async def test_an_exact_hit_embeds_nothing(make_stack: Callable[..., CacheStack], embedder: HashingEmbedder) -> None:
    stack = make_stack()
    stack.store("acme", "gold card fee", {"answer": "RMB 300"})
    batcher = CountingBatcher(embedder)
    stack.share_embedding(batcher.embed)
    hit = await stack.alookup("acme", "Gold card fee?")
    assert hit is not None and hit.layer == "exact" and batcher.texts == []
    assert stack.query_embedding("never asked") is None


def test_without_a_semantic_layer_there_is_nothing_to_share(make_stack: Callable[..., CacheStack],
                                                            embedder: HashingEmbedder) -> None:
    stack = make_stack({"cache.semantic.enabled": False})
    with pytest.raises(InputError, match="semantic layer is off"):
        stack.share_embedding(CountingBatcher(embedder).embed)
    stack.lookup("acme", "gold card fee")
    assert stack.query_embedding("gold card fee") is None
