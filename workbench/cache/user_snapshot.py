"""The per-user layer: data and answers that belong to one user (a card limit a tool fetched, an answer
built from it), with a short TTL. The user is part of every key, so no other user, and no shared
layer, can ever reach these entries::

    snap = UserSnapshotCache(MemoryBackend(), ttl_s=120)
    ns = namespace("acme", kb_version="-", config_hash="-")
    snap.put(ns, "u1", "tool:card_limit", {"limit": 50000})
    snap.get(ns, "u1", "tool:card_limit").payload     # {'limit': 50000}
    snap.get(ns, "u2", "tool:card_limit")             # None

:class:`UserSnapshotStore` puts the layer behind the tool executor's
:class:`~workbench.tools.snapshot.SnapshotCache` protocol (``get(tenant, user, key)`` /
``set(tenant, user, key, value, ttl_s)``).
"""

from __future__ import annotations

import time
from typing import Any

from workbench.cache.keys import Namespace, digest, namespace, user_key
from workbench.cache.layer import CacheLayer
from workbench.cache.records import CacheEntry
from workbench.cache.steps import Plan, run_async, run_sync
from workbench.config import UserSnapshotConfig
from workbench.errors import InputError

__all__ = ["UserSnapshotCache", "UserSnapshotStore", "check_user"]


def check_user(user: Any) -> str:
    """``user`` if it is a non-empty string.

    :raises InputError: no user id (personalized entries are keyed by user).
    """
    if not isinstance(user, str) or not user.strip():
        raise InputError("a per-user cache entry needs a non-empty user id (personalized answers are keyed by user)")
    return user


class UserSnapshotCache(CacheLayer):
    """Per-user entries with a TTL, never shared across users.

    Constructed as :class:`~workbench.cache.layer.CacheLayer`; the TTL defaults to
    ``cache.user_snapshot.ttl_s`` (120 s). A write's own TTL (a tool's ``cache_ttl_s``) is kept as given.
    """

    layer = "user"
    default_ttl_s = UserSnapshotConfig().ttl_s
    ttl_is_a_ceiling = False

    def key(self, ns: Namespace, user: str, name: str) -> str:
        """The backend key of ``name`` for ``user`` in a namespace."""
        return user_key(self.prefix, ns, check_user(user), name)

    @staticmethod
    def _identity(user: str, name: str) -> str:
        return f"{digest(user, size=24)}:{name}"

    def plan_get(self, ns: Namespace, user: str, name: str) -> Plan[CacheEntry | None]:
        """The plan of :meth:`get` (see :mod:`workbench.cache.steps`)."""
        return self._read(self.key(ns, user, name), self._identity(user, name))

    def plan_put(self, ns: Namespace, user: str, name: str, payload: dict[str, Any], question: str, intent: str | None,
             ttl_s: float | None) -> Plan[float | None]:
        """The plan of :meth:`put`."""
        return self._write(self.key(ns, user, name), self._identity(user, name), payload, question=question,
                           intent=intent, ttl_s=ttl_s, tag=ns.tag)

    def get(self, ns: Namespace, user: str, name: str) -> CacheEntry | None:
        """The live entry ``name`` of ``user``, or ``None``."""
        return run_sync(self.plan_get(ns, user, name))

    async def aget(self, ns: Namespace, user: str, name: str) -> CacheEntry | None:
        """Async form of :meth:`get`."""
        return await run_async(self.plan_get(ns, user, name))

    def put(self, ns: Namespace, user: str, name: str, payload: dict[str, Any], *, question: str = "",
            intent: str | None = None, ttl_s: float | None = None) -> None:
        """Store ``payload`` as ``name`` for ``user`` (TTL: ``ttl_s`` or the layer's)."""
        run_sync(self.plan_put(ns, user, name, payload, question, intent, ttl_s))

    async def aput(self, ns: Namespace, user: str, name: str, payload: dict[str, Any], *, question: str = "",
                   intent: str | None = None, ttl_s: float | None = None) -> None:
        """Async form of :meth:`put`."""
        await run_async(self.plan_put(ns, user, name, payload, question, intent, ttl_s))

    def forget_user(self, ns: Namespace, user: str) -> int:
        """Remove every entry of ``user`` in a namespace (e.g. after a profile change); returns how many."""
        return self.backend.delete_prefix(self.key(ns, user, "").rsplit(":", 1)[0] + ":")


class UserSnapshotStore:
    """The per-user layer as the tool executor's snapshot cache (``tools.snapshot.SnapshotCache``).

    Tool results live under ``tool:{key}`` in a tenant's user-data namespace (it does not depend on
    the knowledge base). Any JSON value is accepted; it is wrapped as ``{"value": ...}`` in the entry.
    Get it from :meth:`CacheStack.snapshot_store() <workbench.cache.CacheStack.snapshot_store>`::

        store = stack.snapshot_store()
        store.set("acme", "u1", "get_credit_limit:1.0:ab12", {"credit_limit": 50000}, ttl_s=120)
        store.get("acme", "u1", "get_credit_limit:1.0:ab12")      # {'credit_limit': 50000}

    :param layer: the per-user layer (``None``: every ``get`` misses and ``set`` does nothing).
    """

    def __init__(self, layer: UserSnapshotCache | None) -> None:
        self.layer = layer

    @staticmethod
    def namespace(tenant: str) -> Namespace:
        """The user-data namespace of ``tenant``.

        :raises InputError: empty tenant.
        """
        if not isinstance(tenant, str) or not tenant:
            raise InputError("tenant must be a non-empty string")
        return namespace(tenant, kb_version="-", config_hash="-")

    def plan_get(self, tenant: str, user: str, key: str) -> Plan[Any | None]:
        """The plan of :meth:`get`."""
        assert self.layer is not None
        t0 = time.perf_counter_ns()
        entry = yield from self.layer.plan_get(self.namespace(tenant), user, "tool:" + key)
        self.layer.stats.record(hit=entry is not None, latency_ns=time.perf_counter_ns() - t0)
        return entry.payload.get("value") if entry is not None else None

    def get(self, tenant: str, user: str, key: str) -> Any | None:
        """The cached tool result ``key`` of ``user``, or ``None``."""
        return None if self.layer is None else run_sync(self.plan_get(tenant, user, key))

    async def aget(self, tenant: str, user: str, key: str) -> Any | None:
        """Async form of :meth:`get`."""
        return None if self.layer is None else await run_async(self.plan_get(tenant, user, key))

    def plan_set(self, tenant: str, user: str, key: str, value: Any, ttl_s: float | None) -> Plan[float | None]:
        """The plan of :meth:`set`."""
        assert self.layer is not None
        return self.layer.plan_put(self.namespace(tenant), user, "tool:" + key, {"value": value}, "", None, ttl_s)

    def set(self, tenant: str, user: str, key: str, value: Any, ttl_s: float | None = None) -> None:
        """Cache ``value`` for ``ttl_s`` seconds (default: the layer's TTL)."""
        if self.layer is not None:
            run_sync(self.plan_set(tenant, user, key, value, ttl_s))

    async def aset(self, tenant: str, user: str, key: str, value: Any, ttl_s: float | None = None) -> None:
        """Async form of :meth:`set`."""
        if self.layer is not None:
            await run_async(self.plan_set(tenant, user, key, value, ttl_s))
