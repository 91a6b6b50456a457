"""The key-value contract every cache backend fulfils (a ``typing.Protocol``: fakes need no inheritance).

Values are bytes with a time to live. A backend never raises on an outage: ``get`` answers ``None``
(a miss) and writes are dropped, with a warning in the log::

    backend.set("wb:exact:…", b"{...}", ttl_s=300)
    backend.get("wb:exact:…")       # b"{...}" or None

Beside values, a backend keeps sets of strings (the reverse index of per-document invalidation: document →
the keys of the entries that cited it). ``add_members`` adds many ``(set key, member)`` pairs in one round
trip; ``take_members`` reads and deletes sets in one; a read during an outage answers ``None``::

    backend.add_members([("wb:docs:…:gold-card-en", "wb:exact:…")], ttl_s=300)
    backend.take_members(["wb:docs:…:gold-card-en"])     # {"wb:docs:…:gold-card-en": {"wb:exact:…"}}

A backend declares whether other processes see its entries (:attr:`CacheBackend.shared`). A shared
backend also implements :class:`ReplicationLog`, an append-only log the semantic layer uses to keep
every worker's local nearest-neighbour index in step (Redis: one stream)::

    if backend.shared:
        log: ReplicationLog = replication_log(backend)     # raises ConfigError if it has none
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from workbench.errors import ConfigError

__all__ = ["CacheBackend", "LogRecords", "ReplicationLog", "replication_log"]

#: Records read from a replication log: ``(record id, fields)`` in log order.
LogRecords = list[tuple[str, dict[bytes, bytes]]]


@runtime_checkable
class CacheBackend(Protocol):
    """Bytes by key, with a TTL; sync methods and their async twins."""

    name: str
    """``"memory"`` or ``"redis"``."""
    shared: bool
    """Whether other processes see this backend's entries (then it also is a :class:`ReplicationLog`)."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def adelete(self, key: str) -> None: ...

    def delete_many(self, keys: Sequence[str]) -> int: ...

    def add_members(self, items: Sequence[tuple[str, str]], ttl_s: float) -> None: ...

    def members(self, key: str) -> set[str] | None: ...

    def take_members(self, keys: Sequence[str]) -> dict[str, set[str]] | None: ...

    async def adelete_many(self, keys: Sequence[str]) -> int: ...

    async def aadd_members(self, items: Sequence[tuple[str, str]], ttl_s: float) -> None: ...

    async def amembers(self, key: str) -> set[str] | None: ...

    async def atake_members(self, keys: Sequence[str]) -> dict[str, set[str]] | None: ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class ReplicationLog(Protocol):
    """An append-only log of records shared by every worker (the capability of a shared backend).

    Reads never block and never raise: ``None`` when the log is unavailable.
    """

    def xadd(self, stream: str, fields: dict[str, bytes | str], *, maxlen: int) -> None: ...

    def xread(self, stream: str, last_id: str, *, count: int = 1000) -> LogRecords | None: ...

    async def axadd(self, stream: str, fields: dict[str, bytes | str], *, maxlen: int) -> None: ...

    async def axread(self, stream: str, last_id: str, *, count: int = 1000) -> LogRecords | None: ...


def replication_log(backend: CacheBackend) -> ReplicationLog:
    """``backend`` as a :class:`ReplicationLog`.

    :raises ConfigError: the backend declares ``shared`` but implements no log.
    """
    if not isinstance(backend, ReplicationLog):
        raise ConfigError(f"backend {backend.name!r} is shared but has no replication log (xadd/xread and their "
                          "async forms): a semantic layer on it could not keep workers in step", field="cache.backend")
    return backend
