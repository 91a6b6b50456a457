"""The key-value contract every cache backend fulfils (a ``typing.Protocol``: fakes need no inheritance).

Values are bytes with a time to live. A backend never raises on an outage: ``get`` answers ``None``
(a miss) and writes are dropped, with a warning in the log::

    backend.set("wb:exact:…", b"{...}", ttl_s=300)
    backend.get("wb:exact:…")       # b"{...}" or None
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["CacheBackend"]


@runtime_checkable
class CacheBackend(Protocol):
    """Bytes by key, with a TTL; sync methods and their async twins."""

    name: str
    """``"memory"`` or ``"redis"``."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> int: ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def adelete(self, key: str) -> None: ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
