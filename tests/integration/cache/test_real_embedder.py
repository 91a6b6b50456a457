"""The semantic layer with the real multilingual embedder (multilingual-e5-small) on our dataset's wordings."""

from __future__ import annotations

import pytest

from workbench.cache import CacheStack
from workbench.config import PipelineConfig
from workbench.models import load_embedding_model


@pytest.fixture(scope="module")
def e5():  # type: ignore[no-untyped-def]
    return load_embedding_model("e5-small")


def test_paraphrase_hits_and_near_miss_refused(e5) -> None:  # type: ignore[no-untyped-def]
    cfg = PipelineConfig().with_overrides({"cache.enabled": True, "cache.semantic.threshold": 0.9})
    stack = CacheStack.from_config(cfg, kb_version="v1", embedder=e5)
    stack.store("acme", "how do i raise my credit limit", {"answer": "up"}, intent="cards.limit.increase")
    stack.store("acme", "金卡年费多少", {"answer": "RMB 300"}, intent="cards.gold.annual_fee")
    assert stack.lookup("acme", "how do i lower my credit limit") is None
    assert stack.lookup("acme", "白金卡年费多少") is None
    hit = stack.lookup("acme", "金卡的年费是多少？", intent="cards.gold.annual_fee")
    assert hit is not None and hit.layer == "semantic" and hit.similarity >= 0.9
    assert stack.stats()["layers"]["semantic"]["wrong_hits"] == 0
