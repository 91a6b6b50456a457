"""The :class:`SessionStore` protocol and the shared part of every backend (:class:`BaseSessionStore`).

A store keeps every turn of a session, keyed by ``(tenant, session)``: a tenant can only ever name
its own sessions. Appends from several threads, processes or workers are safe: each backend assigns
gap-free sequence numbers atomically. A session idle longer than ``idle_ttl_s`` is expired: reads
treat it as absent and :meth:`SessionStore.expire_idle` deletes it (Redis expires keys natively).

A session belongs to one user: the owner given to its first append (``None``: anonymous) is stored with
it, and an append or a read that names another owner raises
:class:`~workbench.memory.errors.SessionNotFoundError` inside the same transaction that would have
touched the session (``owner=ANY_OWNER``, the default of reads, skips the check).

```python
store = SQLiteSessionStore("sessions.sqlite3", idle_ttl_s=3600)
store.append("acme", "s1", "gold card annual fee?", "RMB 600")
store.turns("acme", "s1", last=5)             # [Turn(seq=1, ...)]
store.append("acme", "s2", "my limit?", "RMB 5,000", owner="u1")
store.turns("acme", "s2", owner="u2")         # SessionNotFoundError: not u2's session
doc = store.export("acme", "s1").to_dict()    # portable; import into any other store
```
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from workbench.memory.errors import SessionImportError
from workbench.memory.records import ANY_OWNER, SessionExport, Summary, Turn, check_id, owner_key

__all__ = ["BaseSessionStore", "SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """What conversation memory needs from a backend (a fake needs no inheritance)."""

    idle_ttl_s: float
    #: True when calls block on I/O (async callers then run them in a worker thread).
    blocking: bool

    def append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any] | None = None,
               *, ts: float | None = None, owner: str | None = None) -> Turn:
        """Append one turn (starting the session, owned by ``owner``, if it is new); returns it with its ``seq``.
        Raises ``SessionNotFoundError`` when the session belongs to another owner."""
        ...

    def turns(self, tenant: str, session: str, *, last: int | None = None, owner: str | None = ANY_OWNER) -> list[Turn]:
        """The session's turns in order (only the ``last`` ones when given); ``[]`` for an unknown session.
        Raises ``SessionNotFoundError`` when ``owner`` is given and the session belongs to someone else."""
        ...

    def owner(self, tenant: str, session: str) -> str | None:
        """Who the session belongs to (``""``: anonymous; ``None``: no such session)."""
        ...

    def count(self, tenant: str, session: str) -> int:
        """Number of turns."""
        ...

    def get_summary(self, tenant: str, session: str) -> Summary | None:
        """The running summary of older turns, if any."""
        ...

    def set_summary(self, tenant: str, session: str, text: str, upto_seq: int) -> bool:
        """Store a summary unless one covering at least ``upto_seq`` exists; True when written."""
        ...

    def delete(self, tenant: str, session: str) -> bool:
        """Remove a session; True when it existed."""
        ...

    def sessions(self, tenant: str) -> list[str]:
        """Ids of the tenant's live sessions, sorted."""
        ...

    def expire_idle(self, *, now: float | None = None) -> int:
        """Delete sessions idle longer than ``idle_ttl_s``; returns how many."""
        ...

    def export(self, tenant: str, session: str) -> SessionExport:
        """The whole session (turns and summary)."""
        ...

    def import_session(self, data: SessionExport | dict[str, Any], *, replace: bool = False) -> int:
        """Write an exported session; returns the number of turns written."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class BaseSessionStore:
    """Validation, export and import on top of a backend's primitives (subclasses implement the ``_`` methods)."""

    blocking = True

    def __init__(self, *, idle_ttl_s: float = 86_400.0) -> None:
        if idle_ttl_s <= 0:
            raise ValueError("idle_ttl_s must be > 0")
        self.idle_ttl_s = float(idle_ttl_s)

    # -- public API ------------------------------------------------------------------------------
    def append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any] | None = None,
               *, ts: float | None = None, owner: str | None = None) -> Turn:
        check_id("tenant", tenant), check_id("session", session)
        if not isinstance(user, str) or not isinstance(assistant, str):
            raise TypeError("user and assistant texts must be strings")
        return self._append(tenant, session, user, assistant, dict(meta or {}), time.time() if ts is None else ts,
                            owner_key(owner))

    def turns(self, tenant: str, session: str, *, last: int | None = None, owner: str | None = ANY_OWNER) -> list[Turn]:
        check_id("tenant", tenant), check_id("session", session)
        key = owner_key(owner)
        if last is not None and last <= 0:
            if key != ANY_OWNER:
                self._turns(tenant, session, 1, key)       # still refuse another owner's session
            return []
        return self._turns(tenant, session, last, key)

    def owner(self, tenant: str, session: str) -> str | None:
        check_id("tenant", tenant), check_id("session", session)
        return self._owner(tenant, session)

    def count(self, tenant: str, session: str) -> int:
        check_id("tenant", tenant), check_id("session", session)
        return self._count(tenant, session)

    def get_summary(self, tenant: str, session: str) -> Summary | None:
        check_id("tenant", tenant), check_id("session", session)
        return self._get_summary(tenant, session)

    def set_summary(self, tenant: str, session: str, text: str, upto_seq: int) -> bool:
        check_id("tenant", tenant), check_id("session", session)
        return self._set_summary(tenant, session, text, int(upto_seq))

    def delete(self, tenant: str, session: str) -> bool:
        check_id("tenant", tenant), check_id("session", session)
        return self._delete(tenant, session)

    def sessions(self, tenant: str) -> list[str]:
        check_id("tenant", tenant)
        return sorted(self._sessions(tenant))

    def expire_idle(self, *, now: float | None = None) -> int:
        return self._expire_idle(time.time() if now is None else now)

    def export(self, tenant: str, session: str) -> SessionExport:
        return SessionExport(tenant, session, tuple(self.turns(tenant, session)), self.get_summary(tenant, session),
                             self.owner(tenant, session) or "")

    def import_session(self, data: SessionExport | dict[str, Any], *, replace: bool = False) -> int:
        exp = data if isinstance(data, SessionExport) else SessionExport.from_dict(data)
        if self.count(exp.tenant, exp.session):
            if not replace:
                raise SessionImportError(f"session {exp.tenant}/{exp.session} already exists; pass replace=True "
                                         "to overwrite it")
            self.delete(exp.tenant, exp.session)
        for t in exp.turns:
            self.append(exp.tenant, exp.session, t.user, t.assistant, t.meta, ts=t.ts, owner=exp.owner or None)
        if exp.summary is not None:
            self.set_summary(exp.tenant, exp.session, exp.summary.text, exp.summary.upto_seq)
        return len(exp.turns)

    def close(self) -> None:
        return None

    def __enter__(self) -> BaseSessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- backend primitives ----------------------------------------------------------------------
    def _append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any],
                ts: float, owner: str) -> Turn:
        """Append atomically: check ``owner`` (an :func:`owner_key`) against a live session's, or start the
        session owned by it (``ANY_OWNER`` starts an anonymous one)."""
        raise NotImplementedError

    def _turns(self, tenant: str, session: str, last: int | None, owner: str) -> list[Turn]:
        """Read atomically with the owner check (``owner``: an :func:`owner_key`)."""
        raise NotImplementedError

    def _owner(self, tenant: str, session: str) -> str | None:
        raise NotImplementedError

    def _count(self, tenant: str, session: str) -> int:
        raise NotImplementedError

    def _get_summary(self, tenant: str, session: str) -> Summary | None:
        raise NotImplementedError

    def _set_summary(self, tenant: str, session: str, text: str, upto_seq: int) -> bool:
        raise NotImplementedError

    def _delete(self, tenant: str, session: str) -> bool:
        raise NotImplementedError

    def _sessions(self, tenant: str) -> Sequence[str]:
        raise NotImplementedError

    def _expire_idle(self, now: float) -> int:
        raise NotImplementedError

    def _expired(self, updated_at: float | None, now: float | None = None) -> bool:
        return updated_at is not None and (time.time() if now is None else now) - updated_at > self.idle_ttl_s
