"""Sessions in Redis: shared by every worker behind the load balancer; idle sessions expire natively.

Per session, a list of JSON turns (``{prefix}:sess:{tenant}:{session}:turns``, a turn's ``seq`` is its
1-based position; ``RPUSH`` is atomic, so concurrent appends never collide) and a hash of metadata.
Every append checks the owner (kept in the metadata hash), appends and refreshes the idle TTL of both keys
inside one Lua script; :meth:`RedisSessionStore.append` returns once the server has executed it. A turn
then survives a SIGKILL of any worker; it survives a crash of the Redis server itself only as far as the
server's persistence is configured (``appendonly yes`` with ``appendfsync always``: every write; the
default ``everysec``: all but the last second).

```python
store = RedisSessionStore("redis://127.0.0.1:6379/0", idle_ttl_s=3600)
store.append("acme", "s1", "gold card annual fee?", "RMB 600")
```
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from workbench.memory.errors import SessionStoreError
from workbench.memory.records import Summary, Turn, check_owner
from workbench.memory.stores.base import BaseSessionStore

__all__ = ["RedisSessionStore"]

T = TypeVar("T")

_APPEND = """
local owner = redis.call('HGET', KEYS[2], 'owner')
if not owner then
  if redis.call('EXISTS', KEYS[1]) == 1 then owner = '' else
    owner = ARGV[4]
    if owner == '*' then owner = '' end
    redis.call('HSET', KEYS[2], 'owner', owner)
  end
end
if ARGV[4] ~= '*' and owner ~= ARGV[4] then return -1 end
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
local prev = tonumber(redis.call('HGET', KEYS[2], 'updated_at') or '0')
if tonumber(ARGV[2]) > prev then redis.call('HSET', KEYS[2], 'updated_at', ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return n
"""
_SET_SUMMARY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local prev = tonumber(redis.call('HGET', KEYS[2], 'summary_upto') or '0')
if tonumber(ARGV[2]) <= prev then return 0 end
redis.call('HSET', KEYS[2], 'summary', ARGV[1], 'summary_upto', ARGV[2])
redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1]))
return 1
"""


class RedisSessionStore(BaseSessionStore):
    """A :class:`~workbench.memory.stores.base.SessionStore` in Redis (``redis-py``, thread-safe pool)."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, idle_ttl_s: float = 86_400.0,
                 key_prefix: str = "wb", client: Any = None, socket_timeout_s: float = 5.0) -> None:
        super().__init__(idle_ttl_s=idle_ttl_s)
        import redis

        self.url, self.key_prefix = url, key_prefix
        self._redis_error = redis.exceptions.RedisError
        self.client = client if client is not None else redis.Redis.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s)
        self._append_script = self.client.register_script(_APPEND)
        self._summary_script = self.client.register_script(_SET_SUMMARY)

    def _keys(self, tenant: str, session: str) -> tuple[str, str]:
        base = f"{self.key_prefix}:sess:{tenant}:{session}"
        return f"{base}:turns", f"{base}:meta"

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except self._redis_error as exc:
            raise SessionStoreError(f"Redis session store {self.url}: {what} failed: {exc}; is the server "
                                    "running and memory.url right?") from exc

    def _append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any],
                ts: float, owner: str) -> Turn:
        doc = json.dumps({"u": user, "a": assistant, "ts": ts, "m": meta}, ensure_ascii=False)
        ttl_ms = max(1, int(self.idle_ttl_s * 1000))
        n = self._call("append", lambda: self._append_script(keys=list(self._keys(tenant, session)),
                                                             args=[doc, repr(ts), ttl_ms, owner]))
        if int(n) < 0:
            check_owner("\0", owner, session)   # the script refused: another owner's session
        return Turn(int(n), user, assistant, ts, meta)

    def _turns(self, tenant: str, session: str, last: int | None, owner: str) -> list[Turn]:
        key, meta_key = self._keys(tenant, session)

        def run() -> list[Any]:
            pipe = self.client.pipeline(transaction=True)   # MULTI/EXEC: owner and turns from one moment
            pipe.hget(meta_key, "owner")
            pipe.llen(key)
            pipe.lrange(key, 0 if last is None else -last, -1)
            return pipe.execute()

        stored, n, items = self._call("read", run)
        if int(n) == 0:
            return []
        check_owner(stored.decode("utf-8") if stored is not None else "", owner, session)
        first = int(n) - len(items) + 1
        out = []
        for i, raw in enumerate(items):
            d = json.loads(raw)
            out.append(Turn(first + i, d["u"], d["a"], float(d["ts"]), d.get("m") or {}))
        return out

    def _owner(self, tenant: str, session: str) -> str | None:
        key, meta_key = self._keys(tenant, session)

        def run() -> list[Any]:
            pipe = self.client.pipeline(transaction=True)
            pipe.exists(key)
            pipe.hget(meta_key, "owner")
            return pipe.execute()

        exists, stored = self._call("read", run)
        return None if not exists else (stored.decode("utf-8") if stored is not None else "")

    def _count(self, tenant: str, session: str) -> int:
        return int(self._call("count", lambda: self.client.llen(self._keys(tenant, session)[0])))

    def _get_summary(self, tenant: str, session: str) -> Summary | None:
        turns_key, meta_key = self._keys(tenant, session)
        vals = self._call("read", lambda: self.client.hmget(meta_key, "summary", "summary_upto"))
        if vals[0] is None or not self._call("read", lambda: self.client.exists(turns_key)):
            return None
        return Summary(vals[0].decode("utf-8"), int(vals[1]))

    def _set_summary(self, tenant: str, session: str, text: str, upto_seq: int) -> bool:
        r = self._call("set_summary", lambda: self._summary_script(keys=list(self._keys(tenant, session)),
                                                                   args=[text, upto_seq]))
        return bool(r)

    def _delete(self, tenant: str, session: str) -> bool:
        return bool(self._call("delete", lambda: self.client.delete(*self._keys(tenant, session))))

    def _sessions(self, tenant: str) -> Sequence[str]:
        pattern = f"{self.key_prefix}:sess:{tenant}:*:turns"
        keys = self._call("scan", lambda: list(self.client.scan_iter(match=pattern, count=500)))
        prefix = len(f"{self.key_prefix}:sess:{tenant}:")
        return [k.decode("utf-8")[prefix:-len(":turns")] for k in keys]

    def _expire_idle(self, now: float) -> int:
        return 0  # Redis expires idle sessions itself (PEXPIRE refreshed on every append)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
