"""The semantic layer's candidate loop, on a crafted index: a refused nearest neighbour does not promote a
farther entry unless that one is verified and clearly closer to the question than to the refused one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.cache import CacheStack, MemoryBackend, RuleVerifier, SemanticCache, namespace
from workbench.cache.semantic import REFUSAL_MARGIN, clearly_closer
from workbench.cache.testing import HashingEmbedder
from workbench.config import PipelineConfig, SemanticCacheConfig
from workbench.errors import ConfigError

NS = namespace("acme", kb_version="v1", config_hash="c1")
QUERY = "is there a transfer limit at the counter"
REFUSED = "is there a transfer limit at the atm"  # the rules refuse it: channel differs
ATM_TOO = "is there a transfer limit at the cash machine"  # the ATM question again, in words the rules do not know
COUNTER_TOO = "is there a transfer limit when i go to the counter"  # the query's own question


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def at(similarity: float, angle: float) -> np.ndarray:
    """A unit vector at ``similarity`` to the query (1, 0, 0), turned by ``angle`` around it."""
    r = math.sqrt(1 - similarity ** 2)
    return unit(similarity, r * math.cos(angle), r * math.sin(angle))


Q_VEC = unit(1, 0, 0)
REFUSED_VEC = at(0.98, 0.0)  # the nearest entry


def crafted(text: str, vec: np.ndarray) -> SemanticCache:
    """The refused entry nearest to the query, and ``text`` at ``vec``."""
    sem = SemanticCache(None, MemoryBackend(), threshold=0.9, verifier=RuleVerifier(), dim=3)
    sem.put(NS, REFUSED, question=REFUSED, payload={"answer": "atm"}, embedding=REFUSED_VEC)
    sem.put(NS, text, question=text, payload={"answer": text}, embedding=vec)
    return sem


def test_the_crafted_texts_are_what_the_rules_say() -> None:
    rules = RuleVerifier()
    assert rules.verify(QUERY, REFUSED) == "channel differs"
    assert rules.verify(QUERY, ATM_TOO) is None and rules.verify(QUERY, COUNTER_TOO) is None


def test_a_refused_nearest_does_not_promote_its_own_neighbour() -> None:
    near_refused = at(0.97, 0.0)  # on the refused entry's side: cos to it ≈ 0.999 > 0.97
    sem = crafted(ATM_TOO, near_refused)
    assert float(REFUSED_VEC @ near_refused) > 0.97 + REFUSAL_MARGIN
    assert sem.get(NS, QUERY, embedding=Q_VEC) is None  # before the fix: the ATM answer, a wrong hit
    st = sem.stats.as_dict()
    assert st["rejected"] == 1 and st["shadowed"] == 1


def test_a_farther_entry_clearly_closer_to_the_question_is_served() -> None:
    away = at(0.97, math.pi)  # on the other side of the query: cos to the refused entry ≈ 0.90
    sem = crafted(COUNTER_TOO, away)
    assert float(REFUSED_VEC @ away) + REFUSAL_MARGIN <= 0.97
    match = sem.get(NS, QUERY, embedding=Q_VEC)
    assert match is not None and match.entry.payload == {"answer": COUNTER_TOO}
    assert match.similarity == pytest.approx(0.97, abs=1e-5)
    assert sem.stats.as_dict()["rejected"] == 1 and sem.stats.as_dict()["shadowed"] == 0


def test_the_margin_is_a_parameter() -> None:
    sem = crafted(ATM_TOO, at(0.97, 0.0))
    sem.refusal_margin = -1.0  # "any verified candidate may be promoted": the behaviour before the fix
    assert sem.get(NS, QUERY, embedding=Q_VEC).entry.payload == {"answer": ATM_TOO}


def test_a_farther_entry_must_still_pass_the_verifier() -> None:
    sem = crafted("is there a transfer limit at the atm today", at(0.97, math.pi))
    assert sem.get(NS, QUERY, embedding=Q_VEC) is None
    assert sem.stats.as_dict()["rejected"] == 2


def test_without_a_refusal_the_nearest_verified_entry_is_served() -> None:
    sem = SemanticCache(None, MemoryBackend(), threshold=0.9, verifier=RuleVerifier(), dim=3)
    sem.put(NS, COUNTER_TOO, question="x", payload={"answer": "near"}, embedding=at(0.98, 0.0))
    sem.put(NS, QUERY + " now", question="x", payload={"answer": "far"}, embedding=at(0.95, 1.0))
    assert sem.get(NS, QUERY, embedding=Q_VEC).entry.payload == {"answer": "near"}


async def test_the_async_form_decides_the_same() -> None:
    for text, vec, expected in ((ATM_TOO, at(0.97, 0.0), None), (COUNTER_TOO, at(0.97, math.pi), COUNTER_TOO)):
        sem = crafted(text, vec)
        match = await sem.aget(NS, QUERY, embedding=Q_VEC)
        assert (match.entry.payload["answer"] if match else None) == expected


def test_clearly_closer() -> None:
    c, r = at(0.97, 0.0), REFUSED_VEC
    assert not clearly_closer(0.97, c, [r])
    assert clearly_closer(0.97, c, [])
    assert clearly_closer(0.97, at(0.97, math.pi), [r])
    assert not clearly_closer(0.97, at(0.97, math.pi), [r], margin=0.2)


def test_the_threshold_default_is_the_config_default() -> None:
    sem = SemanticCache(None, MemoryBackend(), dim=3)
    cfg = SemanticCacheConfig()
    assert sem.threshold == cfg.threshold and sem.ttl_s == cfg.ttl_s and sem.max_entries == cfg.max_entries


def test_replication_is_a_declared_capability() -> None:
    backend = MemoryBackend()
    assert backend.shared is False and SemanticCache(None, backend, dim=3).shared is False
    with pytest.raises(ConfigError, match="replication log"):
        SemanticCache(None, backend, dim=3, shared=True)


def test_the_refusal_margin_comes_from_the_config() -> None:
    assert SemanticCache(None, MemoryBackend(), dim=3).refusal_margin == SemanticCacheConfig().refusal_margin
    cfg = PipelineConfig().with_overrides({"cache.enabled": True, "cache.semantic.refusal_margin": 0.07})
    stack = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder())
    assert stack.semantic is not None and stack.semantic.refusal_margin == 0.07
