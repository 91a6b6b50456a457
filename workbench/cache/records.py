"""What the cache stores and what a lookup returns.

An entry is stored as one JSON envelope (the payload, the intent it answers, the question, when it
expires by the cache's clock), so every backend holds the same bytes and byte bounds are exact::

    blob = encode_entry(CacheEntry(payload={"answer": "RMB 300"}, question="gold card fee?",
                                   intent="cards.fee.gold", expires_at=1300.0))
    decode_entry(blob).payload["answer"]        # 'RMB 300'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from workbench.errors import InputError

__all__ = ["CacheEntry", "CacheHit", "Layer", "decode_entry", "encode_entry"]

#: The layers that can serve a response.
Layer = Literal["exact", "semantic", "user"]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One stored response."""

    payload: dict[str, Any]
    """The response dict exactly as the caller stored it."""
    question: str
    """The question as the caller asked it (kept for refresh and inspection)."""
    intent: str | None
    """Ground-truth intent when the caller knew it (evaluation: a hit with another intent is wrong)."""
    expires_at: float
    """Absolute expiry on the cache's clock (backends also expire the key on their own)."""
    normalized: str = ""
    """The normalized question the key was derived from."""


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A response served from cache.

    ``layer`` says which layer served it; ``similarity`` is 1.0 for exact and per-user hits and the
    cosine similarity for semantic hits; ``latency_ms`` is the whole lookup, embedding included.
    """

    payload: dict[str, Any]
    """The stored response dict (a fresh copy: mutating it does not change the cache)."""
    layer: Layer
    similarity: float
    latency_ms: float
    intent: str | None = None
    """The intent stored with the entry (``None`` when unknown)."""
    matched_question: str = ""
    """The normalized question of the entry that served the request."""


def encode_entry(entry: CacheEntry) -> bytes:
    """The JSON envelope of ``entry``; raises :class:`InputError` if the payload is not JSON-serializable."""
    try:
        text = json.dumps(
            {"p": entry.payload, "q": entry.question, "i": entry.intent, "e": entry.expires_at, "n": entry.normalized},
            ensure_ascii=False,
            separators=(",", ":"),
        )
    except (TypeError, ValueError) as exc:
        raise InputError(f"cache payload must be JSON-serializable (use RAGAnswer.to_dict()): {exc}") from None
    return text.encode("utf-8")


def decode_entry(blob: bytes | str) -> CacheEntry | None:
    """The entry in ``blob``, or ``None`` if it is not a valid envelope (treated as a miss)."""
    try:
        d = json.loads(blob)
        return CacheEntry(payload=d["p"], question=d["q"], intent=d["i"], expires_at=float(d["e"]), normalized=d["n"])
    except (ValueError, KeyError, TypeError):
        return None
