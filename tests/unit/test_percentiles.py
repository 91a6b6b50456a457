"""The one percentile function (nearest rank): known values worked out by hand, and its properties on
open-ended inputs (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.percentiles import PERCENTILE_METHOD, percentile, percentile_key, percentiles

FINITE = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
SAMPLES = st.lists(FINITE, min_size=1, max_size=200)
P = st.floats(min_value=0, max_value=100)


def test_known_values() -> None:
    # sorted [10, 20, 30, 40]: rank ceil(p/100 * 4)
    values = [40, 10, 30, 20]
    assert percentile(values, 50) == 20      # rank 2
    assert percentile(values, 75) == 30      # rank 3
    assert percentile(values, 76) == 40      # rank ceil(3.04) = 4
    assert percentile(values, 0) == 10       # the minimum
    assert percentile(values, 100) == 40
    # sorted [0.5, 1, 3, 5, 5, 7, 8, 9.5, 12, 42, 100] (n = 11)
    data = [12.0, 3.0, 7.0, 1.0, 100.0, 5.0, 5.0, 42.0, 8.0, 9.5, 0.5]
    assert percentiles(data, (50, 90, 95, 99)) == {"p50": 7.0, "p90": 42.0, "p95": 100.0, "p99": 100.0}
    # 1..100: rank = p for whole p; 99.9 → rank 100
    x = np.arange(1, 101, dtype=float)
    assert percentiles(x, (50, 99, 99.9)) == {"p50": 50.0, "p99": 99.0, "p99_9": 100.0}
    assert PERCENTILE_METHOD == "nearest-rank"


def test_nan_is_dropped_and_empty_is_stated() -> None:
    assert percentile([1.0, float("nan"), 3.0], 50) == 1.0   # [1, 3]: rank 1
    assert math.isnan(percentile([], 50))
    assert math.isnan(percentiles([float("nan")], (50,))["p50"])
    with pytest.raises(ValueError):
        percentile([], 50, empty=None)
    with pytest.raises(ValueError):
        percentile([1], 101)
    with pytest.raises(ValueError):
        percentiles([1], (-1,))
    assert percentile_key(99.9) == "p99_9" and percentile_key(50) == "p50"


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(SAMPLES, P)
def test_an_observed_value_within_min_and_max(values: list[float], p: float) -> None:
    got = percentile(values, p)
    assert got in values
    assert min(values) <= got <= max(values)


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(SAMPLES, P, P)
def test_monotone_in_p(values: list[float], p: float, q: float) -> None:
    lo, hi = sorted((p, q))
    assert percentile(values, lo) <= percentile(values, hi)


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(SAMPLES, P)
def test_at_least_p_percent_at_or_below(values: list[float], p: float) -> None:
    """The nearest-rank definition: the smallest observed value with at least p% of the data at or below it."""
    got = percentile(values, p)
    n = len(values)
    assert sum(v <= got for v in values) >= p / 100 * n
    below = [v for v in values if v < got]
    assert len(below) < max(1, math.ceil(p / 100 * n))


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(SAMPLES, st.lists(P, min_size=1, max_size=5))
def test_percentiles_agree_with_percentile(values: list[float], ps: list[float]) -> None:
    got = percentiles(values, ps)
    assert all(got[percentile_key(p)] == percentile(values, p) for p in ps)


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(SAMPLES, st.integers(min_value=0, max_value=100))
def test_same_as_numpy_inverted_cdf(values: list[float], p: int) -> None:
    """numpy's ``inverted_cdf`` is the same definition (whole p: no rounding difference in p/100 · n)."""
    assert percentile(values, p) == float(np.percentile(values, p, method="inverted_cdf"))
