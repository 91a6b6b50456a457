"""``workbench eval`` and ``workbench compare``: evaluate configs on a dataset and save the runs where notebooks
and ``workbench report`` read them::

    workbench eval default --limit 50                                  # Meridian Bank, seeded sample
    workbench eval quality --dataset squad:cmrc2018_dev.json --reader-only --limit 200
    workbench eval default --set retriever.mode=bm25 --out runs/bm25 && workbench report runs/bm25
    workbench compare fast default --limit 100 --out runs/cmp          # same questions, then the verdict
    workbench compare default --sweep retriever.mode=bm25,dense,hybrid --report reports/modes
"""

from __future__ import annotations

import json
import math
from typing import Any

import click

__all__ = ["compare_command", "eval_command", "parse_sweep", "summary_table"]

#: The columns of the printed table, in order, when the run has them.
TABLE_COLUMNS = ("questions", "errors", "correct", "em", "f1", "hit@5", "ndcg@10", "mrr", "latency_p50_ms",
                 "latency_p95_ms", "tokens_mean")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def summary_table(summary: dict[str, Any]) -> str:
    """A plain-text table of a run's summary: one line overall, one per language."""
    groups = [("all", summary["overall"]), *sorted(summary.get("by_language", {}).items())]
    cols = [c for c in TABLE_COLUMNS if any(c in part for _, part in groups)]
    head = ["lang", *cols]
    lines = [[name, *(_cell(part.get(c)) for c in cols)] for name, part in groups]
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*r) for r in [head, *lines])


@click.command("eval")
@click.argument("config")
@click.option("--dataset", "dataset_spec", default="meridian_bank", show_default=True,
              help="A project dataset name or a spec: squad:FILE, beir:FOLDER[@split], jsonl:Q[,D], csv:Q[,D].")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Evaluate a seeded sample of N questions.")
@click.option("--seed", default=0, show_default=True, help="Seed of the sample and of every random stream.")
@click.option("--out", "out_dir", default=None,
              help="Folder that holds saved runs (default: .workbench/experiments, where notebooks look).")
@click.option("--reader-only", is_flag=True,
              help="Evaluate only the reader (prompt + generator) on each question's gold passage; no retrieval.")
