"""Write a report folder from experiment results: ``index.html`` (self-contained), ``report.md``,
``results.csv`` (every per-question row), ``results.json`` (summaries, by language, deltas) and
``manifest.json`` (every run's manifest).

```python
path = write_report([fast, default], "reports/fast-vs-default")     # → reports/fast-vs-default/index.html
report_from_run_dir(".workbench/experiments")                     # every saved run found below the folder
```
``main(["RUN_DIR", "--out", "reports/x"])`` is what ``workbench report RUN_DIR`` calls.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import DatasetError
from workbench.evaluation.experiment import ExperimentResult, SweepResult, is_result_dir
from workbench.reporting.html_report import render_html
from workbench.reporting.markdown_report import render_markdown
from workbench.reporting.plots import latency_boxplot, pareto_scatter, quality_bars
from workbench.reporting.tables import report_tables, serving_comparison
from workbench.reporting.verdict import ReportConfig

__all__ = ["DEFAULT_REPORTS_DIR", "SERVING_VS_BARE", "find_runs", "main", "report_from_run_dir", "report_policy", "write_report"]

#: Where reports go unless told otherwise.
DEFAULT_REPORTS_DIR = Path("reports")
#: The serving-vs-bare comparison's file (``workbench demo`` writes it beside the report); a report shows it
#: when it is in the run folder or the report's folder.
SERVING_VS_BARE = "serving_vs_bare.json"


def _serving_vs_bare(given: Mapping[str, Any] | str | Path | None, *folders: Path) -> dict[str, Any] | None:
    """The comparison given (a dict or a JSON file), else the first :data:`SERVING_VS_BARE` in ``folders``."""
    if isinstance(given, Mapping):
        return dict(given)
    paths = [Path(given)] if given is not None else [f / SERVING_VS_BARE for f in folders]
    for path in paths:
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    if given is not None:
        raise DatasetError("no such serving-vs-bare file", path=str(given))
    return None


def _results(runs: Any) -> list[ExperimentResult]:
    if isinstance(runs, SweepResult):
        return list(runs.results)
    if isinstance(runs, ExperimentResult):
        return [runs]
    out = list(runs)
    if not out or not all(isinstance(r, ExperimentResult) for r in out):
        raise TypeError("runs must be ExperimentResults (a list, one result, or a SweepResult), and at least one")
    return out


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        return _clean(obj.item())
    return obj


def write_report(runs: Any, out_dir: str | Path, *, title: str | None = None,
                 policy: ReportConfig | None = None,
                 serving_vs_bare: Mapping[str, Any] | str | Path | None = None) -> Path:
    """Write the report folder and return the path of its ``index.html``.

    :param policy: the SLO and minimum quality the verdict is asked about (defaults: :class:`ReportConfig`).
    :param serving_vs_bare: the serving stack against the bare pipeline at the morning peak
        (:meth:`workbench.demo.ServingPeak.run`'s dict or its JSON file), shown as its own section.
    :raises DatasetError: ``serving_vs_bare`` names a file that does not exist.
    """
    results = _results(runs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = report_tables(results, policy)
    peak = _serving_vs_bare(serving_vs_bare)
    if peak is not None:
        tables["serving_vs_bare"] = serving_comparison(peak)
        tables["serving_peak"] = {k: peak.get(k) for k in ("profile", "slo", "llm", "warm_requests")}
    verdict = tables["verdict"]
    summary, rows, quality = tables["summary"], tables["rows"], tables["quality"]
    title = title or f"Evaluation report: {', '.join(r.name for r in results)}"
    figures: dict[str, bytes] = {}
    metrics = [m for m in ("correct", "hit@1", "hit@5", "recall@5", "mrr", "ndcg@10", "em", "f1", "rouge_l") if m in summary]
    if metrics:
        figures["Quality by config"] = quality_bars(summary, metrics)
    if "latency_total_ms" in rows and rows["latency_total_ms"].notna().any():
        figures["Latency per question"] = latency_boxplot(rows)
    scores = tables["scores"]
    if scores["p95_ms"].notna().any():
        figures[f"{quality} vs p95 latency (Pareto front, {verdict.policy.confidence:.0%} intervals)"] = pareto_scatter(
            scores.dropna(subset=["p95_ms"]), quality=quality, latency="p95_ms", low="quality_low",
            high="quality_high", slo_ms=verdict.policy.slo_p95_ms, min_quality=verdict.policy.min_quality)
    manifests = [r.manifest for r in results]
    notes = [f"Generated {_dt.datetime.now(_dt.UTC).isoformat(timespec='seconds')} from {len(results)} run(s) on "
             f"dataset(s) {sorted({str(m.get('dataset', {}).get('name')) for m in manifests})}."]
    (out / "index.html").write_text(render_html(tables, figures=figures, manifests=manifests, title=title, notes=notes),
                                    encoding="utf-8")
    (out / "report.md").write_text(render_markdown(tables, title=title), encoding="utf-8")
    csv_rows = rows.copy()
    for col in csv_rows.columns:
        if csv_rows[col].map(lambda v: isinstance(v, list | dict)).any():
            csv_rows[col] = csv_rows[col].map(lambda v: json.dumps(v, ensure_ascii=False)
                                              if isinstance(v, list | dict) else v)
    csv_rows.to_csv(out / "results.csv", index=False)
    payload = {
        "title": title,
        "verdict": {"pick": verdict.pick, "headline": verdict.headline, "reasons": verdict.reasons,
                    "policy": verdict.policy.model_dump(), "metric": verdict.metric,
                    "alternatives": verdict.alternatives.to_dict(orient="records"),
                    "separated": [{"config": r.name, "why": why} for r, why in verdict.separated]},
        "quality_metric": quality,
        "objectives": tables["objectives"],
        "summary": tables["summary"].to_dict(orient="records"),
        "by_language": tables["by_language"].to_dict(orient="records"),
        "deltas": tables["deltas"].to_dict(orient="records"),
        "load": tables["load"].to_dict(orient="records"),
    }
    if peak is not None:
        payload["serving_vs_bare"] = {**tables["serving_peak"],
                                      "table": tables["serving_vs_bare"].to_dict(orient="records")}
    (out / "results.json").write_text(json.dumps(_clean(payload), ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps(_clean({"runs": manifests}), ensure_ascii=False, indent=2),
                                       encoding="utf-8")
    return out / "index.html"


def find_runs(run_dir: str | Path) -> list[Path]:
    """Saved experiment folders: ``run_dir`` itself, or every one below it (sorted by creation time)."""
    root = Path(run_dir)
    if not root.is_dir():
        raise DatasetError("no such folder", path=str(root))
    if is_result_dir(root):
        return [root]
    found = [p.parent for p in root.rglob("manifest.json") if is_result_dir(p.parent)]
    found.sort(key=lambda p: (json.loads((p / "manifest.json").read_text(encoding="utf-8")).get("created_at", ""),
                              str(p)))
    if not found:
        raise DatasetError("no saved experiments here (folders with rows.jsonl, summary.json, manifest.json)",
                           path=str(root))
    return found


def report_from_run_dir(run_dir: str | Path, out_dir: str | Path | None = None, *, title: str | None = None,
                        policy: ReportConfig | None = None, seed: int = 0) -> Path:
    """A report of every saved experiment in ``run_dir``, written to ``out_dir`` (default
    ``reports/<run_dir name>``); returns the ``index.html`` path. A ``serving_vs_bare.json`` in ``run_dir`` (else
    in ``out_dir``) is shown as its own section.

    A folder with no experiment but saved load-test runs gets their side-by-side comparison instead
    (:func:`~workbench.reporting.load_comparison.load_report_from_dirs`, bootstrap seeded by ``seed``).

    :raises DatasetError: no folder, or neither experiments nor load runs in it.
    """
    try:
        paths = find_runs(run_dir)
    except DatasetError:
        from workbench.reporting.load_comparison import find_load_runs, load_report_from_dirs

        if Path(run_dir).is_dir() and find_load_runs(run_dir):
            return load_report_from_dirs([run_dir], out_dir, title=title, seed=seed)
        raise
    results = [ExperimentResult.load(p) for p in paths]
    target = Path(out_dir) if out_dir is not None else DEFAULT_REPORTS_DIR / Path(run_dir).resolve().name
    return write_report(results, target, title=title, policy=policy,
                        serving_vs_bare=_serving_vs_bare(None, Path(run_dir), target))


def report_policy(slo_p95_ms: float | None = None, min_quality: float | None = None) -> ReportConfig:
    """The default :class:`ReportConfig` with the bars given here (``None`` keeps the default)."""
    given = {k: v for k, v in (("slo_p95_ms", slo_p95_ms), ("min_quality", min_quality)) if v is not None}
    return ReportConfig(**given)


def main(argv: Sequence[str] | None = None) -> int:
    """``workbench report RUN_DIR [--out DIR] [--title TEXT]``: prints the report path; 2 on a bad folder."""
    parser = argparse.ArgumentParser(prog="workbench report", description="Write an evaluation report from saved runs.")
    parser.add_argument("run_dir", help="a saved experiment folder, or a folder holding several")
    parser.add_argument("--out", default=None, help="output folder (default: reports/<RUN_DIR name>)")
    parser.add_argument("--title", default=None)
    parser.add_argument("--slo-p95-ms", type=float, default=None, help="the latency SLO of the verdict")
    parser.add_argument("--min-quality", type=float, default=None, help="the minimum quality of the verdict")
    args = parser.parse_args(argv)
    try:
        path = report_from_run_dir(args.run_dir, args.out, title=args.title,
                                   policy=report_policy(args.slo_p95_ms, args.min_quality))
    except DatasetError as exc:
        print(f"error: {exc}")
        return 2
    print(path)
    return 0
