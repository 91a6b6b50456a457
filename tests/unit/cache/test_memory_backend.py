from __future__ import annotations

from workbench.cache import MemoryBackend
from workbench.cache.testing import FakeClock


def test_lru_by_entries() -> None:
    b = MemoryBackend(max_entries=2)
    b.set("a", b"1", 10)
    b.set("b", b"2", 10)
    assert b.get("a") == b"1"  # a is now the most recently used
    b.set("c", b"3", 10)
    assert b.get("b") is None and b.get("a") == b"1" and b.get("c") == b"3"
    assert b.stats()["evictions"] == 1


def test_lru_by_bytes() -> None:
    b = MemoryBackend(max_entries=100, max_bytes=30)
    b.set("k1", b"x" * 10, 10)
    b.set("k2", b"x" * 10, 10)
    b.set("k3", b"x" * 10, 10)  # 36 bytes with keys: the oldest goes
    assert b.get("k1") is None and b.stats()["bytes"] <= 30
    b.set("huge", b"x" * 100, 10)  # bigger than the whole cache: not stored, nothing evicted for it
    assert b.get("huge") is None and b.get("k3") is not None


def test_ttl_on_the_injected_clock() -> None:
    clock = FakeClock()
    b = MemoryBackend(clock=clock)
    b.set("a", b"1", 5)
    clock.advance(4.9)
    assert b.get("a") == b"1"
    clock.advance(0.2)
    assert b.get("a") is None and b.stats() == {"backend": "memory", "entries": 0, "sets": 0, "bytes": 0, "evictions": 0,
                                                "expirations": 1}


def test_delete_prefix() -> None:
    b = MemoryBackend()
    for k in ("wb:exact:v1:x", "wb:exact:v1:y", "wb:exact:v2:x"):
        b.set(k, b"1", 10)
    assert b.delete_prefix("wb:exact:v1:") == 2 and len(b) == 1
