"""The request and response of one chat turn: the contract of the engine, the HTTP API and the load tester.

Field names follow the HTTP interface of DESIGN.md (keep them stable)::

    req = ChatRequest(question="金卡年费多少", tenant="default", user="u1", session="s1")
    resp: ChatResponse = await engine.handle(req)
    resp.answer, resp.cache_layer, resp.timings_ms["total"]

Requests are validated strictly: a boolean is ``true``/``false`` (never ``"false"``, ``0`` or ``"yes"``), a
string is a string, unknown fields of ``POST /v1/chat`` are refused, and a question must contain at least one
visible character (not only whitespace, control or zero-width characters) and no control characters or
unpaired surrogates. The OpenAI-compatible :class:`ChatCompletionRequest` ignores OpenAI fields it does not use.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ErrorBody",
    "ErrorDetail",
    "SourceOut",
    "StreamEvent",
    "check_question",
]

#: Tenant, user and session ids: short, printable, no separators that could forge cache or store keys.
_ID = r"^[A-Za-z0-9_.@-]{1,128}$"
#: Longest question the schema accepts; the engine applies the config's tighter ``limits.max_question_chars``.
_MAX_QUESTION = 100_000
#: Unicode categories that show nothing: controls, format (zero-width) characters, separators, unassigned.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Cn"})
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def check_question(text: str) -> str:
    """``text`` unchanged when it is a question a person could have typed; else ``ValueError``.

    Refused: text with no visible character (only whitespace, NUL, zero-width or other format characters),
    C0/C1 control characters other than tab and line breaks, and unpaired surrogates (not encodable text).

    >>> check_question("金卡年费多少")
    '金卡年费多少'

    :param text: the question.
    :returns: ``text``.
    :raises ValueError: naming what is wrong with it.
    """
    visible = False
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cs":
            raise ValueError("question contains an unpaired surrogate (not valid Unicode text)")
        if cat == "Cc" and ch not in _ALLOWED_CONTROLS:
            raise ValueError(f"question contains the control character U+{ord(ch):04X}")
        if not visible and cat not in _INVISIBLE and not ch.isspace():
            visible = True
    if not visible:
        raise ValueError("question is empty (only whitespace, control or zero-width characters)")
    return text


Question = Annotated[str, Field(min_length=1, max_length=_MAX_QUESTION), AfterValidator(check_question)]
Identifier = Annotated[str, Field(pattern=_ID)]


class ChatRequest(BaseModel):
    """One question from one user (``POST /v1/chat``)."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)

    question: Question
    """The question; the engine applies the config's tighter ``limits.max_question_chars``."""
    tenant: Identifier = "default"
    """Whose knowledge base, cache, memory and tools are used."""
    user: Identifier | None = None
    """Who asks (A/B stickiness, personal data, audit)."""
    session: Identifier | None = None
    """A conversation id: enables memory."""
    stream: bool = False
    """Stream tokens as server-sent events."""
    variant: Identifier | None = None
    """Force an A/B variant."""
    personalized: bool | None = None
    """Force (True) or forbid (False) the personal-data tool path; ``None``: decided by the router."""


class ChatMessage(BaseModel):
    """One message of an OpenAI-style conversation (other OpenAI message fields are ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool"] = "user"
    content: str = Field(max_length=_MAX_QUESTION)


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``: OpenAI's request; the last user message is the question.

    Sampling fields (``temperature``, ``max_tokens``, ...) are accepted and validated but the pipeline's
    config decides generation; OpenAI fields not listed here are ignored. The workbench's own fields
    (``tenant``, ``session``, ``variant``, ``personalized``) may be added to the body.
    """

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str | None = Field(None, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    stop: str | list[str] | None = None
    user: Identifier | None = None
    tenant: Identifier = "default"
    session: Identifier | None = None
    variant: Identifier | None = None
    personalized: bool | None = None

    @model_validator(mode="after")
    def _has_a_question(self) -> ChatCompletionRequest:
        users = [m.content for m in self.messages if m.role == "user"]
        if not users:
            raise ValueError("'messages' has no user message")
        if not users[-1]:
            raise ValueError("the last user message is empty")
        check_question(users[-1])
        return self

    def to_chat_request(self) -> ChatRequest:
        """The :class:`ChatRequest` this asks: the last user message, with the workbench fields."""
        question = next(m.content for m in reversed(self.messages) if m.role == "user")
        return ChatRequest(question=question, tenant=self.tenant, user=self.user, session=self.session,
                           stream=self.stream, variant=self.variant, personalized=self.personalized)


class SourceOut(BaseModel):
    """A passage the answer was drawn from."""

    id: str
    title: str
    text: str
    score: float


class ChatResponse(BaseModel):
    """The answer to one :class:`ChatRequest`."""

    answer: str
    abstained: bool = False
    """True when the knowledge base has no answer: ``answer`` says so in the question's language ("I couldn't
    find that in the knowledge base" / "资料中没有找到相关内容") and ``sources`` is empty."""
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


class ErrorDetail(BaseModel):
    """What went wrong: a machine-readable ``type`` and a message for people."""

    type: str
    message: str


class ErrorBody(BaseModel):
    """``{"error": {"type": ..., "message": ...}}`` with a 4xx/5xx status."""

    error: ErrorDetail
