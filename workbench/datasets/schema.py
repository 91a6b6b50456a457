"""Records of the project's own datasets (see ``datasets/meridian_bank/AUTHORING.md``)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Conversation",
    "ConversationTurn",
    "KBDocument",
    "KBQuestion",
    "NearMissPair",
    "ParaphraseGroup",
    "PersonalizedQuestion",
]

_ID = r"^[a-z0-9][a-z0-9-]*$"
INTENT_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KBDocument(_Record):
    """One help-centre article."""

    id: str = Field(pattern=_ID)
    """Unique id, ``<part>-<topic>-<lang>``."""
    lang: Literal["en", "zh"]
    """Language of ``text``."""
    title: str = Field(min_length=1)
    """Article title."""
    category: str = Field(min_length=1)
    """Topic family (``cards``, ``accounts``, ``digital``...)."""
    topic: str = Field(pattern=_ID)
    """Language-independent topic id, shared by the English and Chinese versions."""
    text: str = Field(min_length=1)
    """Article body."""


class KBQuestion(_Record):
    """A customer question with its gold documents and short gold answers."""

    id: str = Field(pattern=_ID)
    """Unique id."""
    lang: Literal["en", "zh"]
    """Language of ``question``."""
    question: str = Field(min_length=1)
    """What the customer typed."""
    gold_doc_ids: tuple[str, ...] = Field(min_length=1)
    """Every document that answers it; the one in the question's language first."""
    answers: tuple[str, ...] = Field(min_length=1, max_length=5)
    """Short gold answers copied verbatim from the gold documents; ``answers[0]`` is in ``gold_doc_ids[0]``."""
    intent: str
    """Dotted language-independent intent id, shared by questions that ask the same thing."""
    cross_lingual: bool = False
    """True when no gold document is in the question's language."""


class ParaphraseGroup(_Record):
    """Several wordings of one intent (cache quality: these should hit the same cache entry)."""

    intent: str
    lang: Literal["en", "zh"]
    paraphrases: tuple[str, ...] = Field(min_length=4)


class NearMissPair(_Record):
    """Two look-alike questions with different intents (cache quality: these must not share an answer)."""

    id: str = Field(pattern=_ID)
    lang: Literal["en", "zh"]
    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    intent_a: str
    intent_b: str
    kind: Literal["antonym", "entity", "number", "negation", "scope"]


class ConversationTurn(_Record):
    """One turn of a multi-turn conversation; later turns are follow-ups that need the earlier ones."""

    question: str = Field(min_length=1)
    """What the customer typed in this turn (elliptical for follow-ups: "and the platinum one?")."""
    gold_doc_ids: tuple[str, ...] = Field(min_length=1)
    """Documents that answer the turn's (standalone) question."""
    answers: tuple[str, ...] = Field(min_length=1, max_length=5)
    """Short gold answers copied verbatim; ``answers[0]`` occurs in ``gold_doc_ids[0]``."""
    intent: str
    """Dotted intent id of the standalone question."""
    standalone: str | None = None
    """A reference rewrite of a follow-up into a standalone question (``None`` for the first turn)."""


class Conversation(_Record):
    """A multi-turn conversation (memory evaluation: answer accuracy on the later turns)."""

    id: str = Field(pattern=_ID)
    lang: Literal["en", "zh"]
    turns: tuple[ConversationTurn, ...] = Field(min_length=2)


class PersonalizedQuestion(_Record):
    """A question about the customer's own data: the tool and arguments it needs, and the expected result."""

    id: str = Field(pattern=_ID)
    lang: Literal["en", "zh"]
    tenant: str = Field(min_length=1)
    user: str = Field(min_length=1)
    """The fake customer asking (a user id of the seeded fixture, ``workbench.tools.bank_fixture``)."""
    question: str = Field(min_length=1)
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    """Model-facing arguments (``user``/``tenant`` come from the request context, never from here)."""
    expected: dict[str, Any] = Field(min_length=1)
    """Fields the tool's output must contain, with these values (checked against the fixture)."""
    answers: tuple[str, ...] = Field(min_length=1, max_length=5)
    """Short strings the final answer must contain (rendered by the tool's answer template)."""
    intent: str
