"""The records conversation memory keeps: a :class:`Turn`, a session's :class:`Summary`, its export.

```python
turn = Turn(seq=1, user="gold card annual fee?", assistant="RMB 600", ts=time.time())
check_id("tenant", "acme")          # raises SessionIdError for '', 'a:b', 'x' * 200 ...
owner_key("u1"), owner_key(None)    # 'u1', '' (anonymous): how a session's owner is stored
```
A session belongs to one user of one tenant, the user who started it (anonymous callers share the
anonymous owner ``""``). Reads and appends that name an owner are refused for anyone else's session;
:data:`ANY_OWNER` (the default) is the unchecked access of operators, exports and tests.
Timestamps are wall-clock seconds (``time.time()``): they are persisted and compared across processes
and restarts, which a monotonic clock cannot do. Latencies elsewhere use ``time.perf_counter_ns``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from workbench.memory.errors import SessionIdError, SessionImportError

__all__ = ["ANY_OWNER", "EXPORT_FORMAT", "SessionExport", "Summary", "Turn", "check_id", "check_owner", "owner_key"]

#: Version tag of :meth:`SessionExport.to_dict` documents.
EXPORT_FORMAT = "workbench.session/1"
_ID_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
#: Pass as ``owner`` to read or write a session without the ownership check (operators, exports, tests).
#: It is not a valid user id (``*`` is not allowed in ids), so no user can be it.
ANY_OWNER = "*"


def check_id(kind: str, value: Any) -> str:
    """``value`` when it is a usable tenant/session id: 1-128 of ``[A-Za-z0-9_.@-]`` (no ``:``, no spaces)."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise SessionIdError(f"{kind} id {value!r} is invalid: use 1-128 characters from A-Z a-z 0-9 _ . @ -")
    return value


def owner_key(user: str | None) -> str:
    """How the caller ``user`` is stored and compared as a session owner: the user id, ``""`` for an
    anonymous caller (``None``), :data:`ANY_OWNER` unchanged.

    :raises SessionIdError: ``user`` is not a valid id.
    """
    if user is None:
        return ""
    return user if user == ANY_OWNER else check_id("user", user)


def check_owner(stored: str, owner: str, session: str) -> None:
    """Refuse a caller who is not the session's owner.

    :param stored: the owner stored with the session (``""``: anonymous).
    :param owner: the caller as an :func:`owner_key` (:data:`ANY_OWNER` always passes).
    :param session: the session id (named in the error).
    :raises SessionNotFoundError: the caller is not the owner; the message is the same whoever owns it.
    """
    if owner != ANY_OWNER and stored != owner:
        from workbench.memory.errors import SessionNotFoundError

        raise SessionNotFoundError(f"session {session!r} not found for this user; start a new conversation "
                                   "with a new session id")


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation: what the user asked and what the assistant answered."""

    seq: int
    """Position in the session, 1-based, assigned by the store (gap-free, in append order)."""
    user: str
    assistant: str
    ts: float
    """Wall-clock time of the append (seconds since the epoch)."""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict."""
        return {"seq": self.seq, "user": self.user, "assistant": self.assistant, "ts": self.ts, "meta": dict(self.meta)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Turn:
        """Inverse of :meth:`to_dict`."""
        return cls(seq=int(d["seq"]), user=str(d["user"]), assistant=str(d["assistant"]), ts=float(d["ts"]),
                   meta=dict(d.get("meta") or {}))


@dataclass(frozen=True)
class Summary:
    """The running summary of a session's older turns."""

    text: str
    upto_seq: int
    """The summary covers turns 1..upto_seq."""


@dataclass(frozen=True)
class SessionExport:
    """A whole session, portable between stores: ``store.import_session(store2.export(t, s))``."""

    tenant: str
    session: str
    turns: tuple[Turn, ...]
    summary: Summary | None = None
    owner: str = ""
    """The user the session belongs to (``""``: anonymous)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible document tagged with :data:`EXPORT_FORMAT`."""
        return {
            "format": EXPORT_FORMAT, "tenant": self.tenant, "session": self.session, "owner": self.owner,
            "turns": [t.to_dict() for t in self.turns],
            "summary": None if self.summary is None else {"text": self.summary.text, "upto_seq": self.summary.upto_seq},
        }

    @classmethod
    def from_dict(cls, d: Any) -> SessionExport:
        """Parse an exported document; raises :class:`SessionImportError` naming what is wrong."""
        if not isinstance(d, dict) or d.get("format") != EXPORT_FORMAT:
            raise SessionImportError(f"not a session export: expected a mapping with format {EXPORT_FORMAT!r}")
        try:
            turns = tuple(Turn.from_dict(t) for t in d["turns"])
            s = d.get("summary")
            summary = Summary(str(s["text"]), int(s["upto_seq"])) if s else None
            tenant, session = check_id("tenant", d["tenant"]), check_id("session", d["session"])
            owner = check_id("owner", d["owner"]) if d.get("owner") else ""
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionImportError(f"malformed session export: {exc!r}") from None
        if [t.seq for t in turns] != list(range(1, len(turns) + 1)):
            raise SessionImportError("malformed session export: turn seq must be 1..n in order")
        return cls(tenant, session, turns, summary, owner)
