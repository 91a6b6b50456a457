"""Plots of a :class:`~workbench.loadtest.result.LoadResult` (matplotlib, imported lazily; Agg when headless).

```python
fig = plot_result(result)                      # throughput, latency over time, latency CDF
fig = plot_cdf({"cache off": off, "cache on": on})
fig = plot_saturation(sweep_table)             # throughput and p99 against concurrency
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from workbench.loadtest.result import LoadResult

__all__ = ["plot_cdf", "plot_result", "plot_saturation"]


def _plt() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg",) and not _interactive():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _interactive() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except ImportError:
        return False


def plot_result(result: LoadResult, *, bin_s: float = 1.0, title: str | None = None) -> Any:
    """Three panels: offered and achieved throughput per second; p50/p95/p99 latency per second; latency CDF."""
    plt = _plt()
    ts = result.timeseries(bin_s)
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4))
    t = ts["t_s"] - (ts["t_s"].min() if len(ts) else 0)
    a1.plot(t, ts["offered"] / bin_s, label="offered", color="0.6", ls="--")
    a1.plot(t, ts["throughput_rps"], label="ok")
    if ts["shed"].any():
        a1.plot(t, ts["shed"] / bin_s, label="shed")
    a1.set(xlabel="time (s)", ylabel="requests/s", title="throughput")
    a1.legend()
    for col in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        a2.plot(t, ts[col], label=col.split("_")[1])
    a2.set(xlabel="time (s)", ylabel="ms (from scheduled start)", title="latency over time")
    a2.legend()
    _cdf(a3, {"latency": result})
    fig.suptitle(title or f"{result.meta.get('runner')} {result.meta.get('label') or ''}".strip())
    fig.tight_layout()
    return fig


def _cdf(ax: Any, results: dict[str, LoadResult]) -> None:
    for name, res in results.items():
        x = np.sort(res.df.loc[res.df["status"] == "ok", "latency_ms"].to_numpy())
        if len(x):
            ax.plot(x, np.arange(1, len(x) + 1) / len(x), label=name)
    ax.set(xscale="log", xlabel="latency (ms)", ylabel="fraction of requests", title="latency CDF")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()


def plot_cdf(results: dict[str, LoadResult]) -> Any:
    """Latency CDFs of several runs on one axis (log x)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    _cdf(ax, results)
    fig.tight_layout()
    return fig


def plot_saturation(table: pd.DataFrame, *, x: str = "concurrency") -> Any:
    """Throughput and p50/p99 latency against ``x`` (a :func:`~workbench.loadtest.compare.concurrency_sweep` table)."""
    plt = _plt()
    fig, a1 = plt.subplots(figsize=(7, 4))
    a1.plot(table[x], table["throughput_rps"], marker="o", label="throughput")
    a1.set(xscale="log", xlabel=x, ylabel="requests/s", title="saturation curve")
    a2 = a1.twinx()
    a2.plot(table[x], table["latency_p50_ms"], marker="s", color="C1", label="p50")
    a2.plot(table[x], table["latency_p99_ms"], marker="^", color="C2", label="p99")
    a2.set(ylabel="latency (ms)")
    fig.legend(loc="upper left")
    fig.tight_layout()
    return fig
