"""The engine's collaborators as protocols: exactly what the request path calls on each.

``CacheStack`` (``workbench.cache``) is an :class:`AnswerCache`, ``workbench.memory.ConversationMemory`` a
:class:`ConversationMemory`, ``ToolCallingAgent`` (``workbench.tools``) a :class:`ToolAgent`; generators
are :class:`~workbench.components.generators.protocol.Generator` s, called by the query pipeline only.
A fake needs no inheritance::

    class NoMemory:
        def hold(self, tenant, session): return contextlib.nullcontext()   # an async context manager too
        async def aload(self, tenant, session, *, owner=None): return EmptyView()
        async def aappend(self, tenant, session, user_text, assistant_text, meta=None, *, owner=None): ...
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from workbench.components.generators.protocol import Generator

__all__ = ["AnswerCache", "CachedAnswer", "ConversationMemory", "ConversationView", "Generator", "ToolAgent",
           "ToolAnswer"]


class CachedAnswer(Protocol):
    """A cache hit: the stored response and the layer that served it."""

    @property
    def payload(self) -> dict[str, Any]:
        """The stored response fields (``answer``, ``sources``, ``tokens``, ...)."""
        ...

    @property
    def layer(self) -> str:
        """``"exact"``, ``"semantic"``, ``"user"``..."""
        ...


@runtime_checkable
class AnswerCache(Protocol):
    """Answers by (tenant, question), shared or per user; looked up before admission, stored after."""

    async def alookup(self, tenant: str, question: str, *, user: str | None = None,
                      personalized: bool = False) -> CachedAnswer | None:
        """The cached answer, or ``None`` (also when a backend is down)."""
        ...

    async def astore(self, tenant: str, question: str, payload: dict[str, Any], *, user: str | None = None,
                     personalized: bool = False) -> None:
        """Store an answer (per user when ``personalized``)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...

    def stats(self) -> dict[str, Any]:
        """Hit rates and latencies per layer."""
        ...


class ConversationView(Protocol):
    """A session's recent turns as the generator sees them."""

    @property
    def turns(self) -> Any:
        """The recent turns (a sized sequence)."""
        ...

    @property
    def summary(self) -> str | None:
        """The running summary of older turns, if any."""
        ...

    def messages(self) -> list[dict[str, str]]:
        """The turns (and summary) as chat messages."""
        ...


@runtime_checkable
class ConversationMemory(Protocol):
    """Per-session memory: a session belongs to one user of one tenant; its turns are answered one at a time
    (the engine holds the session from loading its view to appending the turn, then acknowledges it)."""

    def hold(self, tenant: str, session: str) -> AbstractAsyncContextManager[Any]:
        """Hold the session: a concurrent ``hold`` of it waits until this one ends (arrival order)."""
        ...

    async def aload(self, tenant: str, session: str, *, owner: str | None) -> ConversationView:
        """The session's view (empty for a new session); ``owner``: the caller (``None``: anonymous).
        Raises ``SessionNotFoundError`` (HTTP 404) for a session of another owner."""
        ...

    async def aappend(self, tenant: str, session: str, user_text: str, assistant_text: str,
                      meta: dict[str, Any] | None = None, *, owner: str | None) -> Any:
        """Record one turn; durable when this returns (a new session belongs to ``owner`` from now on).
        Raises ``SessionNotFoundError`` for a session of another owner (nothing is stored)."""
        ...


class ToolAnswer(Protocol):
    """What a tool call answered."""

    @property
    def tool(self) -> str:
        """The tool's name."""
        ...

    @property
    def answer(self) -> str:
        """The user-facing answer (or a polite failure notice)."""
        ...

    @property
    def ok(self) -> bool:
        """True when the tool returned a result (``answer`` is not a failure notice)."""
        ...


@runtime_checkable
class ToolAgent(Protocol):
    """Answers personal questions from user data through tools."""

    async def amaybe_call(self, tenant: str, user: str, question: str) -> ToolAnswer | None:
        """The tool's answer, or ``None`` when the question needs no tool."""
        ...
