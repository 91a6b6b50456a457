"""Per-document invalidation, on both backends: exactly the answers that cited a changed document go."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from workbench.cache import CacheStack, MemoryBackend, RedisBackend
from workbench.cache.records import cited_documents
from workbench.cache.testing import FakeClock
from workbench.config import PipelineConfig
from workbench.errors import InputError


def answer(text: str, *docs: str) -> dict[str, Any]:
    return {"answer": text, "sources": [{"id": d, "title": d, "text": "...", "score": 1.0} for d in docs]}


GOLD = "what is the annual fee of the gold card"
PLAT = "what is the annual fee of the platinum card"
LIMIT = "how do i raise my credit limit"


def filled(make_stack: Callable[..., CacheStack], **overrides: Any) -> CacheStack:
    stack = make_stack(overrides)
    stack.store("acme", GOLD, answer("RMB 600", "cards-gold-en", "cards-fees-en"))
    stack.store("acme", PLAT, answer("RMB 2,000", "cards-platinum-en", "cards-fees-en"))
    stack.store("acme", LIMIT, answer("Cards > Limits", "cards-limit-en"))
    stack.store("beta", GOLD, answer("RMB 600", "cards-gold-en"))
    return stack


def layer_of(stack: CacheStack, tenant: str, question: str) -> str | None:
    hit = stack.lookup(tenant, question)
    return hit.layer if hit else None


def test_cited_documents() -> None:
    assert cited_documents(answer("x", "a", "b", "a")) == ("a", "b")
    assert cited_documents({"answer": "x"}) == () and cited_documents({"sources": "nope"}) == ()
    assert cited_documents({"sources": [{"title": "no id"}, "junk", {"id": ""}, {"id": "c"}]}) == ("c",)


def test_only_the_citing_answers_go(make_stack: Callable[..., CacheStack]) -> None:
    stack = filled(make_stack)
    done = stack.invalidate_documents(["cards-gold-en"])
    assert done.complete and done.documents == ("cards-gold-en",)
    assert done.removed == {"exact": 2, "semantic": 2, "user": 0}  # acme's and beta's gold answers, in both layers
    assert layer_of(stack, "acme", GOLD) is None and layer_of(stack, "beta", GOLD) is None
    assert layer_of(stack, "acme", PLAT) == "exact" and layer_of(stack, "acme", LIMIT) == "exact"
    assert stack.stats()["layers"]["exact"]["invalidated"] == 2


def test_a_shared_source_takes_every_answer_that_cited_it(make_stack: Callable[..., CacheStack]) -> None:
    stack = filled(make_stack)
    assert stack.invalidate_documents(["cards-fees-en", "not-cited"]).total == 4
    assert layer_of(stack, "acme", GOLD) is None and layer_of(stack, "acme", PLAT) is None
    assert layer_of(stack, "beta", GOLD) == "exact"  # beta's gold answer did not cite the fees page
    assert stack.invalidate_documents(["cards-fees-en"]).total == 0  # the index went with the entries


def test_the_semantic_layer_forgets_the_entry(make_stack: Callable[..., CacheStack]) -> None:
    stack = filled(make_stack, **{"cache.exact.enabled": False})
    assert layer_of(stack, "acme", GOLD + " please") == "semantic"
    stack.invalidate_documents(["cards-gold-en"])
    assert layer_of(stack, "acme", GOLD + " please") is None
    assert layer_of(stack, "acme", PLAT + " please") == "semantic"
    assert stack.stats()["layers"]["semantic"]["index"]["entries"] == 2  # platinum and limit stay


def test_a_promoted_semantic_hit_is_indexed_too(make_stack: Callable[..., CacheStack]) -> None:
    stack = filled(make_stack)
    assert layer_of(stack, "acme", GOLD + " please") == "semantic"  # also written to the exact layer
    assert layer_of(stack, "acme", GOLD + " please") == "exact"
    stack.invalidate_documents(["cards-gold-en"])
    assert layer_of(stack, "acme", GOLD + " please") is None


def test_tenants_scope_it(make_stack: Callable[..., CacheStack]) -> None:
    stack = filled(make_stack)
    done = stack.invalidate_documents(["cards-gold-en"], tenants=["beta"])
    assert done.removed == {"exact": 1, "semantic": 1, "user": 0}
    assert layer_of(stack, "acme", GOLD) == "exact" and layer_of(stack, "beta", GOLD) is None


def test_personalized_answers_go_tool_snapshots_stay(make_stack: Callable[..., CacheStack]) -> None:
    stack = make_stack()
    stack.store("acme", "what is my gold card limit", answer("RMB 50,000", "cards-gold-en"), user="u1",
                personalized=True)
    stack.put_snapshot("acme", "u1", "get_credit_limit", {"credit_limit": 50000})
    assert stack.invalidate_documents(["cards-gold-en"]).removed["user"] == 1
    assert stack.lookup("acme", "what is my gold card limit", user="u1", personalized=True) is None
    assert stack.get_snapshot("acme", "u1", "get_credit_limit") == {"credit_limit": 50000}


def test_answers_stored_again_are_indexed_again(make_stack: Callable[..., CacheStack]) -> None:
    stack = filled(make_stack)
    stack.invalidate_documents(["cards-gold-en"])
    stack.store("acme", GOLD, answer("RMB 800", "cards-gold-en"))
    assert stack.lookup("acme", GOLD).payload["answer"] == "RMB 800"
    assert stack.invalidate_documents(["cards-gold-en"]).removed == {"exact": 1, "semantic": 1, "user": 0}


def test_another_knowledge_base_version_is_not_touched(make_stack: Callable[..., CacheStack]) -> None:
    v1 = filled(make_stack)
    v2 = make_stack(kb_version="kb2")
    v2.store("acme", GOLD, answer("RMB 600", "cards-gold-en"))
    assert v2.invalidate_documents(["cards-gold-en"]).total == 2
    assert layer_of(v1, "acme", GOLD) == "exact"


async def test_the_async_form(make_stack: Callable[..., CacheStack]) -> None:
    stack = filled(make_stack)
    done = await stack.ainvalidate_documents(["cards-limit-en"])
    assert done.removed == {"exact": 1, "semantic": 1, "user": 0}
    assert await stack.alookup("acme", LIMIT) is None and (await stack.alookup("acme", GOLD)).layer == "exact"


def test_ids_must_be_strings(make_stack: Callable[..., CacheStack]) -> None:
    with pytest.raises(InputError):
        make_stack().invalidate_documents(["ok", ""])


@pytest.mark.redis
def test_another_worker_stops_serving_the_entry(redis_server: Any, make_stack: Callable[..., CacheStack],
                                                backend_kind: str) -> None:
    if backend_kind != "redis":
        pytest.skip("workers share entries through Redis")
    one = filled(make_stack, **{"cache.exact.enabled": False})
    two = make_stack({"cache.exact.enabled": False})
    assert layer_of(two, "acme", GOLD + " please") == "semantic"  # replicated into worker two's index
    one.invalidate_documents(["cards-gold-en"])
    assert layer_of(two, "acme", GOLD + " please") is None  # its copy finds the payload gone
    assert layer_of(two, "acme", PLAT + " please") == "semantic"


def test_an_unavailable_backend_says_it_is_incomplete() -> None:
    cfg = PipelineConfig().with_overrides({"cache.enabled": True, "cache.semantic.enabled": False})
    down = RedisBackend("redis://127.0.0.1:1/0", socket_timeout_s=0.05)
    stack = CacheStack.from_config(cfg, kb_version="v1", backend=down)
    done = stack.invalidate_documents(["cards-gold-en"])
    assert not done.complete and done.total == 0


# -- the backend contract of the reverse index --------------------------------------------------------
@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Any:
    b = MemoryBackend(clock=FakeClock()) if request.param == "memory" else \
        RedisBackend(request.getfixturevalue("redis_server").url)
    yield b
    b.close()


def test_sets_add_read_take_and_delete(backend: Any) -> None:
    p = f"t{uuid.uuid4().hex[:8]}"
    backend.add_members([(f"{p}:s1", "a"), (f"{p}:s1", "b"), (f"{p}:s2", "c")], 60)
    assert backend.members(f"{p}:s1") == {"a", "b"} and backend.members(f"{p}:none") == set()
    backend.set(f"{p}:a", b"1", 60)
    backend.set(f"{p}:b", b"1", 60)
    assert backend.take_members([f"{p}:s1", f"{p}:s2", f"{p}:none"]) == {
        f"{p}:s1": {"a", "b"}, f"{p}:s2": {"c"}, f"{p}:none": set()}
    assert backend.members(f"{p}:s1") == set()  # taken
    assert backend.delete_many([f"{p}:a", f"{p}:b", f"{p}:gone"]) == 2 and backend.get(f"{p}:a") is None
    assert backend.delete_many([]) == 0 and backend.take_members([]) == {}


async def test_sets_async_twins(backend: Any) -> None:
    p = f"t{uuid.uuid4().hex[:8]}"
    await backend.aadd_members([(f"{p}:s", "k")], 60)
    assert await backend.amembers(f"{p}:s") == {"k"}
    await backend.aset(f"{p}:k", b"1", 60)
    assert await backend.atake_members([f"{p}:s"]) == {f"{p}:s": {"k"}}
    assert await backend.adelete_many([f"{p}:k"]) == 1


def test_a_memory_set_expires_with_its_ttl() -> None:
    clock = FakeClock()
    b = MemoryBackend(clock=clock)
    b.add_members([("s", "a")], 10)
    clock.advance(5)
    b.add_members([("s", "b")], 10)  # a new member keeps the set alive for its own TTL
    clock.advance(6)
    assert b.members("s") == {"a", "b"}
    clock.advance(5)
    assert b.members("s") == set()


def test_one_string_is_not_a_list_of_ids(make_stack: Callable[..., CacheStack]) -> None:
    with pytest.raises(InputError, match="not one string"):
        make_stack().invalidate_documents("cards-gold-en")  # type: ignore[arg-type]
