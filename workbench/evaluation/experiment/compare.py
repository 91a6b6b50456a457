"""Comparing runs: paired deltas with bootstrap confidence intervals, and the Pareto front.

```python
delta = bootstrap_delta(base.rows, new.rows, "f1", seed=0)      # new − base, paired by question
delta.delta, (delta.ci_low, delta.ci_high)
pareto_front(sweep.summary_frame(), {"ndcg@10": "max", "latency_p50_ms": "min", "tokens_mean": "min"})
```

The interval is a **paired percentile bootstrap**: questions are resampled with replacement
(``numpy.random.default_rng(seed)``), the mean of the per-question differences is taken each time, and
the interval's ends are nearest-rank percentiles of those means. The p-value is a **paired sign-flip
permutation test** (the sign of each question's difference flipped at random, seeded); when several
differences are read together, :func:`holm_adjust` corrects their p-values (Holm's step-down method).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.percentiles import percentile

__all__ = ["BOOTSTRAP_METHOD", "PERMUTATION_METHOD", "Delta", "bootstrap_delta", "bootstrap_mean", "compare_runs",
           "holm_adjust", "paired_permutation_p", "pareto_front"]

BOOTSTRAP_METHOD = "paired percentile bootstrap (nearest-rank percentiles)"
#: How the p-value of a paired difference is computed.
PERMUTATION_METHOD = "paired sign-flip permutation test (two-sided)"


@dataclass(frozen=True)
class Delta:
    """``mean_b − mean_a`` over the questions both runs answered, with its bootstrap interval."""

    metric: str
    mean_a: float
    mean_b: float
    delta: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int
    resamples: int
    method: str = BOOTSTRAP_METHOD
    p_value: float = math.nan
    """Two-sided p-value of the paired sign-flip permutation test (uncorrected; see :func:`holm_adjust`)."""

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0."""
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (with ``significant``)."""
        return {**asdict(self), "significant": self.significant}


def bootstrap_delta(a: pd.DataFrame, b: pd.DataFrame, metric: str, *, on: str = "question_id",
                    resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> Delta:
    """Paired bootstrap of ``b[metric] − a[metric]``, matching rows on ``on`` (rows with NaN in either are dropped)."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    for name, frame in (("a", a), ("b", b)):
        if metric not in frame or on not in frame:
            raise ValueError(f"run {name} has no {metric!r} or {on!r} column")
    joined = a[[on, metric]].merge(b[[on, metric]], on=on, suffixes=("_a", "_b")).dropna()
    if joined.empty:
        raise ValueError(f"no question has {metric!r} in both runs")
    xa = joined[f"{metric}_a"].to_numpy(dtype=float)
    xb = joined[f"{metric}_b"].to_numpy(dtype=float)
    diff = xb - xa
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[idx].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return Delta(metric, float(xa.mean()), float(xb.mean()), float(diff.mean()),
                 percentile(means, tail, empty=None), percentile(means, 100 - tail, empty=None),
                 confidence, len(diff), resamples, p_value=paired_permutation_p(diff, resamples=resamples, seed=seed))


def bootstrap_mean(values: Sequence[float] | np.ndarray, *, resamples: int = 2000, confidence: float = 0.95,
                   seed: int = 0) -> tuple[float, float, float]:
    """The mean of ``values`` (NaN dropped) and its percentile-bootstrap interval: ``(mean, low, high)``;
    all NaN when no value is left.

    ```python
    bootstrap_mean([1, 0, 1, 1])          # (0.75, 0.25, 1.0)
    ```
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if not len(x):
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    return float(x.mean()), percentile(means, tail, empty=None), percentile(means, 100 - tail, empty=None)


def paired_permutation_p(diff: Sequence[float] | np.ndarray, *, resamples: int = 2000, seed: int = 0) -> float:
    """Two-sided p-value that the mean of paired differences ``diff`` is 0: each resample flips the sign of
    every difference with probability ½; ``p = (1 + #{|mean*| ≥ |mean|}) / (1 + resamples)``. 1.0 when every
    difference is 0, NaN when there is none.

    ```python
    paired_permutation_p([0.0] * 40 + [1.0] * 10)     # ≈ 0.002: ten questions gained, none lost
    ```
    """
    d = np.asarray(diff, dtype=float)
    d = d[~np.isnan(d)]
    if not len(d):
        return math.nan
    observed = abs(d.mean())
    if observed == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    signs = rng.integers(0, 2, size=(resamples, len(d))) * 2 - 1
    flipped = np.abs((signs * d).mean(axis=1))
    return float((1 + np.count_nonzero(flipped >= observed - 1e-12)) / (1 + resamples))


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order (NaN stays NaN and is not counted): compare each
    to the family's alpha to keep the chance of any false 'significant' at most alpha.

    ```python
    holm_adjust([0.01, 0.04, 0.03])       # [0.03, 0.06, 0.06]
    ```
    """
    p = [float(v) for v in p_values]
    known = sorted((v, i) for i, v in enumerate(p) if not math.isnan(v))
    out = [math.nan] * len(p)
    running = 0.0
    m = len(known)
    for rank, (v, i) in enumerate(known):
        running = max(running, min(1.0, (m - rank) * v))
        out[i] = running
    return out


def compare_runs(a: Any, b: Any, metrics: Sequence[str] | None = None, **kwargs: Any) -> pd.DataFrame:
    """One row per metric with the :class:`Delta` of run ``b`` against run ``a`` (results or row frames), and
    ``p_holm``: the p-values Holm-adjusted over the rows of this table."""
    from workbench.evaluation.experiment.summary import metric_columns

    rows_a = a.rows if hasattr(a, "rows") else a
    rows_b = b.rows if hasattr(b, "rows") else b
    names = list(metrics) if metrics is not None else [m for m in metric_columns(rows_a.columns) if m in rows_b]
    extra = ["latency_total_ms", "tokens"] if metrics is None else []
    out = []
    for m in names + [m for m in extra if m in rows_a and m in rows_b]:
        try:
            out.append(bootstrap_delta(rows_a, rows_b, m, **kwargs).to_dict())
        except ValueError:
            continue
    frame = pd.DataFrame(out)
    if not frame.empty:
        frame["p_holm"] = holm_adjust(frame["p_value"].tolist())
    return frame


def pareto_front(frame: pd.DataFrame, objectives: Mapping[str, Literal["max", "min"]], *,
                 only_front: bool = False) -> pd.DataFrame:
    """``frame`` with a boolean ``pareto`` column: True for rows no other row dominates on ``objectives``
    (at least as good on all, strictly better on one). Rows with a NaN objective are never on the front."""
    for col, sense in objectives.items():
        if col not in frame:
            raise ValueError(f"no column {col!r}; columns: {list(frame.columns)}")
        if sense not in ("max", "min"):
            raise ValueError(f"objective {col!r} must be 'max' or 'min', got {sense!r}")
    signs = np.array([1.0 if s == "max" else -1.0 for s in objectives.values()])
    values = frame[list(objectives)].to_numpy(dtype=float) * signs
    valid = ~np.isnan(values).any(axis=1)
    on_front = []
    for i in range(len(values)):
        if not valid[i]:
            on_front.append(False)
            continue
        dominated = False
        for j in range(len(values)):
            if i != j and valid[j] and np.all(values[j] >= values[i]) and np.any(values[j] > values[i]):
                dominated = True
                break
        on_front.append(not dominated)
    out = frame.copy()
    out["pareto"] = on_front
    return out[out["pareto"]] if only_front else out


