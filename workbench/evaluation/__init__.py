"""Evaluation: metrics (retrieval, answer, latency, cache quality, ragas), experiments with an on-disk
cache, sweeps and comparisons, and the evaluation code that measures the other packages: request
streams (:mod:`~workbench.evaluation.streams`), cache-threshold sweeps and replays
(:mod:`~workbench.evaluation.cache_quality`), memory follow-ups (:mod:`~workbench.evaluation.followups`),
the memory crash worker (:mod:`~workbench.evaluation.crash_worker`) and the dataset's tool-backed labels
(:mod:`~workbench.evaluation.personalized`). Datasets and their loaders live in :mod:`workbench.datasets`.

Answer quality has a yardstick validated against people: the answer-type-aware matcher
(:func:`~workbench.evaluation.metrics.answer.match_answer`, the headline ``correct`` column), LLM judges
(:mod:`~workbench.evaluation.judge`), the hand-labelled judge-validation set
(:mod:`~workbench.evaluation.labels`) and agreement statistics (:mod:`~workbench.evaluation.agreement`).
Reader-only evaluation on gold passages: :mod:`~workbench.evaluation.reader`; the ``workbench eval``
command: :mod:`~workbench.evaluation.cli`.

```python
from workbench.datasets import load_workbench_dataset
from workbench.evaluation import Experiment
result = Experiment(PipelineConfig.load("fast"), load_workbench_dataset()).run()
result.summary["overall"]["ndcg@10"]
```
"""

from workbench.evaluation.experiment import (
    Delta,
    Experiment,
    ExperimentResult,
    Sweep,
    SweepResult,
    bootstrap_delta,
    compare_runs,
    config_grid,
    pareto_front,
)
from workbench.evaluation.metrics import METRICS_VERSION

__all__ = [
    "Delta",
    "Experiment",
    "ExperimentResult",
    "METRICS_VERSION",
    "Sweep",
    "SweepResult",
    "bootstrap_delta",
    "compare_runs",
    "config_grid",
    "pareto_front",
]
