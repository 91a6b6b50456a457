"""Saved runs built by hand, as the experiment writes them, for the report's tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from workbench.evaluation.experiment import ExperimentResult, summarize


def _run(name: str, correct: list[float], latency_ms: float, *, dataset: str = "meridian_bank", ds_hash: str = "h150",
        ids: list[str] | None = None, load: dict | None = None, seed: int = 0) -> ExperimentResult:  # type: ignore[type-arg]
    """A saved run as the experiment writes it: per-question rows, their summary, a manifest."""
    rng = np.random.default_rng(seed)
    n = len(correct)
    rows = pd.DataFrame({
        "question_id": ids or [f"q{i}" for i in range(n)],
        "lang": ["en"] * n,
        "correct": correct,
        "latency_total_ms": latency_ms * rng.uniform(0.8, 1.2, n),
        "tokens": [40] * n,
    })
    summary = summarize(rows)
    if load is not None:
        summary["load"] = load
    manifest = {"config_name": name, "config_hash": name + "-hash",
                "dataset": {"name": dataset, "hash": ds_hash, "questions": n}}
    return ExperimentResult(rows, summary, manifest)


def _pattern(n: int, share: float, offset: int = 0) -> list[float]:
    """``n`` answers of which the first ``share`` (after ``offset``) are correct."""
    k = round(n * share)
    return [1.0 if (i - offset) % n < k else 0.0 for i in range(n)]



@pytest.fixture
def run() -> Callable[..., ExperimentResult]:
    """Build a saved run: ``run(name, correct, latency_ms, ds_hash=..., ids=..., load=...)``."""
    return _run


@pytest.fixture
def pattern() -> Callable[..., list[float]]:
    """``pattern(n, share)``: n answers, the first share of them correct."""
    return _pattern
