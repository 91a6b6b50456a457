"""Fixtures of the cache tests: one contract suite, run against the in-process and the Redis backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from workbench.cache import CacheStack
from workbench.cache.testing import FakeClock, HashingEmbedder
from workbench.config import PipelineConfig


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_stack(backend_kind: str, request: pytest.FixtureRequest, clock: FakeClock,
               embedder: HashingEmbedder) -> Iterator[Callable[..., CacheStack]]:
    """Build stacks on the parametrized backend; each test gets its own Redis key prefix."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    url = request.getfixturevalue("redis_server").url if backend_kind == "redis" else "redis://127.0.0.1:1/0"
    made: list[CacheStack] = []

    def make(overrides: dict[str, Any] | None = None, *, kb_version: str = "kb1", **kw: Any) -> CacheStack:
        cfg = PipelineConfig().with_overrides({
            "cache.enabled": True, "cache.backend": backend_kind, "cache.redis_url": url, "cache.key_prefix": prefix,
            "cache.semantic.threshold": 0.8, **(overrides or {}),
        })
        stack = CacheStack.from_config(cfg, kb_version=kb_version, embedder=kw.pop("embedder", embedder),
                                       clock=kw.pop("clock", clock), **kw)
        made.append(stack)
        return stack

    yield make
    for s in made:
        s.close()
