"""The :class:`SessionStore` protocol and the shared part of every backend (:class:`BaseSessionStore`).

A store keeps every turn of a session, keyed by ``(tenant, session)``: a tenant can only ever name
its own sessions. Appends from several threads, processes or workers are safe: each backend assigns
gap-free sequence numbers atomically. A session idle longer than ``idle_ttl_s`` is expired: reads
treat it as absent and :meth:`SessionStore.expire_idle` deletes it (Redis expires keys natively).

```python
store = SQLiteSessionStore("sessions.sqlite3", idle_ttl_s=3600)
store.append("acme", "s1", "gold card annual fee?", "RMB 600")
store.turns("acme", "s1", last=5)             # [Turn(seq=1, ...)]
doc = store.export("acme", "s1").to_dict()    # portable; import into any other store
```
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from workbench.memory.errors import SessionImportError
from workbench.memory.records import SessionExport, Summary, Turn, check_id

__all__ = ["BaseSessionStore", "SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """What conversation memory needs from a backend (a fake needs no inheritance)."""

    idle_ttl_s: float
    #: True when calls block on I/O (async callers then run them in a worker thread).
    blocking: bool

    def append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any] | None = None,
               *, ts: float | None = None) -> Turn:
        """Append one turn; returns it with its assigned ``seq``."""
        ...

    def turns(self, tenant: str, session: str, *, last: int | None = None) -> list[Turn]:
        """The session's turns in order (only the ``last`` ones when given); ``[]`` for an unknown session."""
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
               *, ts: float | None = None) -> Turn:
        check_id("tenant", tenant), check_id("session", session)
        if not isinstance(user, str) or not isinstance(assistant, str):
            raise TypeError("user and assistant texts must be strings")
        return self._append(tenant, session, user, assistant, dict(meta or {}), time.time() if ts is None else ts)

    def turns(self, tenant: str, session: str, *, last: int | None = None) -> list[Turn]:
        check_id("tenant", tenant), check_id("session", session)
        if last is not None and last <= 0:
            return []
        return self._turns(tenant, session, last)

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
        return SessionExport(tenant, session, tuple(self.turns(tenant, session)), self.get_summary(tenant, session))

    def import_session(self, data: SessionExport | dict[str, Any], *, replace: bool = False) -> int:
        exp = data if isinstance(data, SessionExport) else SessionExport.from_dict(data)
        if self.count(exp.tenant, exp.session):
            if not replace:
                raise SessionImportError(f"session {exp.tenant}/{exp.session} already exists; pass replace=True "
                                         "to overwrite it")
            self.delete(exp.tenant, exp.session)
        for t in exp.turns:
            self.append(exp.tenant, exp.session, t.user, t.assistant, t.meta, ts=t.ts)
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
                ts: float) -> Turn:
        raise NotImplementedError

    def _turns(self, tenant: str, session: str, last: int | None) -> list[Turn]:
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
