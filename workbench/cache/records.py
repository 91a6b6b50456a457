"""What the cache stores and what a lookup returns.

The persisted records are pydantic models, so each backend holds the same bytes and a record that does
not validate is a miss, never a crash:

- :class:`CacheEntry`, one stored response, as one compact JSON envelope (short keys ``p q i e n``);
- :class:`SemanticLogRecord`, one record of the semantic layer's replication log (a Redis stream).

A lookup returns a :class:`CacheHit` (not persisted)::

    blob = encode_entry(CacheEntry(payload={"answer": "RMB 300"}, question="gold card fee?",
                                   intent="cards.fee.gold", expires_at=1300.0))
    decode_entry(blob).payload["answer"]        # 'RMB 300'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError

from workbench.errors import InputError

__all__ = ["CacheEntry", "CacheHit", "Layer", "SemanticLogRecord", "cited_documents", "decode_entry", "encode_entry"]

#: The layers that can serve a response.
Layer = Literal["exact", "semantic", "user"]

_RECORD = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True,
                     use_attribute_docstrings=True, extra="ignore")


class CacheEntry(BaseModel):
    """One stored response (every layer stores this envelope)."""

    model_config = _RECORD

    payload: dict[str, Any] = Field(alias="p")
    """The response dict exactly as the caller stored it."""
    question: str = Field(alias="q")
    """The question as the caller asked it (kept for refresh and inspection)."""
    intent: str | None = Field(alias="i")
    """Ground-truth intent when the caller knew it (evaluation: a hit with another intent is wrong)."""
    expires_at: float = Field(alias="e")
    """Absolute expiry on the cache's clock (backends also expire the key on their own)."""
    normalized: str = Field("", alias="n")
    """The text the key was derived from (the normalized question; for a per-user entry, user and name):
    a read checks it, so a hash collision or a foreign key is a miss."""


class SemanticLogRecord(BaseModel):
    """One store of the semantic layer, as appended to the shared replication log (one Redis stream).

    Other workers read it into their local nearest-neighbour index; the payload itself stays under
    :attr:`key` in the backend.
    """

    model_config = _RECORD

    namespace: str = Field(alias="ns")
    """The namespace tag (``{kb}:{ns}``) the entry belongs to."""
    key: str = Field(alias="k")
    """The backend key of the payload."""
    normalized: str = Field(alias="n")
    """The normalized question (what the verifier compares)."""
    intent: str | None = Field(None, alias="i")
    """The stored intent (``None``: unknown)."""
    expires_at: float = Field(alias="e")
    """Absolute expiry on the cache's clock."""
    vector: bytes = Field(alias="v")
    """The float32 embedding, raw bytes."""
    origin: str = Field(alias="o")
    """The id of the worker that wrote it (a worker skips its own records)."""

    def to_fields(self) -> dict[str, bytes | str]:
        """The stream fields (``XADD``): strings, the vector as bytes, no intent as ``""``."""
        return {"ns": self.namespace, "k": self.key, "n": self.normalized, "i": self.intent or "",
                "e": repr(self.expires_at), "v": self.vector, "o": self.origin}

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> SemanticLogRecord | None:
        """The record in a stream entry's fields, or ``None`` if they are not one (skipped)."""
        try:
            text = {k.decode(): v.decode() for k, v in fields.items() if k != b"v"}
            return cls(namespace=text["ns"], key=text["k"], normalized=text["n"], intent=text.get("i") or None,
                       expires_at=float(text["e"]), vector=fields[b"v"], origin=text["o"])
        except (KeyError, ValueError, UnicodeDecodeError, AttributeError):
            return None

    def embedding(self) -> np.ndarray:
        """The vector as a writable float32 array."""
        return np.frombuffer(self.vector, dtype=np.float32).copy()


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A response served from cache."""

    payload: dict[str, Any]
    """The stored response dict (a fresh copy: mutating it does not change the cache)."""
    layer: Layer
    """Which layer served it."""
    similarity: float
    """1.0 for exact and per-user hits; the cosine similarity for semantic hits."""
    latency_ms: float
    """The whole lookup, embedding included."""
    intent: str | None = None
    """The intent stored with the entry (``None`` when unknown)."""
    matched_question: str = ""
    """The normalized question of the entry that served the request."""


def cited_documents(payload: dict[str, Any]) -> tuple[str, ...]:
    """The document ids a stored answer cites: the ``id`` of each of its ``sources`` (the pipeline's answer
    payload, ``RAGAnswer.to_dict()``), in order, without repeats; none when it has no sources.

    ```python
    cited_documents({"answer": "RMB 600", "sources": [{"id": "cards-gold-en"}, {"id": "cards-gold-zh"}]})
    # ('cards-gold-en', 'cards-gold-zh')
    ```
    """
    sources = payload.get("sources")
    if not isinstance(sources, list):
        return ()
    ids = (s.get("id") for s in sources if isinstance(s, dict))
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i))


def encode_entry(entry: CacheEntry) -> bytes:
    """The JSON envelope of ``entry``.

    :raises InputError: the payload is not JSON-serializable.
    """
    try:
        return entry.__pydantic_serializer__.to_json(entry, by_alias=True)
    except PydanticSerializationError as exc:
        raise InputError(f"cache payload must be JSON-serializable (use RAGAnswer.to_dict()): {exc}") from None


def decode_entry(blob: bytes | str) -> CacheEntry | None:
    """The entry in ``blob``, or ``None`` if it is not a valid envelope (treated as a miss)."""
    try:
        return CacheEntry.model_validate_json(blob)
    except ValidationError:
        return None
