"""Saved load-test runs side by side: two configurations, or before and after a change.

A report folder like the experiment report's: ``index.html`` (self-contained, the latency CDF embedded),
``report.md``, ``comparison.csv`` (one row per metric and pair of runs: B − A, B / A, the 95% interval and
the better run), ``runs.csv`` (one summary row per run) and ``comparison.json`` (both, with the method,
the SLO, the seed and where each run came from). Every run is compared against the first (the baseline);
the differences and their intervals are :func:`workbench.loadtest.compare.compare_runs`'s.

```python
load_report_from_dirs(["runs/before", "runs/after"], "reports/cmp")     # → reports/cmp/index.html
write_load_comparison({"off": off, "on": on}, "reports/cache")          # LoadResults in hand
```
``workbench report runs/before runs/after --out reports/cmp`` calls the first.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import DatasetError
from workbench.loadtest.compare import MIN_BINS, compare_many, compare_results
from workbench.loadtest.result import RUN_FILE, LoadResult
from workbench.loadtest.stats import SLO
from workbench.percentiles import PERCENTILE_METHOD
from workbench.reporting.html_report import CSS, _table
from workbench.reporting.markdown_report import markdown_table
from workbench.reporting.writer import DEFAULT_REPORTS_DIR, _clean

__all__ = ["DEFAULT_RESAMPLES", "find_load_runs", "load_report_from_dirs", "load_runs", "write_load_comparison"]

#: Bootstrap resamples of a comparison.
DEFAULT_RESAMPLES = 2000
_RUN_COLUMNS = ("run", "config", "runner", "profile", "requests", "window_s", "throughput_rps", "goodput_rps",
                "correct_goodput_rps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms",
                "ttft_p95_ms", "ttft_p99_ms", "error_rate", "shed_rate", "hit_rate_any", "slo_attainment",
                "correct_share")
_SHOWN = {"run_a": "A", "run_b": "B", "value_a": "value A", "value_b": "value B", "diff": "B − A",
          "ratio": "B / A", "ci_low": "95% CI low", "ci_high": "95% CI high", "better": "better"}


def _created(path: Path) -> str:
    doc_path = path / RUN_FILE if (path / RUN_FILE).is_file() else path / "manifest.json"
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    return str(doc.get("created_at") or doc.get("meta", {}).get("created_at") or "")


def find_load_runs(folder: str | Path) -> list[Path]:
    """Saved load runs: ``folder`` itself, or every one below it, oldest first (by ``created_at``, then path);
    empty when there is none.

    :raises DatasetError: ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError("no such folder", path=str(root))
    if LoadResult.is_run_dir(root):
        return [root]
    found = {p.parent for name in (RUN_FILE, "manifest.json") for p in root.rglob(name)
             if LoadResult.is_run_dir(p.parent)}
    return sorted(found, key=lambda p: (_created(p), str(p)))


def _named_paths(folders: Sequence[str | Path]) -> dict[str, Path]:
    found: list[tuple[Path, Path]] = []
    for folder in folders:
        paths = find_load_runs(folder)
        if not paths:
            raise DatasetError("no saved load-test runs here (folders with run.json and requests.csv)",
                               path=str(folder))
        found += [(Path(folder), p) for p in paths]
    names = [p.name if p == root else p.relative_to(root).as_posix() for root, p in found]
    clash = {n for n in names if names.count(n) > 1}
    out: dict[str, Path] = {}
    for (root, p), name in zip(found, names, strict=True):
        key = f"{root.name}/{name}" if name in clash and p != root else name
        out[key if key not in out else p.as_posix()] = p
    return out


def load_runs(folders: Sequence[str | Path]) -> dict[str, LoadResult]:
    """Every saved load run in ``folders`` (in the order given; within a folder, oldest first), by name: the
    run folder's path below the folder given (its own name when it is a run), prefixed with the folder's name
    when two folders hold runs of one name.

    :raises DatasetError: a folder holds no load run.
    """
    return {name: LoadResult.load(p) for name, p in _named_paths(folders).items()}


