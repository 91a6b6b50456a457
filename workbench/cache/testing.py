"""Test doubles for the cache: a manual clock and a fast deterministic embedder (no model needed).

```python
clock = FakeClock()
stack = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder(), clock=clock)
clock.advance(301)      # every 300 s entry has now expired
```
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["FakeClock", "HashingEmbedder"]


class FakeClock:
    """A clock that moves only when told to (seconds, like ``time.monotonic``)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


class HashingEmbedder:
    """Character-trigram hashing into ``dim`` buckets, L2-normalised: similar strings get similar vectors."""

    name = "hashing"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.calls = 0

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        padded = f"  {text}  "
        for i in range(len(padded) - 2):
            h = int.from_bytes(hashlib.blake2b(padded[i:i + 3].encode(), digest_size=4).digest(), "little")
            vec[h % self.dim] += 1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text."""
        self.calls += 1
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    embed_passages = embed_queries
