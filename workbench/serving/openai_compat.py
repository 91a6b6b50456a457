"""What both OpenAI-compatible servers (``workbench serve`` and ``workbench serve-llm``) share to be accepted
by real clients (the official ``openai`` SDK, benchmark tools): message content as text parts, a token
count for ``usage`` when no model tokenizer is at hand, and the OpenAI request body normalised.

```python
message_text([{"type": "text", "text": "gold card"}, {"type": "text", "text": "annual fee?"}])
normalize_chat_body({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                     "max_completion_tokens": 5})
```
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from workbench.serving.schema import ChatRequest

__all__ = ["OWNED_BY", "CompletionRequest", "count_tokens", "message_text", "normalize_chat_body", "token_pieces",
           "truncate_tokens"]

#: ``owned_by`` of the models both servers list.
OWNED_BY = "workbench"
#: A word with its trailing space, or a run of space (the simulated LLM streams in these pieces).
_WORD = re.compile(r"\S+\s*|\s+")


def message_text(content: Any) -> str | None:
    """The text of an OpenAI message ``content``: a string, or a list of parts whose ``text`` parts are
    joined with newlines; ``None`` when it is neither or holds a part that is not text (an image...).

    ```python
    message_text([{"type": "text", "text": "gold card"}, {"type": "text", "text": "fee?"}])   # 'gold card\\nfee?'
    ```
    """
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        return None
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            return None
        texts.append(part["text"])
    return "\n".join(texts)


def token_pieces(text: str) -> list[str]:
    """``text`` as the pieces it streams in: words with their trailing space, or characters without spaces."""
    return _WORD.findall(text) if " " in text else list(text)


def count_tokens(text: str) -> int:
    """Tokens of ``text`` where no model tokenizer is at hand: words with their trailing space, or
    characters for text without spaces (Chinese): the pieces a simulated or extractive answer streams in."""
    return len(token_pieces(text)) if text else 0


def truncate_tokens(text: str, max_tokens: int) -> tuple[str, bool]:
    """``text`` cut to its first ``max_tokens`` tokens (:func:`count_tokens`), and whether it was cut."""
    pieces = token_pieces(text)
    if len(pieces) <= max_tokens:
        return text, False
    return "".join(pieces[:max_tokens]).rstrip(), True


def normalize_chat_body(body: Any) -> Any:
    """An OpenAI chat body with list-of-parts contents joined to strings and ``max_completion_tokens``
    copied to ``max_tokens`` (when that is absent); anything that is not such a body is returned as is
    (validation then reports it). A content with a non-text part is left as it is, to be refused.
    """
    if not isinstance(body, dict):
        return body
    msgs = body.get("messages")
    if isinstance(msgs, list):
        out = []
        for m in msgs:
            if isinstance(m, dict) and isinstance(m.get("content"), list):
                text = message_text(m["content"])
                m = {**m, "content": text} if text is not None else m
            out.append(m)
        body = {**body, "messages": out}
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is not None:
        body = {**body, "max_tokens": body["max_completion_tokens"]}
    return body


class CompletionRequest(BaseModel):
    """``POST /v1/completions`` on ``workbench serve``: OpenAI's legacy completion; the prompt is the question.

    ``prompt`` is a string or a list of one string; the workbench's own fields (``tenant``, ``session``,
    ``variant``, ``personalized``) may be added; other OpenAI fields are ignored.
    """

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str | None = Field(None, max_length=256)
    prompt: str | list[str]
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    user: str | None = None
    tenant: str = "default"
    session: str | None = None
    variant: str | None = None
    personalized: bool | None = None
    _chat: ChatRequest = PrivateAttr()

    @model_validator(mode="after")
    def _one_question(self) -> CompletionRequest:
        prompts = [self.prompt] if isinstance(self.prompt, str) else self.prompt
        if len(prompts) != 1:
            raise ValueError("'prompt' must be one string (or a list of one): one question per request")
        self._chat = ChatRequest(question=prompts[0], tenant=self.tenant, user=self.user, session=self.session,
                                 stream=self.stream, variant=self.variant, personalized=self.personalized)
        return self

    def to_chat_request(self) -> ChatRequest:
        """The :class:`ChatRequest` this asks."""
        return self._chat
