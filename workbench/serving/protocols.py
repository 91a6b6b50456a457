"""The engine's collaborators as protocols: exactly what the request path calls on each.

``CacheStack`` (``workbench.cache``) is an :class:`AnswerCache`, ``workbench.memory.ConversationMemory`` a
:class:`ConversationMemory`, ``ToolCallingAgent`` (``workbench.tools``) a :class:`ToolAgent`; generators
are :class:`~workbench.components.generators.protocol.Generator` s, called by the query pipeline only.
A fake needs no inheritance::

    class NoMemory:
        async def aload(self, tenant, session): return EmptyView()
        async def aappend(self, tenant, session, user_text, assistant_text): ...
"""

from __future__ import annotations

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

    def messages(self) -> list[dict[str, str]]:
        """The turns (and summary) as chat messages."""
        ...


@runtime_checkable
class ConversationMemory(Protocol):
    """Per-session memory: loaded before the pipeline, a turn appended after the answer."""

    async def aload(self, tenant: str, session: str) -> ConversationView:
        """The session's view (empty for a new session)."""
        ...

    async def aappend(self, tenant: str, session: str, user_text: str, assistant_text: str) -> Any:
        """Record one turn (durable when this returns)."""
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


@runtime_checkable
class ToolAgent(Protocol):
    """Answers personal questions from user data through tools."""

    async def amaybe_call(self, tenant: str, user: str, question: str) -> ToolAnswer | None:
        """The tool's answer, or ``None`` when the question needs no tool."""
        ...
