"""The request and response of one chat turn: the contract of the engine, the HTTP API and the load tester.

Field names follow the HTTP interface of DESIGN.md (keep them stable)::

    req = ChatRequest(question="金卡年费多少", tenant="default", user="u1", session="s1")
    resp: ChatResponse = await engine.handle(req)
    resp.answer, resp.cache_layer, resp.timings_ms["total"]
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ChatRequest", "ChatResponse", "ErrorBody", "SourceOut", "StreamEvent"]

#: Tenant, user and session ids: short, printable, no separators that could forge cache or store keys.
_ID = r"^[A-Za-z0-9_.@-]{1,128}$"


class ChatRequest(BaseModel):
    """One question from one user (``POST /v1/chat``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    question: str = Field(min_length=1, max_length=100_000)
    """The question; the engine applies the config's tighter ``limits.max_question_chars``."""
    tenant: str = Field("default", pattern=_ID)
    """Whose knowledge base, cache, memory and tools are used."""
    user: str | None = Field(None, pattern=_ID)
    """Who asks (A/B stickiness, personal data, audit)."""
    session: str | None = Field(None, pattern=_ID)
    """A conversation id: enables memory."""
    stream: bool = False
    """Stream tokens as server-sent events."""
    variant: str | None = Field(None, pattern=_ID)
    """Force an A/B variant."""
    personalized: bool | None = None
    """Force (True) or forbid (False) the personal-data tool path; ``None``: decided by the router."""

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("question is empty")
        return v


class SourceOut(BaseModel):
    """A passage the answer was drawn from."""

    id: str
    title: str
    text: str
    score: float


class ChatResponse(BaseModel):
    """The answer to one :class:`ChatRequest`."""

    answer: str
    sources: list[SourceOut] = Field(default_factory=list)
    cache_layer: Literal["exact", "semantic", "user"] | None = None
    """Which cache layer served it (``None``: a miss, answered by the pipeline)."""
    variant: str | None = None
    degradation_level: int = 0
    """0 = full service; higher levels drop work under load (see DegradationPolicy)."""
    degradation: str = "full"
    timings_ms: dict[str, float] = Field(default_factory=dict)
    """Per stage: queue, cache, memory, embed, retrieve_*, rerank, prompt, generate, ttft, total."""
    tokens: int = 0
    session: str | None = None
    memory_turns: int = 0
    tool: str | None = None
    """The tool that supplied personal data, if any."""
    simulated: bool = False
    """True when the generator was the simulated LLM service."""
    language: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class StreamEvent(BaseModel):
    """One server-sent event of a streamed answer: a token chunk, or the final response."""

    token: str | None = None
    response: ChatResponse | None = None


class ErrorBody(BaseModel):
    """``{"error": {"type": ..., "message": ...}}`` with a 4xx/5xx status."""

    error: dict[str, str]