def _runs_table(runs: Mapping[str, LoadResult], slo: SLO | None) -> pd.DataFrame:
    table = compare_results(dict(runs), slo).reset_index()
    table["config"] = [r.meta.get("config") for r in runs.values()]
    table["runner"] = [r.meta.get("runner") for r in runs.values()]
    table["profile"] = [(r.meta.get("run_profile") or r.meta.get("profile") or {}).get("name")
                        for r in runs.values()]
    for col in ("config", "runner", "profile"):
        table[col] = table[col].map(lambda v: "" if v is None else str(v))
    return table[[c for c in _RUN_COLUMNS if c in table.columns]]


def _cdf_png(runs: Mapping[str, LoadResult]) -> bytes:
    """Each run's e2e latency CDF (successful requests in the measured window), as PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 3.0))
    ax = fig.subplots()
    for name, res in runs.items():
        s = res.summary()
        lat = np.sort(res.df["latency_ms"][(res.df["status"] == "ok").to_numpy()].dropna().to_numpy())
        if len(lat):
            ax.step(lat, np.arange(1, len(lat) + 1) / len(lat), where="post",
                    label=f"{name} (p99 {s['latency_ms']['p99']:.0f} ms)")
    ax.set_xlabel("e2e latency (ms, from the scheduled start)", fontsize=8)
    ax.set_ylabel("share of requests", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def _shown(part: pd.DataFrame) -> pd.DataFrame:
    return part[list(_SHOWN)].rename(columns=_SHOWN)


def _clear_lines(diffs: pd.DataFrame) -> list[str]:
    """One line per metric and pair whose interval excludes 0: which run is better, by how much."""
    out = []
    for _, r in diffs[~diffs["better"].isin(["no clear difference", "n/a"])].iterrows():
        unit = "" if r["unit"] == "share" else f" {r['unit']}"
        out.append(f"{r['label']}: {r['better']} better ({r['run_b']} − {r['run_a']} = {r['diff']:+.4g}{unit}, "
                   f"95% CI [{r['ci_low']:.4g}, {r['ci_high']:.4g}])")
    return out


def _method_note(slo: dict[str, Any] | None, seed: int, resamples: int) -> str:
    return (f"B − A and B / A against the baseline A; 95% intervals: percentiles ({PERCENTILE_METHOD}) by a seeded "
            f"bootstrap over each run's successful requests, throughput and goodput by a bootstrap over time bins of "
            f"the measured window (1 s, at least {MIN_BINS}; {resamples:,} resamples, seed {seed}), shares by "
            "Newcombe's hybrid score "
            f"interval. 'better' names a run only when the interval excludes 0. Goodput SLO: "
            f"{json.dumps(slo) if slo else 'none (goodput and attainment left out)'}; correct goodput and the correct "
            "share only when both runs' answers were scored.")


def write_load_comparison(runs: Mapping[str, LoadResult], out_dir: str | Path, *, title: str | None = None,
                          slo: SLO | None = None, seed: int = 0, resamples: int = DEFAULT_RESAMPLES,
                          sources: Mapping[str, str] | None = None) -> Path:
    """Write the comparison report folder (see the module doc); returns its ``index.html``.

    :param runs: the runs by name, the baseline first (one run: its numbers only, nothing compared).
    :param slo: the SLO goodput is judged by (default: the first run's that has one).
    :param seed: the bootstrap's seed (the same seed gives the same intervals).
    :param resamples: bootstrap resamples.
    :param sources: where each run was read from (shown and kept in ``comparison.json``).
    :raises ValueError: no run.
    """
    if not runs:
        raise ValueError("no load run to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(runs)
    if slo is None:
        slo = next((SLO.from_dict(r.meta["slo"]) for r in runs.values() if r.meta.get("slo")), None)
    table = _runs_table(runs, slo)
    diffs = compare_many(runs, slo=slo, seed=seed, resamples=resamples) if len(runs) > 1 else pd.DataFrame()
    slo_dict = slo.to_dict() if slo is not None else None
    title = title or f"Load runs: {' vs '.join(names)}"
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    note = _method_note(slo_dict, seed, resamples)
    metrics = list(dict.fromkeys(diffs["metric"])) if len(diffs) else []

    esc = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             "<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{esc(title)}</title><style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>",
             f"<p class='note'>Generated {created} from {len(runs)} load run(s); baseline A: {esc(names[0])}.</p>",
             "<h2>Runs</h2>", _table(table),
             f"<p class='note'>Latency from the scheduled start (open loop: queueing counted); percentiles: "
             f"{PERCENTILE_METHOD}, over successful requests in the measured window.</p>"]
    md = [f"# {title}\n", f"Generated {created} from {len(runs)} load run(s); baseline A: {names[0]}.\n",
          "## Runs\n", markdown_table(table), f"\nLatency percentiles: {PERCENTILE_METHOD}.\n"]
    if metrics:
        clear = _clear_lines(diffs)
        parts += ["<h2>Clear differences</h2>", "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in clear) + "</ul>"
                  if clear else "<p>None: every 95% interval holds 0.</p>"]
        md += ["## Clear differences\n", *([f"- {line}" for line in clear] + [""] if clear
                                           else ["None: every 95% interval holds 0.\n"])]
        parts += ["<h2>Differences</h2>", f"<p class='note'>{esc(note)}</p>"]
        md += ["## Differences\n", f"{note}\n"]
        for key in metrics:
            part = diffs[diffs["metric"] == key]
            head = f"{part['label'].iloc[0]} ({part['unit'].iloc[0]})"
            parts += [f"<h3>{esc(head)}</h3>", _table(_shown(part), digits=4)]
            md += [f"### {head}\n", markdown_table(_shown(part), digits=4)]
    else:
        parts.append("<p class='note'>One run: nothing to compare.</p>")
        md.append("One run: nothing to compare.\n")
    png = base64.b64encode(_cdf_png(runs)).decode("ascii")
    parts += ["<h2>Plots</h2>", f"<figure><img alt='latency CDF' src='data:image/png;base64,{png}'>"
              "<figcaption>e2e latency CDF per run</figcaption></figure>", "<h2>Runs' metadata</h2>"]
    for name, res in runs.items():
        where = f" ({sources[name]})" if sources and name in sources else ""
        parts.append(f"<details><summary>{esc(name)}{esc(where)}</summary><pre>"
                     f"{esc(json.dumps(res.meta, ensure_ascii=False, indent=1, default=str))}</pre></details>")
    parts.append("</body></html>")
    (out / "index.html").write_text("\n".join(parts), encoding="utf-8")
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    table.to_csv(out / "runs.csv", index=False)
    diffs.to_csv(out / "comparison.csv", index=False)
    payload = {"title": title, "created_at": created, "baseline": names[0], "slo": slo_dict, "seed": seed,
               "resamples": resamples, "confidence": 0.95, "percentile_method": PERCENTILE_METHOD, "method": note,
               "sources": dict(sources or {}), "runs": table.to_dict(orient="records"),
               "differences": diffs.to_dict(orient="records")}
    (out / "comparison.json").write_text(json.dumps(_clean(payload), ensure_ascii=False, indent=2, default=str),
                                         encoding="utf-8")
    return out / "index.html"


def load_report_from_dirs(folders: Sequence[str | Path], out_dir: str | Path | None = None, *,
                          title: str | None = None, seed: int = 0, resamples: int = DEFAULT_RESAMPLES) -> Path:
    """The comparison of every load run in ``folders`` (see :func:`load_runs`), written to ``out_dir`` (default
    ``reports/<first folder>-vs-<last folder>``, or ``reports/<folder>`` for one); returns ``index.html``.

    :raises DatasetError: a folder is missing or holds no load run.
    """
    if not folders:
        raise DatasetError("no folder given", path="")
    paths = _named_paths(folders)
    runs = {name: LoadResult.load(p) for name, p in paths.items()}
    roots = [Path(f).resolve().name for f in folders]
    target = Path(out_dir) if out_dir is not None else DEFAULT_REPORTS_DIR / (
        roots[0] if len(roots) == 1 else f"{roots[0]}-vs-{roots[-1]}")
    sources = {name: str(p) for name, p in paths.items()}
    return write_load_comparison(runs, target, title=title, seed=seed, resamples=resamples, sources=sources)
