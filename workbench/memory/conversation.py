"""Conversation memory: the last N turns of a session, under a token cap, plus a running summary.

```python
memory = ConversationMemory.from_config(cfg.memory, tokenizer=generator.tokenize)
memory.append("acme", "s1", "what's the gold card annual fee?", "RMB 600")
view = memory.load("acme", "s1")          # MemoryView(turns=(...), summary=None, tokens=17, ...)
view.messages()                           # chat messages: summary (system) + turns
await memory.aappend(...); await memory.aload(...)      # async twins for the serving engine
```
The serving engine holds a session for the whole of a turn, so that a session's turns are answered and
stored one after the other, each seeing the one before, and names the caller as the session's owner::

    async with memory.hold("acme", "s1"):
        view = await memory.aload("acme", "s1", owner="u1")        # SessionNotFoundError: not u1's session
        ...                                                        # answer
        await memory.aappend("acme", "s1", question, answer, owner="u1")   # durable when it returns
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from workbench.config import MemoryConfig
from workbench.memory.records import ANY_OWNER, SessionExport, Turn
from workbench.memory.stores import SessionStore, make_session_store
from workbench.memory.summary import LocalModelSummarizer, Summarizer
from workbench.memory.tokens import token_counter

__all__ = ["ConversationMemory", "MemoryView"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryView:
    """What the model sees of a session: the turns in the window (oldest first), the summary, their size."""

    tenant: str
    session: str
    turns: tuple[Turn, ...]
    summary: str | None
    tokens: int
    """Tokens of the summary plus the turns shown (the generator's tokenizer when given)."""
    total_turns: int
    """Turns stored for the session (shown or not)."""

    @property
    def last(self) -> Turn | None:
        """The most recent turn, if any."""
        return self.turns[-1] if self.turns else None

    def messages(self) -> list[dict[str, str]]:
        """Chat messages: the summary as a system message, then user/assistant pairs."""
        out = [{"role": "system", "content": f"Conversation so far: {self.summary}"}] if self.summary else []
        for t in self.turns:
            out += [{"role": "user", "content": t.user}, {"role": "assistant", "content": t.assistant}]
        return out

    def as_text(self) -> str:
        """The history as plain ``User:`` / ``Assistant:`` lines (for base models)."""
        lines = [f"Summary: {self.summary}"] if self.summary else []
        for t in self.turns:
            lines += [f"User: {t.user}", f"Assistant: {t.assistant}"]
        return "\n".join(lines)


class ConversationMemory:
    """A window of the last ``window_turns`` turns under ``max_tokens``, over any :class:`SessionStore`.

    With ``summarize=True``, turns that fall out of the window are folded into a running summary on
    append (the write path pays, reads stay cheap). A failing summarizer is logged and skipped: it
    never fails the request.
    """

    def __init__(self, store: SessionStore, *, window_turns: int = 5, max_tokens: int = 1024,
                 tokenizer: Callable[[str], Any] | None = None, summarize: bool = False,
                 summarizer: Summarizer | None = None) -> None:
        if window_turns < 1 or max_tokens < 1:
            raise ValueError("window_turns and max_tokens must be >= 1")
        self.store, self.window_turns, self.max_tokens = store, window_turns, max_tokens
        self.count_tokens = token_counter(tokenizer)
        self.summarize = summarize
        self.summarizer: Summarizer | None = summarizer if summarizer is not None else \
            (LocalModelSummarizer() if summarize else None)
        self._held: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @classmethod
    def from_config(cls, cfg: MemoryConfig, *, tokenizer: Callable[[str], Any] | None = None,
                    store: SessionStore | None = None, summarizer: Summarizer | None = None) -> ConversationMemory:
        """Build from ``cfg.memory`` (the store from ``store``/``url``/``idle_ttl_s`` unless given)."""
        return cls(store if store is not None else make_session_store(cfg), window_turns=cfg.window_turns,
                   max_tokens=cfg.max_tokens, tokenizer=tokenizer, summarize=cfg.summarize, summarizer=summarizer)

    # -- one turn at a time per session -----------------------------------------------------------
    @asynccontextmanager
    async def hold(self, tenant: str, session: str) -> AsyncIterator[None]:
        """Hold ``session`` of ``tenant`` in this process: another ``hold`` of it waits until this one ends.

        The engine holds a session from loading its view to appending the turn, so concurrent requests of
        one session are answered in arrival order (asyncio's lock is fair), each sees the turns before it,
        and the stored order is the order of answering. The lock lives while someone holds or waits for it.
        """
        key = (tenant, session)
        lock, users = self._held.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._held[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._held[key]
            if users <= 1:
                del self._held[key]
            else:
                self._held[key] = (lock, users - 1)

    # -- read ------------------------------------------------------------------------------------
    def load(self, tenant: str, session: str, *, owner: str | None = ANY_OWNER) -> MemoryView:
        """The window of ``session``: at most ``window_turns`` recent turns whose tokens fit ``max_tokens``.

        :param owner: the caller (``None``: anonymous); :data:`~workbench.memory.records.ANY_OWNER` (default)
            reads any session.
        :raises SessionNotFoundError: the session belongs to another owner.
        """
        turns = self.store.turns(tenant, session, last=self.window_turns, owner=owner)
        total = turns[-1].seq if turns else 0
        summary = self.store.get_summary(tenant, session) if self.summarize and total > len(turns) else None
        budget = self.max_tokens
        used = 0
        if summary is not None:
            s_tokens = self.count_tokens(summary.text)
            if s_tokens <= budget // 2:           # the summary may take at most half the budget
                used = s_tokens
            else:
                summary = None
        kept: list[Turn] = []
        for t in reversed(turns):                 # newest first: the most recent turns matter most
            n = self.count_tokens(t.user) + self.count_tokens(t.assistant)
            if used + n > budget:
                break
            kept.append(t)
            used += n
        kept.reverse()
        return MemoryView(tenant, session, tuple(kept), summary.text if summary else None, used, total)

    async def aload(self, tenant: str, session: str, *, owner: str | None = ANY_OWNER) -> MemoryView:
        """Async :meth:`load` (a blocking store runs in a worker thread)."""
        if getattr(self.store, "blocking", True):
            return await asyncio.to_thread(self.load, tenant, session, owner=owner)
        return self.load(tenant, session, owner=owner)

    # -- write -----------------------------------------------------------------------------------
    def append(self, tenant: str, session: str, user_text: str, assistant_text: str,
               meta: dict[str, Any] | None = None, *, owner: str | None = None) -> Turn:
        """Store one turn (then fold turns that left the window into the summary, when enabled).

        The turn is durable when this returns, as far as the store is (see the stores).

        :param owner: the caller (``None``: anonymous); a new session belongs to it from now on.
        :raises SessionNotFoundError: the session belongs to another owner (nothing is stored).
        """
        turn = self.store.append(tenant, session, user_text, assistant_text, meta, owner=owner)
        if self.summarize and self.summarizer is not None and turn.seq > self.window_turns:
            self._update_summary(tenant, session, turn.seq - self.window_turns)
        return turn

    async def aappend(self, tenant: str, session: str, user_text: str, assistant_text: str,
                      meta: dict[str, Any] | None = None, *, owner: str | None = None) -> Turn:
        """Async :meth:`append`."""
        if getattr(self.store, "blocking", True) or self.summarize:
            return await asyncio.to_thread(self.append, tenant, session, user_text, assistant_text, meta,
                                           owner=owner)
        return self.append(tenant, session, user_text, assistant_text, meta, owner=owner)

    def _update_summary(self, tenant: str, session: str, upto: int) -> None:
        assert self.summarizer is not None
        prev = self.store.get_summary(tenant, session)
        start = prev.upto_seq if prev else 0
        if upto <= start:
            return
        older = [t for t in self.store.turns(tenant, session) if start < t.seq <= upto]
        try:
            text = self.summarizer(prev.text if prev else None, older)
        except Exception:  # the summary is an optimization: never fail the request for it
            log.exception("summarizer failed for %s/%s; keeping the previous summary", tenant, session)
            return
        self.store.set_summary(tenant, session, text, upto)

    # -- session management ----------------------------------------------------------------------
    def clear(self, tenant: str, session: str) -> bool:
        """Forget a session."""
        return self.store.delete(tenant, session)

    def export(self, tenant: str, session: str) -> dict[str, Any]:
        """The session as a JSON-compatible document."""
        return self.store.export(tenant, session).to_dict()

    def import_session(self, tenant: str, data: dict[str, Any], *, replace: bool = False) -> int:
        """Import an exported session into ``tenant``; refuses a document of another tenant."""
        from workbench.memory.errors import SessionImportError

        exp = SessionExport.from_dict(data)
        if exp.tenant != tenant:
            raise SessionImportError(f"the export belongs to tenant {exp.tenant!r}, not {tenant!r}")
        return self.store.import_session(exp, replace=replace)