@click.option("--force", is_flag=True, help="Run again even if this exact run is saved.")
@click.option("--json", "as_json", is_flag=True, help="Print the run folder and summary as JSON.")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a config field, e.g. --set generator.model=qwen2.5-coder-0.5b (repeatable).")
def eval_command(config: str, dataset_spec: str, limit: int | None, seed: int, out_dir: str | None, reader_only: bool,
                 force: bool, as_json: bool, overrides: tuple[str, ...]) -> None:
    """Evaluate CONFIG on a dataset: retrieval and answer quality, latency; the run is saved for reports.

    With --reader-only the reader answers from the gold passages a SQuAD/CMRC file carries, so generators
    can be compared on public reading-comprehension sets.
    """
    from workbench.cli import _load_config
    from workbench.evaluation.experiment import DEFAULT_CACHE_DIR, Experiment
    from workbench.percentiles import PERCENTILE_METHOD

    cfg = _load_config(config, overrides)
    exp = Experiment(cfg, dataset_spec, seed=seed, limit=limit, reader_only=reader_only,
                     cache_dir=out_dir or DEFAULT_CACHE_DIR)
    total = len(exp.dataset.questions)
    mode = "reader only" if reader_only else "retrieval + answer"
    if not as_json:
        click.echo(f"{cfg.name} on {exp.dataset.name}: {total} questions, {mode}", err=True)

    def progress(done: int, of: int) -> None:
        if not as_json and (done == of or done % max(1, of // 20) == 0):
            click.echo(f"  {done}/{of}", err=True)

    result = exp.run(force=force, progress=progress)
    if as_json:
        from workbench.evaluation.experiment.result import jsonable

        record = {"run": str(result.path), "from_cache": result.from_cache, "summary": result.summary}
        click.echo(json.dumps(jsonable(record), ensure_ascii=False, allow_nan=False))
        return
    click.echo(summary_table(result.summary))
    click.echo(f"correct: the answer-type-aware matcher's verdict; latency percentiles: {PERCENTILE_METHOD}")
    cold = (result.summary.get("warmup") or {}).get("cold_start_ms")
    if cold is not None:
        click.echo(f"cold start: {cold:,.0f} ms (one warm-up question, answered before the measured ones)")
    note = " (saved earlier; --force to run again)" if result.from_cache else ""
    click.echo(f"run: {result.path}{note}")
    errors = int(result.summary["overall"].get("errors") or 0)
    if errors:
        first = result.rows.loc[result.rows["error"].notna(), "error"].iloc[0]
        click.secho(f"{errors} question(s) failed; first: {first}", fg="yellow", err=True)


def parse_sweep(items: tuple[str, ...]) -> dict[str, list[Any]]:
    """``("retriever.top_k=3,5", "retriever.mode=bm25,dense")`` → ``{"retriever.top_k": [3, 5], ...}`` (each value
    read as YAML, so numbers and booleans keep their type).

    :raises click.BadParameter: an item without ``=`` or without values, or a field given twice.
    """
    import yaml

    axes: dict[str, list[Any]] = {}
    for item in items:
        field, sep, values = item.partition("=")
        field = field.strip()
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not field or not parts:
            raise click.BadParameter(f"expects FIELD=V1,V2,..., got {item!r}", param_hint="--sweep")
        if field in axes:
            raise click.BadParameter(f"{field!r} is swept twice", param_hint="--sweep")
        axes[field] = [yaml.safe_load(v) for v in parts]
    return axes


@click.command("compare")
@click.argument("configs", nargs=-1, required=True)
@click.option("--sweep", "sweeps", multiple=True, metavar="FIELD=V1,V2",
              help="Evaluate every combination of these values on each CONFIG (repeatable).")
@click.option("--dataset", "dataset_spec", default="meridian_bank", show_default=True,
              help="A project dataset name or a spec: squad:FILE, beir:FOLDER[@split], jsonl:Q[,D], csv:Q[,D].")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Evaluate the same seeded sample of N questions with every config.")
@click.option("--seed", default=0, show_default=True, help="Seed of the sample and of every random stream.")
@click.option("--out", "out_dir", default=None,
              help="Folder that holds saved runs (default: .workbench/experiments, where notebooks look).")
@click.option("--report", "report_dir", default=None, help="Also write the report of exactly these runs here.")
@click.option("--slo-p95-ms", type=float, default=None, help="The verdict's latency SLO (default: ReportConfig's).")
@click.option("--min-quality", type=float, default=None, help="The verdict's minimum quality (default: ReportConfig's).")
@click.option("--force", is_flag=True, help="Run again even if a run is saved.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs and the verdict as JSON.")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a field of every config, e.g. --set generator.max_tokens=64 (repeatable).")
def compare_command(configs: tuple[str, ...], sweeps: tuple[str, ...], dataset_spec: str, limit: int | None,
                    seed: int, out_dir: str | None, report_dir: str | None, slo_p95_ms: float | None,
                    min_quality: float | None, force: bool, as_json: bool, overrides: tuple[str, ...]) -> None:
    """Evaluate several CONFIGs (and --sweep variants of them) on the same questions and say which to pick.

    Every run is saved like `workbench eval`'s; the verdict weighs quality against the p95 latency SLO.
    """
    from workbench.cli import _load_config
    from workbench.evaluation.experiment import DEFAULT_CACHE_DIR, Sweep, config_grid
    from workbench.percentiles import PERCENTILE_METHOD
    from workbench.reporting import recommend, report_policy, write_report

    axes = parse_sweep(sweeps)
    bases = [_load_config(c, overrides) for c in configs]
    candidates = [cfg for base in bases for cfg in (config_grid(base, axes) if axes else [base])]
    if len(candidates) < 2:
        raise click.UsageError("compare needs at least two configs: give several CONFIGs or a --sweep")
    sweep = Sweep(candidates, dataset_spec, cache_dir=out_dir or DEFAULT_CACHE_DIR, seed=seed, limit=limit)
    if not as_json:
        click.echo(f"{len(candidates)} configs on {sweep.dataset.name}"
                   f"{f' ({limit} questions, seed {seed})' if limit else ''}", err=True)

    def progress(name: str, done: int, total: int) -> None:
        if not as_json and (done == total or done % max(1, total // 5) == 0):
            click.echo(f"  {name}: {done}/{total}", err=True)

    result = sweep.run(force=force, progress=progress)
    policy = report_policy(slo_p95_ms, min_quality)
    verdict = recommend(result.results, policy)
    index = write_report(result, report_dir, policy=policy) if report_dir else None
    if as_json:
        from workbench.evaluation.experiment.result import jsonable

        record = {"runs": {r.name: str(r.path) for r in result.results}, "pick": verdict.pick,
                  "headline": verdict.headline, "reasons": verdict.reasons, "metric": verdict.metric,
                  "separated": [r.name for r, _ in verdict.separated],
                  "report": str(index) if index else None}
        click.echo(json.dumps(jsonable(record), ensure_ascii=False, allow_nan=False))
        return
    table = verdict.headline_frame()[["config", "questions", verdict.metric, "p50 ms", "p95 ms", "compute s / 1k q",
                                      "SLO", "quality bar"]]
    click.echo(table.to_string(index=False))
    click.echo(f"latency percentiles: {PERCENTILE_METHOD} ({verdict.scores[0].latency_source}); "
               f"{verdict.metric}: mean [{policy.confidence:.0%} bootstrap interval]")
    click.secho(verdict.headline, bold=True)
    for reason in verdict.reasons:
        click.echo(f"  {reason}")
    for note in verdict.notes:
        if note.startswith("latency of the evaluation pass excludes"):
            click.echo(note)
    for r, why in verdict.separated:
        click.secho(f"not compared: {r.name}: {why}", fg="yellow")
    for r in result.results:
        click.echo(f"run: {r.path}{' (saved earlier)' if r.from_cache else ''}")
    if index:
        click.echo(f"report: {index}")
    elif out_dir:
        click.echo(f"report with: workbench report {out_dir}")
