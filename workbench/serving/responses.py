"""Chat responses from what answered (a pipeline answer, a cache entry), what of one is cached, and the
timing of its streamed pieces.

```python
resp = response_from(answer, variant="control", timings_ms=timings)       # answer: a RAGAnswer
resp = response_from_cache(hit.payload, hit.layer, variant="control")
cache.store(tenant, question, cache_payload(resp))
```
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from workbench.observability.logs import current_request_id
from workbench.pipelines import RAGAnswer
from workbench.serving.schema import ChatResponse, SourceOut

__all__ = ["CACHED_FIELDS", "PieceClock", "cache_payload", "response_from", "response_from_cache"]

#: The fields of a response an answer cache keeps (the rest belongs to the request that produced it).
CACHED_FIELDS = frozenset({"answer", "abstained", "sources", "tokens", "language", "tool", "simulated"})


def _request_id() -> str:
    """The id of the request being served (its log lines' id) when one is bound, else a new one."""
    bound = current_request_id()
    return bound if bound != "-" else uuid.uuid4().hex[:16]


def response_from(answer: RAGAnswer, **fields: Any) -> ChatResponse:
    """The response of a pipeline answer; ``fields``: what serving adds (variant, level, timings, tokens...)."""
    fields.setdefault("tokens", answer.tokens)
    fields.setdefault("language", answer.language)
    return ChatResponse(answer=answer.answer, abstained=answer.abstained,
                        sources=[SourceOut(id=s.id, title=s.title, text=s.text, score=s.score) for s in answer.sources],
                        simulated=bool(answer.generator_meta.get("simulated")), request_id=_request_id(), **fields)


def response_from_cache(payload: dict[str, Any], layer: str, **fields: Any) -> ChatResponse:
    """The response of a cache hit (``payload``: what :func:`cache_payload` stored; ``fields``: the request's)."""
    return ChatResponse(answer=str(payload.get("answer", "")), abstained=bool(payload.get("abstained")),
                        sources=[SourceOut(**s) for s in payload.get("sources", [])],
                        tokens=int(payload.get("tokens") or 0), tool=payload.get("tool"),
                        simulated=bool(payload.get("simulated")), language=payload.get("language"),
                        cache_layer=layer, request_id=_request_id(), **fields)  # type: ignore[arg-type]


def cache_payload(resp: ChatResponse) -> dict[str, Any]:
    """What an answer cache stores of ``resp`` (:data:`CACHED_FIELDS`)."""
    return resp.model_dump(include=set(CACHED_FIELDS))


class PieceClock:
    """When the streamed text pieces of one answer arrived: time to first token, inter-token gaps.

    ```python
    clock = PieceClock(t0)                 # t0: the request's start (perf_counter_ns)
    clock.tick(timings)                    # per piece; sets timings["ttft"] at the first
    gaps = clock.finish(timings)           # sets timings["itl"] (mean gap, ms); the gaps in seconds
    ```
    """

    def __init__(self, t0: int) -> None:
        self.t0 = t0
        self.times: list[int] = []

    def tick(self, timings: dict[str, float]) -> None:
        """One piece arrived now."""
        self.times.append(time.perf_counter_ns())
        if len(self.times) == 1:
            timings["ttft"] = round((self.times[0] - self.t0) / 1e6, 3)

    def finish(self, timings: dict[str, float]) -> list[float]:
        """The gaps between pieces in seconds; their mean in milliseconds goes to ``timings["itl"]``."""
        gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(self.times)]
        if gaps:
            timings["itl"] = round(1000 * sum(gaps) / len(gaps), 3)
        return gaps
