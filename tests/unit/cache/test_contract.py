"""The cache contract, run against both backends (in-process and a real Redis server)."""

from __future__ import annotations

import pytest

from workbench.cache import CacheHit
from workbench.cache.testing import FakeClock, HashingEmbedder
from workbench.errors import InputError

ANSWER = {"answer": "RMB 300", "sources": [{"id": "cards-gold-en", "score": 1.0}]}
Q = "What is the annual fee of the gold card?"


def test_miss_then_exact_hit(make_stack) -> None:
    stack = make_stack()
    assert stack.lookup("acme", Q) is None
    stack.store("acme", Q, ANSWER, intent="cards.gold.annual_fee")
    hit = stack.lookup("acme", "  what is the ANNUAL fee of the gold card ")
    assert isinstance(hit, CacheHit)
    assert hit.layer == "exact" and hit.payload == ANSWER and hit.similarity == 1.0
    assert hit.intent == "cards.gold.annual_fee" and hit.latency_ms >= 0


def test_payload_is_a_copy(make_stack) -> None:
    stack = make_stack()
    stack.store("acme", Q, {"answer": "x", "list": [1]})
    stack.lookup("acme", Q).payload["list"].append(2)
    assert stack.lookup("acme", Q).payload == {"answer": "x", "list": [1]}


def test_semantic_hit_for_a_close_wording(make_stack, embedder: HashingEmbedder) -> None:
    stack = make_stack({"cache.exact.enabled": False})
    stack.store("acme", "what is the annual fee of the gold card", ANSWER)
    hit = stack.lookup("acme", "what is the annual fee of the gold card please")
    assert hit is not None and hit.layer == "semantic" and 0.8 <= hit.similarity < 1.0


def test_semantic_verifier_refuses_an_antonym(make_stack) -> None:
    stack = make_stack({"cache.exact.enabled": False, "cache.semantic.threshold": 0.5})
    stack.store("acme", "how do i raise my credit limit", {"answer": "up"})
    assert stack.lookup("acme", "how do i lower my credit limit") is None
    assert stack.stats()["layers"]["semantic"]["rejected"] >= 1


def test_semantic_hit_is_promoted_to_exact(make_stack) -> None:
    stack = make_stack()
    stack.store("acme", "what is the annual fee of the gold card", ANSWER)
    assert stack.lookup("acme", "what is the annual fee of the gold card please").layer == "semantic"
    assert stack.lookup("acme", "what is the annual fee of the gold card please").layer == "exact"


def test_store_reuses_the_lookup_embedding(make_stack, embedder: HashingEmbedder) -> None:
    stack = make_stack()
    assert stack.lookup("acme", Q) is None
    calls = embedder.calls
    stack.store("acme", Q, ANSWER)
    assert embedder.calls == calls  # the miss was not embedded twice


def test_caller_embedding_is_used(make_stack, embedder: HashingEmbedder) -> None:
    stack = make_stack({"cache.exact.enabled": False})
    vec = stack.embed(Q)
    calls = embedder.calls
    assert stack.lookup("acme", Q, embedding=vec) is None
    stack.store("acme", Q, ANSWER, embedding=vec)
    assert stack.lookup("acme", Q, embedding=vec).layer == "semantic"
    assert embedder.calls == calls


def test_ttl_expiry_with_an_injected_clock(make_stack, clock: FakeClock) -> None:
    stack = make_stack({"cache.exact.ttl_s": 300, "cache.semantic.ttl_s": 300})
    stack.store("acme", Q, ANSWER)
    clock.advance(299)
    assert stack.lookup("acme", Q).layer == "exact"
    clock.advance(2)
    assert stack.lookup("acme", Q) is None  # neither exact nor semantic serves it any more
    ex = stack.stats()["layers"]["exact"]
    assert ex["expired"] + ex["backend"].get("expirations", 0) >= 1  # seen by the layer or by the LRU


def test_user_layer_ttl_defaults_to_120s(make_stack, clock: FakeClock) -> None:
    stack = make_stack()
    stack.store("acme", "what is my card limit", {"limit": 5}, user="u1", personalized=True)
    clock.advance(119)
    assert stack.lookup("acme", "what is my card limit", user="u1", personalized=True).layer == "user"
    clock.advance(2)
    assert stack.lookup("acme", "what is my card limit", user="u1", personalized=True) is None


def test_tenant_a_never_gets_tenant_b_answers(make_stack) -> None:
    stack = make_stack({"cache.semantic.threshold": -1.0, "cache.semantic.verifier": "none"})
    stack.store("tenant-b", Q, {"answer": "B's secret"})
    assert stack.lookup("tenant-a", Q) is None  # exact: different key
    assert stack.lookup("tenant-a", Q + " please") is None  # semantic: not even a candidate
    assert stack.lookup("tenant-b", Q).payload == {"answer": "B's secret"}


