"""How well an automatic measure agrees with people: accuracy and Cohen's kappa against hand labels, with
percentile-bootstrap confidence intervals, per language::

    agreement(["correct", "wrong", "partly"], ["correct", "wrong", "wrong"])   # Agreement(accuracy=0.667, ...)
    agreement_table(frame, ["em", "matcher", "judge"], label="label", by="lang")

Kappa is Cohen's (1960): (p_o − p_e) / (1 − p_e), with p_e from the two raters' marginal label
frequencies; it is 1.0 when both raters use a single identical label (perfect agreement) and NaN when
the chance agreement is 1 but they disagree. The interval resamples items with replacement
(``numpy.random.default_rng(seed)``) and takes nearest-rank percentiles of the statistic
(:mod:`workbench.percentiles`). A measure's missing verdicts (a judge that failed on an item) are not
dropped silently: they are counted in ``missing`` and the statistics are over the items it judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.percentiles import percentile

__all__ = ["AGREEMENT_METHOD", "Agreement", "agreement", "agreement_table", "binary", "cohen_kappa"]

AGREEMENT_METHOD = "accuracy and Cohen's kappa; percentile bootstrap over items (nearest-rank)"


def binary(label: Any) -> Any:
    """``correct`` stays ``correct``; ``partly`` and ``wrong`` become ``not-correct`` (missing stays missing)."""
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return None
    return "correct" if label == "correct" else "not-correct"


def _codes(a: Sequence[Any], b: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, int]:
    classes = sorted({*a, *b}, key=str)
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[x] for x in a]), np.array([index[x] for x in b]), len(classes)


def _kappa_codes(x: np.ndarray, y: np.ndarray, k: int) -> float:
    n = len(x)
    if n == 0:
        return math.nan
    p_o = float(np.mean(x == y))
    p_e = float(np.dot(np.bincount(x, minlength=k) / n, np.bincount(y, minlength=k) / n))
    if p_e >= 1.0:
        return 1.0 if p_o == 1.0 else math.nan
    return (p_o - p_e) / (1.0 - p_e)


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two raters' labels on the same items.

    >>> round(cohen_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"]), 3)
    0.5
    """
    if len(a) != len(b):
        raise ValueError(f"the raters labelled different numbers of items ({len(a)} vs {len(b)})")
    x, y, k = _codes(a, b)
    return _kappa_codes(x, y, k)


@dataclass(frozen=True)
class Agreement:
    """Agreement of a measure with the labels over ``n`` items (``missing`` more had no verdict)."""

    n: int
    missing: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    kappa: float
    kappa_low: float
    kappa_high: float
    confidence: float
    resamples: int

    def to_dict(self) -> dict[str, Any]:
        """A plain dict."""
        return asdict(self)


def agreement(labels: Sequence[Any], verdicts: Sequence[Any], *, resamples: int = 2000, confidence: float = 0.95,
              seed: int = 0) -> Agreement:
    """Accuracy and kappa of ``verdicts`` against ``labels`` (item by item), with bootstrap intervals.

    :param labels: the people's labels.
    :param verdicts: the measure's verdicts; ``None``/NaN where it gave none (counted in ``missing``).
    :raises ValueError: different lengths, or ``confidence`` outside (0, 1).
    """
    if len(labels) != len(verdicts):
        raise ValueError(f"{len(labels)} labels but {len(verdicts)} verdicts")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    pairs = [(lab, ver) for lab, ver in zip(labels, verdicts, strict=True)
             if ver is not None and not (isinstance(ver, float) and math.isnan(ver))]
    missing = len(labels) - len(pairs)
    if not pairs:
        nan = math.nan
        return Agreement(0, missing, nan, nan, nan, nan, nan, nan, confidence, resamples)
    x, y, k = _codes([p[0] for p in pairs], [p[1] for p in pairs])
    acc, kap = float(np.mean(x == y)), _kappa_codes(x, y, k)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(resamples, len(x)))
    accs = (x[idx] == y[idx]).mean(axis=1)
    kappas = np.array([_kappa_codes(x[i], y[i], k) for i in idx])
    tail = (1 - confidence) / 2 * 100
    return Agreement(len(x), missing, acc, percentile(accs, tail), percentile(accs, 100 - tail), kap,
                     percentile(kappas, tail), percentile(kappas, 100 - tail), confidence, resamples)


def agreement_table(frame: Any, measures: Sequence[str], *, label: str = "label", by: str | None = "lang",
                    scale: str = "binary", **kwargs: Any) -> Any:
    """One row per (measure, group): ``n``, ``missing``, accuracy and kappa with their intervals.

    :param frame: a DataFrame with the labels and one verdict column per measure.
    :param measures: the verdict columns.
    :param label: the label column.
    :param by: a grouping column (``lang``), ``None`` for all items only; an ``all`` group is always added.
    :param scale: ``binary`` (correct vs not) or ``three`` (correct / partly / wrong).
    :param kwargs: passed to :func:`agreement` (``resamples``, ``confidence``, ``seed``).
    """
    import pandas as pd

    if scale not in ("binary", "three"):
        raise ValueError("scale must be 'binary' or 'three'")
    squash = binary if scale == "binary" else (lambda v: v)
    groups: list[tuple[str, Any]] = [("all", frame)]
    if by is not None:
        groups += [(str(name), part) for name, part in frame.groupby(by, sort=True)]
    rows = []
    for measure in measures:
        for name, part in groups:
            got = agreement([squash(v) for v in part[label]], [squash(v) for v in part[measure]], **kwargs)
            rows.append({"measure": measure, "group": name, "scale": scale, **got.to_dict()})
    return pd.DataFrame(rows)
