"""Sessions in a dict guarded by a lock: fast, per process, lost on restart (tests and notebooks).

```python
store = InProcessSessionStore(idle_ttl_s=600)
store.append("acme", "s1", "hi", "hello")
```
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.memory.records import ANY_OWNER, Summary, Turn, check_owner
from workbench.memory.stores.base import BaseSessionStore

__all__ = ["InProcessSessionStore"]


@dataclass
class _Session:
    turns: list[Turn] = field(default_factory=list)
    summary: Summary | None = None
    updated_at: float = 0.0
    owner: str = ""


class InProcessSessionStore(BaseSessionStore):
    """A :class:`~workbench.memory.stores.base.SessionStore` in this process's memory (not durable)."""

    blocking = False

    def __init__(self, *, idle_ttl_s: float = 86_400.0) -> None:
        super().__init__(idle_ttl_s=idle_ttl_s)
        self._data: dict[tuple[str, str], _Session] = {}
        self._lock = threading.Lock()

    def _live(self, key: tuple[str, str]) -> _Session | None:
        s = self._data.get(key)
        if s is not None and self._expired(s.updated_at):
            del self._data[key]
            return None
        return s

    def _append(self, tenant: str, session: str, user: str, assistant: str, meta: dict[str, Any],
                ts: float, owner: str) -> Turn:
        with self._lock:
            s = self._live((tenant, session))
            if s is None:
                s = self._data[(tenant, session)] = _Session(owner="" if owner == ANY_OWNER else owner)
            else:
                check_owner(s.owner, owner, session)
            turn = Turn(len(s.turns) + 1, user, assistant, ts, meta)
            s.turns.append(turn)
            s.updated_at = max(s.updated_at, ts)
            return turn

    def _turns(self, tenant: str, session: str, last: int | None, owner: str) -> list[Turn]:
        with self._lock:
            s = self._live((tenant, session))
            if s is None:
                return []
            check_owner(s.owner, owner, session)
            return list(s.turns if last is None else s.turns[-last:])

    def _owner(self, tenant: str, session: str) -> str | None:
        with self._lock:
            s = self._live((tenant, session))
            return None if s is None else s.owner

    def _count(self, tenant: str, session: str) -> int:
        with self._lock:
            s = self._live((tenant, session))
            return 0 if s is None else len(s.turns)

    def _get_summary(self, tenant: str, session: str) -> Summary | None:
        with self._lock:
            s = self._live((tenant, session))
            return None if s is None else s.summary

    def _set_summary(self, tenant: str, session: str, text: str, upto_seq: int) -> bool:
        with self._lock:
            s = self._live((tenant, session))
            if s is None or (s.summary is not None and s.summary.upto_seq >= upto_seq):
                return False
            s.summary = Summary(text, upto_seq)
            return True

    def _delete(self, tenant: str, session: str) -> bool:
        with self._lock:
            return self._data.pop((tenant, session), None) is not None

    def _sessions(self, tenant: str) -> Sequence[str]:
        with self._lock:
            return [k[1] for k in list(self._data) if k[0] == tenant and self._live(k) is not None]

    def _expire_idle(self, now: float) -> int:
        with self._lock:
            dead = [k for k, s in self._data.items() if self._expired(s.updated_at, now)]
            for k in dead:
                del self._data[k]
            return len(dead)
