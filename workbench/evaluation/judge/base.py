"""What every LLM judge shares: the item it judges, repeated judging with retries, and a verdict that keeps
its failures and its spread instead of averaging them away.

A judge answers ``correct`` / ``partly`` / ``wrong`` for (question, gold answers, answer, evidence). It is
asked ``repeats`` times, each repeat with a different prompt variant (order of the blocks, with or
without evidence) and, when the model samples (temperature > 0), a different sample; a repeat whose
reply cannot be read is retried up to ``retries`` times with the next variant. The item's verdict is the
majority of the readable votes (ties go to the less favourable verdict); ``failures`` counts the repeats
that stayed unreadable, and ``None`` is the verdict when all did (it is reported as missing, never as
wrong or right)::

    judge = PromptJudge(make_judge_generator("qwen2.5-coder-1.5b"), repeats=3)
    v = judge.judge(JudgeItem("金卡年费多少", ("600元",), "主卡年费600元/年", evidence="..."))
    v.verdict, v.votes, v.failures, v.variance
"""

from __future__ import annotations

import abc
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import GeneratorError
from workbench.evaluation.metrics.answer.answer_match import VERDICTS, Verdict

__all__ = ["VERDICT_SCORE", "Judge", "JudgeItem", "JudgeVerdict", "majority"]

#: The numeric value of a verdict, for the spread of repeated judgments.
VERDICT_SCORE: dict[str, float] = {"correct": 1.0, "partly": 0.5, "wrong": 0.0}


@dataclass(frozen=True)
class JudgeItem:
    """One answer to judge."""

    question: str
    references: tuple[str, ...]
    answer: str
    evidence: str = ""
    """The document text that states the fact (a few sentences), when known."""
    lang: str = "en"


@dataclass(frozen=True)
class JudgeVerdict:
    """A judge's verdict on one item after ``repeats`` votes."""

    verdict: Verdict | None
    """The majority of the readable votes; ``None`` when no vote was readable."""
    votes: tuple[Verdict | None, ...]
    """One per repeat (``None``: that repeat failed after its retries)."""
    attempts: int
    """Model calls made, retries included."""
    errors: tuple[str, ...] = field(default_factory=tuple)
    latency_ms: float = 0.0

    @property
    def failures(self) -> int:
        """Repeats that gave no readable verdict."""
        return sum(v is None for v in self.votes)

    @property
    def variance(self) -> float:
        """Population variance of the readable votes' scores (correct 1, partly 0.5, wrong 0); 0.0 for one vote."""
        scores = [VERDICT_SCORE[v] for v in self.votes if v is not None]
        if len(scores) < 2:
            return 0.0
        mean = sum(scores) / len(scores)
        return sum((s - mean) ** 2 for s in scores) / len(scores)

    @property
    def unanimous(self) -> bool:
        """All readable votes agree (and there is at least one)."""
        readable = {v for v in self.votes if v is not None}
        return len(readable) == 1


def majority(votes: Sequence[Verdict | None]) -> Verdict | None:
    """The most common readable vote; a tie goes to the less favourable verdict (wrong < partly < correct).

    >>> majority(["correct", "wrong", None]), majority([None])
    ('wrong', None)
    """
    counts = Counter(v for v in votes if v is not None)
    if not counts:
        return None
    top = max(counts.values())
    return max((v for v, n in counts.items() if n == top), key=VERDICTS.index)


class Judge(abc.ABC):
    """Repeated judging with retries around one model call per attempt (:meth:`_attempt`).

    :param repeats: votes per item (each with the next prompt variant).
    :param retries: extra attempts for a vote whose reply could not be read.
    :raises ValueError: ``repeats < 1`` or ``retries < 0``.
    """

    name = "judge"

    def __init__(self, *, repeats: int = 1, retries: int = 2) -> None:
        if repeats < 1 or retries < 0:
            raise ValueError("repeats must be >= 1 and retries >= 0")
        self.repeats, self.retries = repeats, retries
        self.calls = 0
        self.failed_calls = 0

    @abc.abstractmethod
    def _attempt(self, item: JudgeItem, variant: int) -> Verdict:
        """One model call with prompt variant ``variant``; raises :class:`GeneratorError` when the reply has
        no readable verdict (or the model failed)."""

    def judge(self, item: JudgeItem) -> JudgeVerdict:
        """Judge one item ``repeats`` times (see the module docstring)."""
        start = time.perf_counter_ns()
        votes: list[Verdict | None] = []
        errors: list[str] = []
        attempts = 0
        for repeat in range(self.repeats):
            vote: Verdict | None = None
            for retry in range(self.retries + 1):
                attempts += 1
                self.calls += 1
                try:
                    vote = self._attempt(item, repeat + retry * self.repeats)
                    break
                except GeneratorError as exc:
                    self.failed_calls += 1
                    errors.append(str(exc)[:200])
            votes.append(vote)
        return JudgeVerdict(majority(votes), tuple(votes), attempts, tuple(errors),
                            (time.perf_counter_ns() - start) / 1e6)

    def judge_many(self, items: Sequence[JudgeItem],
                   progress: Callable[[int, int], None] | None = None) -> Any:
        """A DataFrame, one row per item: ``verdict`` (None when every repeat failed), ``votes``, ``failures``,
        ``attempts``, ``variance``, ``unanimous``, ``latency_ms``, ``errors``."""
        import pandas as pd

        rows = []
        for i, item in enumerate(items):
            v = self.judge(item)
            rows.append({"verdict": v.verdict, "votes": list(v.votes), "failures": v.failures,
                         "attempts": v.attempts, "variance": v.variance, "unanimous": v.unanimous,
                         "latency_ms": v.latency_ms, "errors": list(v.errors)})
            if progress is not None:
                progress(i + 1, len(items))
        return pd.DataFrame(rows)
