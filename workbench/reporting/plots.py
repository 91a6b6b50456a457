"""Report figures with matplotlib's Agg backend, returned as PNG bytes (no display, no files).

```python
png = quality_bars(summary_frame, ["hit@5", "ndcg@10", "f1"])     # bytes, starts with b"\\x89PNG"
```
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd

from workbench.percentiles import PERCENTILE_METHOD

__all__ = ["latency_boxplot", "pareto_scatter", "quality_bars", "to_png"]


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def to_png(fig) -> bytes:  # type: ignore[no-untyped-def]
    """Render and close a figure."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def quality_bars(summary: pd.DataFrame, metrics: Sequence[str], *, title: str = "Quality by config") -> bytes:
    """Grouped bars: one group per metric, one bar per config."""
    plt = _pyplot()
    metrics = [m for m in metrics if m in summary]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(metrics) + 2), 3.6))
    n = max(1, len(summary))
    width = 0.8 / n
    for i, (_, row) in enumerate(summary.iterrows()):
        xs = [j + i * width for j in range(len(metrics))]
        ax.bar(xs, [float(row[m]) for m in metrics], width=width, label=str(row["config"]))
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(metrics))], metrics)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return to_png(fig)


def latency_boxplot(rows: pd.DataFrame, *, column: str = "latency_total_ms",
                    title: str = "Latency per question (ms)") -> bytes:
    """One box per config of the per-question total latency (whiskers at 1.5 IQR, log scale)."""
    plt = _pyplot()
    groups = [(str(name), part[column].dropna().to_numpy()) for name, part in rows.groupby("config", sort=False)
              if column in part]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(groups) + 2), 3.6))
    ax.boxplot([g for _, g in groups], tick_labels=[n for n, _ in groups])
    ax.set_yscale("log")
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=20, labelsize=7)
    return to_png(fig)


def pareto_scatter(summary: pd.DataFrame, *, quality: str, latency: str = "latency_p50_ms",
                   title: str | None = None, low: str | None = None, high: str | None = None,
                   slo_ms: float | None = None, min_quality: float | None = None) -> bytes:
    """Quality against latency per config; Pareto-optimal configs (``pareto`` column) drawn filled and joined.

    ``low``/``high``: columns of the quality interval, drawn as error bars. ``slo_ms``/``min_quality``: the
    verdict's bars, drawn as dashed lines (the acceptable corner is top left).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    flag = summary["pareto"] if "pareto" in summary else pd.Series(False, index=summary.index)
    front = summary[flag == True].sort_values(latency)  # noqa: E712
    rest = summary[flag != True]  # noqa: E712
    if low and high and low in summary and high in summary:
        err = [(summary[quality] - summary[low]).clip(lower=0), (summary[high] - summary[quality]).clip(lower=0)]
        ax.errorbar(summary[latency], summary[quality], yerr=err, fmt="none", ecolor="gray", elinewidth=1,
                    capsize=3)
    ax.scatter(rest[latency], rest[quality], facecolors="white", edgecolors="gray", label="dominated", zorder=3)
    ax.scatter(front[latency], front[quality], color="tab:blue", label="Pareto front", zorder=3)
    if len(front) > 1:
        ax.plot(front[latency], front[quality], color="tab:blue", linewidth=1)
    for _, row in summary.iterrows():
        ax.annotate(str(row["config"]), (row[latency], row[quality]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    if slo_ms is not None:
        ax.axvline(slo_ms, color="tab:red", linestyle="--", linewidth=1, label=f"SLO p95 {slo_ms:g} ms")
    if min_quality is not None:
        ax.axhline(min_quality, color="tab:orange", linestyle="--", linewidth=1, label=f"min {quality} {min_quality:g}")
    if (summary[latency] > 0).all() and summary[latency].max() > 20 * summary[latency].min():
        ax.set_xscale("log")
    ax.set_xlabel(f"{latency} ({PERCENTILE_METHOD}; lower is better)")
    ax.set_ylabel(f"{quality} (higher is better)")
    ax.set_title(title or f"{quality} vs {latency}")
    ax.legend(fontsize=7)
    return to_png(fig)
