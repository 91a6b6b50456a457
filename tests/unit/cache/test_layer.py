"""The base layer (TTL, prefix, clock, stats, the entry envelope), the persisted records, and the plan drivers."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from workbench.cache import CacheEntry, ExactCache, MemoryBackend, RedisBackend, ReplicationLog, UserSnapshotCache
from workbench.cache.keys import namespace
from workbench.cache.records import SemanticLogRecord, decode_entry, encode_entry
from workbench.cache.stats import LayerStats
from workbench.cache.steps import Plan, run_async, run_sync
from workbench.cache.testing import FakeClock
from workbench.config import ExactCacheConfig, UserSnapshotConfig
from workbench.errors import ConfigError, InputError

NS = namespace("acme", kb_version="v1", config_hash="c1")


def test_ttl_defaults_come_from_the_config() -> None:
    assert ExactCache(MemoryBackend()).ttl_s == ExactCacheConfig().ttl_s
    assert UserSnapshotCache(MemoryBackend()).ttl_s == UserSnapshotConfig().ttl_s == 120.0


@pytest.mark.parametrize("ttl", [0, -1.0])
def test_a_layer_refuses_a_ttl_that_is_not_positive(ttl: float) -> None:
    with pytest.raises(ConfigError, match="ttl_s"):
        ExactCache(MemoryBackend(), ttl_s=ttl)


def test_exact_caps_a_writes_ttl_and_the_user_layer_keeps_it() -> None:
    clock = FakeClock()
    exact = ExactCache(MemoryBackend(clock=clock), ttl_s=100, clock=clock)
    exact.put(NS, "q", question="q", payload={"a": 1}, ttl_s=1000)
    assert exact.remaining_ttl(NS, "q") == 100
    user = UserSnapshotCache(MemoryBackend(clock=clock), ttl_s=100, clock=clock)
    user.put(NS, "u1", "tool:x", {"v": 1}, ttl_s=1000)
    clock.advance(500)
    assert user.get(NS, "u1", "tool:x").payload == {"v": 1}


def test_an_already_expired_write_stores_nothing() -> None:
    exact = ExactCache(MemoryBackend())
    exact.put(NS, "q", question="q", payload={"a": 1}, ttl_s=-5)
    assert exact.get(NS, "q") is None and exact.stats.stores == 0


def test_expiry_is_by_the_layers_clock_and_counted() -> None:
    clock = FakeClock()
    backend = MemoryBackend()  # the backend's own clock would keep it: the layer's clock decides
    exact = ExactCache(backend, ttl_s=10, clock=clock)
    exact.put(NS, "q", question="q", payload={"a": 1})
    clock.advance(10)
    assert exact.get(NS, "q") is None and exact.stats.expired == 1


def test_a_corrupt_or_foreign_blob_is_a_miss() -> None:
    backend = MemoryBackend()
    exact = ExactCache(backend)
    backend.set(exact.key(NS, "q"), b"not json", 60)
    assert exact.get(NS, "q") is None
    other = encode_entry(CacheEntry(payload={}, question="", intent=None, expires_at=1e12, normalized="other"))
    backend.set(exact.key(NS, "q"), other, 60)
    assert exact.get(NS, "q") is None  # written for another text (a key collision): not served


def test_entry_envelope_round_trip_and_wire_format() -> None:
    entry = CacheEntry(payload={"answer": "RMB 300", "n": [1, 2]}, question="金卡年费?", intent="fee",
                       expires_at=12.5, normalized="金卡年费")
    blob = encode_entry(entry)
    assert blob.startswith(b'{"p":') and "金卡".encode() in blob  # compact keys, UTF-8 not escaped
    assert decode_entry(blob) == entry
    assert decode_entry(b'{"p": [], "q": "", "i": null, "e": 1}') is None


@pytest.mark.parametrize("payload", [{"x": object()}, {1: "int key"}])
def test_a_payload_that_is_not_a_json_object_is_an_input_error(payload: dict) -> None:
    with pytest.raises(InputError, match="JSON"):
        ExactCache(MemoryBackend()).put(NS, "q", question="q", payload=payload)


def test_semantic_log_record_round_trip() -> None:
    vec = np.arange(4, dtype=np.float32)
    rec = SemanticLogRecord(namespace="kb:ns", key="k", normalized="q", intent=None, expires_at=3.25,
                            vector=vec.tobytes(), origin="w1")
    fields = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in rec.to_fields().items()}
    back = SemanticLogRecord.from_fields(fields)
    assert back == rec and np.array_equal(back.embedding(), vec)
    del fields[b"o"]
    assert SemanticLogRecord.from_fields(fields) is None


def test_backends_declare_whether_they_replicate() -> None:
    assert MemoryBackend.shared is False and not isinstance(MemoryBackend(), ReplicationLog)
    redis = RedisBackend("redis://127.0.0.1:1/0")
    assert RedisBackend.shared is True and isinstance(redis, ReplicationLog)
    redis.close()


def test_layer_stats_percentiles_are_nearest_rank() -> None:
    stats = LayerStats("exact")
    for ms in range(100, 0, -1):
        stats.record(hit=ms % 2 == 0, latency_ns=ms * 1_000_000)
    lat = stats.as_dict()["latency_ms"]
    assert (lat["p50"], lat["p95"], lat["mean"]) == (50.0, 95.0, 50.5)
    assert lat["method"] == "nearest-rank over the last 10000 lookups"


def _plan(log: list[str]) -> Plan[int]:
    a = yield (lambda x: x + 1, _aplus, (1,))
    log.append(f"got {a}")
    b = yield (lambda x: x * 10, _atimes, (a,))
    return int(b)


async def _aplus(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


async def _atimes(x: int) -> int:
    return x * 10


async def test_one_plan_two_drivers() -> None:
    sync_log: list[str] = []
    async_log: list[str] = []
    assert run_sync(_plan(sync_log)) == await run_async(_plan(async_log)) == 20
    assert sync_log == async_log == ["got 2"]
    assert run_sync(_plan([])) == 20  # the sync driver needs no event loop, and works inside a running one


def test_a_failing_step_raises_to_the_caller() -> None:
    def boom(_: int) -> int:
        raise InputError("bad")

    def plan() -> Plan[int]:
        yield (boom, _aplus, (1,))
        return 1

    with pytest.raises(InputError, match="bad"):
        run_sync(plan())