def test_personalized_answer_is_never_served_to_another_user(make_stack) -> None:
    stack = make_stack({"cache.semantic.threshold": -1.0, "cache.semantic.verifier": "none"})
    q = "what is my available credit limit"
    stack.store("acme", q, {"answer": "u1 has 50,000"}, user="u1", personalized=True)
    assert stack.lookup("acme", q, user="u2", personalized=True) is None
    assert stack.lookup("acme", q) is None  # nor from a shared layer
    assert stack.lookup("acme", q, user="u1") is None  # a non-personalized lookup never reads the user layer
    assert stack.lookup("acme", q, user="u1", personalized=True).payload == {"answer": "u1 has 50,000"}
    assert stack.lookup("other-tenant", q, user="u1", personalized=True) is None


def test_personalized_needs_a_user(make_stack) -> None:
    stack = make_stack()
    with pytest.raises(InputError):
        stack.lookup("acme", Q, personalized=True)
    with pytest.raises(InputError):
        stack.store("acme", Q, ANSWER, personalized=True)


def test_tool_snapshots_are_per_user(make_stack) -> None:
    stack = make_stack()
    stack.put_snapshot("acme", "u1", "card_limit", {"limit": 50_000})
    assert stack.get_snapshot("acme", "u1", "card_limit") == {"limit": 50_000}
    assert stack.get_snapshot("acme", "u2", "card_limit") is None


def test_reindex_invalidates_old_answers(make_stack) -> None:
    stack = make_stack()
    stack.store("acme", Q, {"answer": "old"})
    stack.set_kb_version("kb2")
    assert stack.lookup("acme", Q) is None
    assert stack.lookup("acme", Q + " please") is None
    stack.store("acme", Q, {"answer": "new"})
    assert stack.lookup("acme", Q).payload == {"answer": "new"}


def test_a_worker_on_the_old_version_does_not_see_new_entries(make_stack) -> None:
    old = make_stack(kb_version="kb1")
    new = make_stack(kb_version="kb2")
    new.store("acme", Q, {"answer": "new"})
    assert old.lookup("acme", Q) is None


def test_config_hash_is_part_of_the_key(make_stack) -> None:
    a = make_stack()
    b = make_stack({"retriever.top_k": 9})
    a.store("acme", Q, ANSWER)
    assert b.lookup("acme", Q) is None


def test_layers_can_be_switched_off(make_stack) -> None:
    stack = make_stack({"cache.exact.enabled": False, "cache.semantic.enabled": False})
    stack.store("acme", Q, ANSWER)
    assert stack.lookup("acme", Q) is None
    off = make_stack({"cache.enabled": False})
    off.store("acme", Q, ANSWER)
    assert off.lookup("acme", Q) is None


def test_stats_count_hits_misses_and_wrong_hits(make_stack) -> None:
    stack = make_stack()
    stack.store("acme", Q, ANSWER, intent="fee.gold")
    assert stack.lookup("acme", "something else entirely, about mortgages", intent="loan.mortgage") is None
    stack.lookup("acme", Q, intent="fee.gold")
    stack.lookup("acme", Q, intent="fee.platinum")  # served, but the request meant something else
    s = stack.stats()
    assert s["requests"] == 3 and s["hits"] == 2
    ex = s["layers"]["exact"]
    assert ex["hits"] == 2 and ex["misses"] == 1 and ex["wrong_hits"] == 1 and ex["judged_hits"] == 2
    assert s["layers"]["semantic"]["misses"] == 1
    lat = ex["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] and lat["method"].startswith("nearest-rank")  # NaN or 0 would fail
    assert s["latency_ms"]["p50"] >= lat["p50"]  # the whole lookup includes its exact-layer part


def test_bad_input_is_a_clear_error(make_stack) -> None:
    stack = make_stack()
    for tenant, q in (("", Q), ("acme", ""), ("acme", None), ("acme", "x" * 5000)):
        with pytest.raises(InputError):
            stack.lookup(tenant, q)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        stack.store("acme", Q, ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        stack.store("acme", Q, {"x": object()})


async def test_async_twins(make_stack) -> None:
    stack = make_stack()
    assert await stack.alookup("acme", Q) is None
    await stack.astore("acme", Q, ANSWER, intent="fee.gold")
    hit = await stack.alookup("acme", Q)
    assert hit is not None and hit.layer == "exact" and hit.payload == ANSWER
    sem = await stack.alookup("acme", Q + " please")
    assert sem is not None and sem.layer == "semantic"
    await stack.astore("acme", "my limit", {"v": 1}, user="u1", personalized=True)
    assert (await stack.alookup("acme", "my limit", user="u1", personalized=True)).layer == "user"
    assert await stack.alookup("acme", "my limit", user="u2", personalized=True) is None
    await stack.aclose()


def test_semantic_entries_are_bounded(make_stack) -> None:
    stack = make_stack({"cache.exact.enabled": False, "cache.semantic.max_entries": 3})
    for i in range(5):
        stack.store("acme", f"question number {i} about topic {i}", {"i": i})
    st = stack.stats()["layers"]["semantic"]
    assert st["index"]["entries"] == 3 and st["evictions"] == 2
    assert stack.lookup("acme", "question number 0 about topic 0") is None
    assert stack.lookup("acme", "question number 4 about topic 4").payload == {"i": 4}
