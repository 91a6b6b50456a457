"""Evaluation: datasets (own, SQuAD/CMRC, BEIR, JSONL, CSV, packaged corpora), metrics (retrieval,
answer, latency, cache quality, ragas), experiments with an on-disk cache, sweeps and comparisons.

```python
from workbench.evaluation import EvalDataset, Experiment
result = Experiment(PipelineConfig.load("fast"), EvalDataset.from_workbench()).run()
result.summary["overall"]["ndcg@10"]
```
"""

from workbench.evaluation.data import EvalDataset, EvalDocument, EvalQuestion, load_eval_dataset
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
    "EvalDataset",
    "EvalDocument",
    "EvalQuestion",
    "Experiment",
    "ExperimentResult",
    "METRICS_VERSION",
    "Sweep",
    "SweepResult",
    "bootstrap_delta",
    "compare_runs",
    "config_grid",
    "load_eval_dataset",
    "pareto_front",
]
