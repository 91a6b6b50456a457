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
                   title: str | None = None) -> bytes:
    """Quality against latency per config; Pareto-optimal configs (``pareto`` column) drawn filled and joined."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    front = summary[summary.get("pareto", False) == True].sort_values(latency)  # noqa: E712
    rest = summary[summary.get("pareto", False) != True]  # noqa: E712
    ax.scatter(rest[latency], rest[quality], facecolors="none", edgecolors="gray", label="dominated")
    ax.scatter(front[latency], front[quality], color="tab:blue", label="Pareto front")
    if len(front) > 1:
        ax.plot(front[latency], front[quality], color="tab:blue", linewidth=1)
    for _, row in summary.iterrows():
        ax.annotate(str(row["config"]), (row[latency], row[quality]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel(f"{latency} ({PERCENTILE_METHOD}; lower is better)")
    ax.set_ylabel(f"{quality} (higher is better)")
    ax.set_title(title or f"{quality} vs {latency}")
    ax.legend(fontsize=7)
    return to_png(fig)
