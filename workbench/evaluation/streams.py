"""Seeded request streams over the dataset's intents: which texts each intent has, and a Zipf sampler.

The load-test workloads and the cache-quality evaluation draw their traffic from the same law: the
intent of rank r has weight 1/r^s, and a text of the intent is drawn uniformly::

    texts = intent_texts(load_dataset("meridian_bank"))
    stream = ZipfSampler(texts, s=1.1, seed=7).sample(5000)     # [StreamRequest(index, text, intent), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workbench.datasets import BankDataset, load_dataset
from workbench.errors import ConfigError, DatasetError

__all__ = ["StreamRequest", "ZipfSampler", "intent_texts"]


def intent_texts(dataset: BankDataset | str = "meridian_bank", *,
                 include_near_misses: bool = True) -> dict[str, list[str]]:
    """intent → its distinct texts: questions, paraphrases and (optionally) near-miss texts, in file order."""
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    out: dict[str, list[str]] = {}

    def add(intent: str, text: str) -> None:
        texts = out.setdefault(intent, [])
        if text not in texts:
            texts.append(text)

    for q in ds.questions:
        add(q.intent, q.question)
    for g in ds.paraphrases:
        for p in g.paraphrases:
            add(g.intent, p)
    if include_near_misses:
        for nm in ds.near_misses:
            add(nm.intent_a, nm.a)
            add(nm.intent_b, nm.b)
    return out


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """One request of a workload: the text a customer typed and the intent it really has."""

    index: int
    text: str
    intent: str


class ZipfSampler:
    """Requests whose intents follow a Zipf law (rank r has weight 1/r^s); a text of the intent is drawn uniformly.

    Ranks are a seeded permutation of the intents, so the popular intents differ between seeds.

    ```python
    ZipfSampler({"a": ["x", "y"], "b": ["z"]}, s=1.0, seed=1).sample(3)
    ```
    """

    def __init__(self, texts_by_intent: dict[str, Sequence[str]], *, s: float = 1.1, seed: int = 0) -> None:
        if not texts_by_intent or any(not v for v in texts_by_intent.values()):
            raise DatasetError("every intent needs at least one text")
        if s <= 0:
            raise ConfigError(f"the Zipf exponent must be > 0, got {s}", field="s")
        self.s = s
        self.seed = seed
        rng = np.random.default_rng(seed)
        names = sorted(texts_by_intent)
        order = rng.permutation(len(names))
        self.intents = [names[i] for i in order]
        self.texts = [list(texts_by_intent[name]) for name in self.intents]
        weights = 1.0 / np.arange(1, len(names) + 1, dtype=np.float64) ** s
        self.probabilities = weights / weights.sum()

    def sample(self, n: int) -> list[StreamRequest]:
        """``n`` requests (the same for the same seed)."""
        rng = np.random.default_rng([self.seed, n])
        ranks = rng.choice(len(self.intents), size=n, p=self.probabilities)
        picks = rng.random(n)
        out = []
        for i, (r, u) in enumerate(zip(ranks, picks, strict=True)):
            texts = self.texts[int(r)]
            out.append(StreamRequest(i, texts[min(int(u * len(texts)), len(texts) - 1)], self.intents[int(r)]))
        return out
