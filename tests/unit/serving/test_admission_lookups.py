"""The admission line in front of a cache lookup's embedding: ``AdmissionQueue.for_lookups`` and ``gate``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np
import pytest

from workbench.config import ServingConfig
from workbench.errors import OverloadedError
from workbench.serving import AdmissionQueue, MicroBatcher
from workbench.serving.admission import LOOKUP_SHARE


def test_lookups_get_a_share_of_the_target_and_the_pipeline_bounds() -> None:
    s = ServingConfig(max_concurrency=6, max_queue=40, max_wait_ms=1500, latency_target_ms=800)
    q = AdmissionQueue.for_lookups(s)
    assert 0 < LOOKUP_SHARE < 1
    assert q.latency_target_ms == pytest.approx(LOOKUP_SHARE * 800)
    assert (q.max_concurrency, q.max_queue, q.max_wait_ms, q.slots) == (6, 40, 1500, 6)
    fixed = AdmissionQueue.for_lookups(ServingConfig(latency_target_ms=None))
    assert fixed.latency_target_ms is None


async def test_a_gated_call_runs_in_a_slot_and_keeps_its_signature() -> None:
    q = AdmissionQueue(max_concurrency=2, max_queue=4, max_wait_ms=1000, latency_target_ms=None)
    seen: list[int] = []

    async def embed(text: str, *, scale: float = 1.0) -> float:
        """Embed."""
        seen.append(q.in_flight)
        await asyncio.sleep(0)
        return len(text) * scale

    gated = q.gate(embed)
    assert gated.__name__ == "embed" and gated.__doc__ == "Embed."
    assert await gated("abcd", scale=0.5) == 2.0
    assert seen == [1] and q.in_flight == 0 and q.service.samples == 1


async def test_a_call_that_cannot_get_a_slot_is_shed_before_the_work_runs() -> None:
    q = AdmissionQueue(max_concurrency=1, max_queue=1, max_wait_ms=1000, latency_target_ms=None)
    release = asyncio.Event()
    calls: list[str] = []

    async def embed(text: str) -> str:
        calls.append(text)
        await release.wait()
        return text

    gated = q.gate(embed)
    first = asyncio.ensure_future(gated("a"))  # holds the one slot
    second = asyncio.ensure_future(gated("b"))  # waits in the line of one
    await asyncio.sleep(0.01)
    with pytest.raises(OverloadedError) as exc:
        await gated("c")  # the line is full: shed at once, "c" is never embedded
    assert exc.value.retry_after >= 1 and q.shed_full == 1
    release.set()
    assert await asyncio.gather(first, second) == ["a", "b"]
    assert calls == ["a", "b"]


async def test_gated_lookups_bound_the_embedding_queue_of_a_real_batcher() -> None:
    """A burst of lookups on one embedding thread (5 ms per text, batched): ungated, every text waits in the
    batcher's queue; gated, no more than the slots are ever in the batcher at once, the excess is shed before
    it is queued, and every text that was admitted is embedded."""
    in_batcher = 0
    most = 0

    def embed_batch(texts: Sequence[str]) -> np.ndarray:
        time.sleep(0.005 * len(texts))  # the embedding thread's work, proportional to the batch
        return np.ones((len(texts), 4), dtype=np.float32)

    batcher = MicroBatcher(embed_batch, max_batch=4, max_wait_ms=0.5)

    async def lookup_embed(text: str) -> np.ndarray:
        nonlocal in_batcher, most
        in_batcher += 1
        most = max(most, in_batcher)
        try:
            return await batcher.embed(text)
        finally:
            in_batcher -= 1

    q = AdmissionQueue(max_concurrency=4, max_queue=8, max_wait_ms=1000, latency_target_ms=100)
    gated = q.gate(lookup_embed)
    try:
        results = await asyncio.gather(*(gated(f"question {i}") for i in range(80)), return_exceptions=True)
    finally:
        batcher.close()
    shed = [r for r in results if isinstance(r, OverloadedError)]
    done = [r for r in results if isinstance(r, np.ndarray)]
    assert len(shed) + len(done) == 80
    assert shed and done, "a burst of 80 on 4 slots and a line of 8 sheds some and serves some"
    assert most <= 4
    assert batcher.items == len(done)
    assert q.shed == len(shed)
