"""The Redis backend: keys with a server-side TTL (``SET … PX``), sync and async (``redis.asyncio``).

A Redis failure never reaches the caller: the call answers a miss (or drops the write) and logs a
warning once per outage; for ``retry_interval_s`` after a failure the backend does not even try (so
an outage costs nothing per request), then the next call probes the server again and the cache
recovers by itself when Redis is back::

    b = RedisBackend("redis://127.0.0.1:6379/0")
    b.set("wb:exact:…", b"{...}", ttl_s=300)
    b.get("wb:exact:…")             # b"{...}", or None (also when Redis is down)

LRU bounds are Redis's own (``maxmemory`` with ``maxmemory-policy allkeys-lru``): a shared server
is bounded by its configuration, not by one client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff

from workbench.cache.backends.base import LogRecords

__all__ = ["RedisBackend"]

log = logging.getLogger("workbench.cache.redis")
T = TypeVar("T")
_ERRORS = (redis.RedisError, OSError)


class RedisBackend:
    """Bytes by key in a Redis server, shared by every worker that uses the same URL and prefix."""

    name = "redis"
    shared = True
    """Every worker on the same server sees the entries; the stream methods are its replication log."""

    def __init__(self, url: str, *, socket_timeout_s: float = 0.25, retry_interval_s: float = 1.0,
                 max_connections: int = 32) -> None:
        if retry_interval_s < 0:
            raise ValueError("retry_interval_s must be >= 0")
        self.url = url
        self.socket_timeout_s = socket_timeout_s
        self.retry_interval_s = retry_interval_s
        self._client = redis.Redis.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s,
            retry=redis.retry.Retry(NoBackoff(), 0), max_connections=max_connections,
        )
        self._max_connections = max_connections
        self._aclient: aioredis.Redis | None = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._down_until = 0.0
        self._down = False
        self.errors = 0
        self.skipped = 0

    # -- health ----------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """False while the backend considers Redis down (inside the retry interval after a failure)."""
        return not self._down

    def _skip(self) -> bool:
        if self._down and time.monotonic() < self._down_until:
            self.skipped += 1
            return True
        return False

    def _failed(self, op: str, exc: BaseException) -> None:
        self.errors += 1
        self._down_until = time.monotonic() + self.retry_interval_s
        if not self._down:
            log.warning("redis cache at %s unavailable (%s during %s: %s); serving misses until it returns",
                        self.url, type(exc).__name__, op, exc)
        self._down = True

    def _ok(self) -> None:
        if self._down:
            log.warning("redis cache at %s is reachable again; cache recovered", self.url)
            self._down = False

    def _call(self, op: str, fn: Callable[[], T], default: T) -> T:
        if self._skip():
            return default
        try:
            result = fn()
        except _ERRORS as exc:
            self._failed(op, exc)
            return default
        self._ok()
        return result

    async def _acall(self, op: str, fn: Callable[[aioredis.Redis], Awaitable[T]], default: T) -> T:
        if self._skip():
            return default
        try:
            result = await fn(self._async_client())
        except _ERRORS as exc:
            self._failed(op, exc)
            return default
        self._ok()
        return result

    def _async_client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            # redis.asyncio connections belong to the loop that opened them: one client per loop
            self._aclient = aioredis.Redis.from_url(
                self.url, socket_timeout=self.socket_timeout_s, socket_connect_timeout=self.socket_timeout_s,
                retry=redis.asyncio.retry.Retry(NoBackoff(), 0), max_connections=self._max_connections,
            )
            self._aloop = loop
        return self._aclient

    # -- key-value -------------------------------------------------------------------------------
    @staticmethod
    def _px(ttl_s: float) -> int:
        return max(1, int(ttl_s * 1000))

    def get(self, key: str) -> bytes | None:
        """The value, or ``None`` (absent, expired, or Redis unavailable)."""
        return self._call("GET", lambda: self._client.get(key), None)  # type: ignore[return-value]

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """``SET key value PX ttl``; dropped (with a warning) when Redis is unavailable."""
        self._call("SET", lambda: self._client.set(key, value, px=self._px(ttl_s)), None)

    def delete(self, key: str) -> None:
        """``UNLINK key``."""
        self._call("UNLINK", lambda: self._client.unlink(key), None)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix`` (``SCAN`` + ``UNLINK`` in batches); returns how many."""

        def run() -> int:
            n, batch = 0, []
            for key in self._client.scan_iter(match=prefix + "*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    n += int(self._client.unlink(*batch))
                    batch = []
            if batch:
                n += int(self._client.unlink(*batch))
            return n

        return self._call("SCAN/UNLINK", run, 0)

    async def aget(self, key: str) -> bytes | None:
        """Async twin of :meth:`get`."""
        return await self._acall("GET", lambda c: c.get(key), None)  # type: ignore[arg-type,return-value]

    async def aset(self, key: str, value: bytes, ttl_s: float) -> None:
        """Async twin of :meth:`set`."""
        await self._acall("SET", lambda c: c.set(key, value, px=self._px(ttl_s)), None)  # type: ignore[arg-type]

    async def adelete(self, key: str) -> None:
        """Async twin of :meth:`delete`."""
        await self._acall("UNLINK", lambda c: c.unlink(key), None)  # type: ignore[arg-type]

    # -- sets (the reverse index of per-document invalidation) ---------------------------------------
    def delete_many(self, keys: Sequence[str]) -> int:
        """``UNLINK`` the keys; returns how many existed (0 when Redis is unavailable)."""
        if not keys:
            return 0
        return int(self._call("UNLINK", lambda: self._client.unlink(*keys), 0))

    async def adelete_many(self, keys: Sequence[str]) -> int:
        """Async twin of :meth:`delete_many`."""
        if not keys:
            return 0
        return int(await self._acall("UNLINK", lambda c: c.unlink(*keys), 0))  # type: ignore[arg-type]

    def add_members(self, items: Sequence[tuple[str, str]], ttl_s: float) -> None:
        """``SADD`` each member and ``PEXPIRE`` each set touched, in one pipeline (dropped when unavailable)."""
        if not items:
            return

        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            for key, member in items:
                pipe.sadd(key, member)
            for key in dict.fromkeys(k for k, _ in items):
                pipe.pexpire(key, self._px(ttl_s))
            pipe.execute()

        self._call("SADD", run, None)

    async def aadd_members(self, items: Sequence[tuple[str, str]], ttl_s: float) -> None:
        """Async twin of :meth:`add_members`."""
        if not items:
            return

        async def run(c: aioredis.Redis) -> None:
            pipe = c.pipeline(transaction=False)
            for key, member in items:
                pipe.sadd(key, member)
            for key in dict.fromkeys(k for k, _ in items):
                pipe.pexpire(key, self._px(ttl_s))
            await pipe.execute()

        await self._acall("SADD", run, None)

    def add_scores(self, items: Sequence[tuple[str, str, float]], ttl_s: float, *, keep: int,
                   fields: Sequence[tuple[str, str, str]] = ()) -> None:
        """``ZINCRBY`` each ``(key, member, amount)``, keep the ``keep`` highest members of each sorted set touched
        (``ZREMRANGEBYRANK``), ``HSET`` each ``(key, field, value)`` of ``fields``, and ``PEXPIRE`` every key
        touched: one pipeline (dropped when unavailable)."""
        if not items and not fields:
            return

        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            for key, member, amount in items:
                pipe.zincrby(key, amount, member)
            for key in dict.fromkeys(k for k, _, _ in items):
                pipe.zremrangebyrank(key, 0, -keep - 1)
            for key, field_name, value in fields:
                pipe.hset(key, field_name, value)
            for key in dict.fromkeys([*(k for k, _, _ in items), *(k for k, _, _ in fields)]):
                pipe.pexpire(key, self._px(ttl_s))
            pipe.execute()

        self._call("ZINCRBY", run, None)

    def top_scores(self, keys: Sequence[str], n: int) -> list[list[tuple[str, float]]] | None:
        """The ``n`` highest members of each sorted set with their scores (``ZREVRANGE … WITHSCORES``), or ``None``
        when Redis is unavailable."""
        def run() -> list[list[tuple[str, float]]]:
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.zrevrange(key, 0, n - 1, withscores=True)
            return [[(_text(m), float(sc)) for m, sc in rows] for rows in pipe.execute()]

        return self._call("ZREVRANGE", run, None)

    def fields(self, key: str, names: Sequence[str]) -> list[str | None] | None:
        """``HMGET``: the values of ``names`` in the hash ``key`` (``None`` for a missing one), or ``None`` when
        Redis is unavailable."""
        if not names:
            return []
        res = self._call("HMGET", lambda: self._client.hmget(key, list(names)), None)
        return None if res is None else [None if v is None else _text(v) for v in res]  # type: ignore[union-attr]

    def members(self, key: str) -> set[str] | None:
        """``SMEMBERS``, or ``None`` when Redis is unavailable."""
        res = self._call("SMEMBERS", lambda: self._client.smembers(key), None)
        return None if res is None else {_text(m) for m in res}  # type: ignore[union-attr]

    async def amembers(self, key: str) -> set[str] | None:
        """Async twin of :meth:`members`."""
        res = await self._acall("SMEMBERS", lambda c: c.smembers(key), None)  # type: ignore[arg-type]
        return None if res is None else {_text(m) for m in res}

    def take_members(self, keys: Sequence[str]) -> dict[str, set[str]] | None:
        """``SMEMBERS`` and ``UNLINK`` of each set in one transaction, or ``None`` when Redis is unavailable."""

        def run() -> list[Any]:
            pipe = self._client.pipeline(transaction=True)
            for key in keys:
                pipe.smembers(key)
            pipe.unlink(*keys)
            return pipe.execute()  # type: ignore[no-any-return]

        if not keys:
            return {}
        res = self._call("SMEMBERS/UNLINK", run, None)
        return None if res is None else {k: {_text(m) for m in got} for k, got in zip(keys, res, strict=False)}

    async def atake_members(self, keys: Sequence[str]) -> dict[str, set[str]] | None:
        """Async twin of :meth:`take_members`."""

        async def run(c: aioredis.Redis) -> list[Any]:
            pipe = c.pipeline(transaction=True)
            for key in keys:
                pipe.smembers(key)
            pipe.unlink(*keys)
            return await pipe.execute()  # type: ignore[no-any-return]

        if not keys:
            return {}
        res = await self._acall("SMEMBERS/UNLINK", run, None)
        return None if res is None else {k: {_text(m) for m in got} for k, got in zip(keys, res, strict=False)}

    # -- the semantic layer's shared log (a Redis stream) ----------------------------------------
    def xadd(self, stream: str, fields: dict[str, bytes | str], *, maxlen: int) -> None:
        """Append a record to ``stream``, trimmed to about ``maxlen`` records."""
        self._call("XADD", lambda: self._client.xadd(stream, fields, maxlen=maxlen, approximate=True), None)

    def xread(self, stream: str, last_id: str, *, count: int = 1000) -> LogRecords | None:
        """Records after ``last_id`` (non-blocking), or ``None`` when Redis is unavailable."""
        res = self._call("XREAD", lambda: self._client.xread({stream: last_id}, count=count), None)
        return None if res is None else _records(res)

    async def axadd(self, stream: str, fields: dict[str, bytes | str], *, maxlen: int) -> None:
        """Async twin of :meth:`xadd`."""
        await self._acall("XADD", lambda c: c.xadd(stream, fields, maxlen=maxlen, approximate=True),  # type: ignore[arg-type]
                          None)

    async def axread(self, stream: str, last_id: str, *, count: int = 1000) -> LogRecords | None:
        """Async twin of :meth:`xread`."""
        res = await self._acall("XREAD", lambda c: c.xread({stream: last_id}, count=count), None)  # type: ignore[arg-type]
        return None if res is None else _records(res)

    # -- lifecycle ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Errors and skipped calls of this client (entries and evictions live in the server's INFO)."""
        return {"backend": self.name, "url": self.url, "available": self.available, "errors": self.errors,
                "skipped": self.skipped}

    def close(self) -> None:
        """Close the sync connections (the async client is closed by :meth:`aclose`)."""
        self._client.close()

    async def aclose(self) -> None:
        """Close both clients."""
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
        self._client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _records(res: Any) -> LogRecords:
    out = []
    for _stream, entries in res or []:
        for rid, fields in entries:
            out.append((rid.decode() if isinstance(rid, bytes) else str(rid), fields))
    return out
