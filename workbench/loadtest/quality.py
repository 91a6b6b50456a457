"""Scoring a load run's answers against the dataset's gold, so goodput can count right answers only.

Each successful request whose :class:`~workbench.loadtest.workload.WorkItem` knows its gold answers
(``references``) gets a verdict from the answer matcher
:func:`~workbench.evaluation.metrics.answer.match_answer` (``correct`` / ``partly`` / ``wrong``, the same
``correct`` measure as ``workbench eval``). The matcher is rule-based and cheap, and hot questions repeat
(Zipf), so verdicts are memoised per (question, answer, gold); ``sample`` scores a seeded random subset
instead of every request, and the result reports how many were scored and a Wilson 95% interval.

```python
verdicts = score_answers(items, answers, ok, sample=None)     # one verdict or None per request
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.evaluation.metrics.answer import match_answer
from workbench.loadtest.workload import WorkItem

__all__ = ["score_answers"]


def score_answers(items: Sequence[WorkItem], answers: Sequence[str | None], ok: Sequence[bool], *,
                  sample: int | None = None, seed: int = 0) -> list[str | None]:
    """A verdict per request: ``correct`` | ``partly`` | ``wrong``, or ``None`` when it is not scored (failed,
    no gold known, or left out of the sample).

    :param items: what was sent (their ``references`` are the gold).
    :param answers: the answer text per request (``None`` when there was none).
    :param ok: whether each request succeeded.
    :param sample: score at most this many scoreable requests, drawn at random with ``seed``; ``None``: all.
    :param seed: the sample's seed.
    :returns: one verdict or ``None`` per request, in order.
    :raises ValueError: the three sequences differ in length, or ``sample`` < 1.
    """
    if not len(items) == len(answers) == len(ok):
        raise ValueError("items, answers and ok must have one entry per request")
    if sample is not None and sample < 1:
        raise ValueError(f"sample must be >= 1, got {sample}")
    scoreable = [i for i, (it, a, good) in enumerate(zip(items, answers, ok, strict=True))
                 if good and a is not None and it.references is not None]
    if sample is not None and sample < len(scoreable):
        pick = np.random.default_rng([seed, 0x5C0E]).choice(len(scoreable), size=sample, replace=False)
        scoreable = sorted(scoreable[int(j)] for j in pick)
    out: list[str | None] = [None] * len(items)
    memo: dict[tuple[str, str, tuple[str, ...]], str] = {}
    for i in scoreable:
        it, answer = items[i], answers[i]
        assert answer is not None and it.references is not None
        key = (it.request.question, answer, it.references)
        verdict = memo.get(key)
        if verdict is None:
            verdict = memo[key] = match_answer(answer, it.references, question=it.request.question).verdict
        out[i] = verdict
    return out
