"""ragas' reference-based LLM metrics as correct / partly / wrong judges, with the local model (or any
OpenAI-compatible one) behind :class:`~workbench.evaluation.metrics.ragas_adapter.LocalRagasLLM`:

* ``answer_accuracy`` (ragas ``AnswerAccuracy``): two judge prompts rate 0, 2 or 4 (the second with
  answer and reference swapped), averaged to 0..1. Mapped: ≥ 0.75 correct, ≥ 0.375 partly, else wrong
  (both judges at 4, or one at 4 and one at 2, is correct).
* ``answer_correctness`` (ragas ``AnswerCorrectness`` with weights [1, 0]: statement-level factuality F1,
  no embedding similarity). Mapped: ≥ 0.7 correct, ≥ 0.35 partly, else wrong.

ragas turns a judge failure into NaN inside the metric; here a NaN (or an exception) is a failed attempt,
retried and counted (:class:`~workbench.evaluation.judge.base.Judge`)::

    judge = RagasJudge(make_judge_generator("qwen2.5-coder-1.5b", max_tokens=160, stop=()), "answer_accuracy")
    judge.judge(JudgeItem("gold card annual fee", ("RMB 600",), "600元")).verdict
"""

from __future__ import annotations

import math
from typing import Any

from workbench.errors import GeneratorError
from workbench.evaluation.judge.base import Judge, JudgeItem
from workbench.evaluation.metrics.answer.answer_match import Verdict

__all__ = ["RAGAS_JUDGE_METRICS", "RagasJudge"]

#: metric → (correct from, partly from) on ragas' 0..1 scale.
RAGAS_JUDGE_METRICS: dict[str, tuple[float, float]] = {
    "answer_accuracy": (0.75, 0.375),
    "answer_correctness": (0.7, 0.35),
}


class RagasJudge(Judge):
    """One ragas metric as a judge (see the module docstring).

    :param generator: a generator whose replies may hold JSON (``max_tokens`` ≥ 128, no newline stop), or a
        ready ``InstructorBaseRagasLLM``.
    :param metric: ``answer_accuracy`` or ``answer_correctness``.
    :param repeats: scores per item; ragas' own prompts do not vary, so repeats differ only when the model
        samples (temperature > 0).
    :param retries: extra attempts when the metric gives NaN or raises.
    :raises ValueError: an unknown metric.
    """

    def __init__(self, generator: Any, metric: str = "answer_accuracy", *, repeats: int = 1, retries: int = 1) -> None:
        super().__init__(repeats=repeats, retries=retries)
        if metric not in RAGAS_JUDGE_METRICS:
            raise ValueError(f"unknown ragas judge metric {metric!r}; choose from {sorted(RAGAS_JUDGE_METRICS)}")
        from ragas.llms.base import InstructorBaseRagasLLM
        from ragas.metrics.collections import AnswerAccuracy, AnswerCorrectness

        from workbench.evaluation.metrics.ragas_adapter import LocalRagasLLM

        self.llm = generator if isinstance(generator, InstructorBaseRagasLLM) else LocalRagasLLM(generator)
        self.metric_name = metric
        self.name = f"ragas_{metric}"
        self.metric = AnswerAccuracy(llm=self.llm, max_retries=1) if metric == "answer_accuracy" \
            else AnswerCorrectness(llm=self.llm, weights=[1.0, 0.0])
        self.thresholds = RAGAS_JUDGE_METRICS[metric]

    def score(self, item: JudgeItem) -> float:
        """ragas' 0..1 value for the item (NaN when the judge failed inside the metric)."""
        from workbench.evaluation.metrics.ragas_adapter import run_sync

        reference = " | ".join(item.references) if item.references else "The documents do not answer this."
        result = run_sync(self.metric.ascore(user_input=item.question, response=item.answer or "(empty)",
                                             reference=reference))
        return float(result.value) if result.value is not None else math.nan

    def _attempt(self, item: JudgeItem, variant: int) -> Verdict:
        try:
            value = self.score(item)
        except GeneratorError:
            raise
        except Exception as exc:  # ragas raises plain errors for bad JSON or inputs: a failed attempt
            raise GeneratorError(f"ragas {self.metric_name} failed: {type(exc).__name__}: {exc}") from exc
        if math.isnan(value):
            raise GeneratorError(f"ragas {self.metric_name} gave no score (its judge replies were unreadable)")
        correct_from, partly_from = self.thresholds
        return "correct" if value >= correct_from else "partly" if value >= partly_from else "wrong"
