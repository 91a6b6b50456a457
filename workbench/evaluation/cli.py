"""``workbench eval``: evaluate one config on a dataset and save the run where notebooks and
``workbench report`` read it::

    workbench eval default --limit 50                                  # Meridian Bank, seeded sample
    workbench eval quality --dataset squad:cmrc2018_dev.json --reader-only --limit 200
    workbench eval default --set retriever.mode=bm25 --out runs/bm25 && workbench report runs/bm25
"""

from __future__ import annotations

import json
import math
from typing import Any

import click

__all__ = ["eval_command", "summary_table"]

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
    note = " (saved earlier; --force to run again)" if result.from_cache else ""
    click.echo(f"run: {result.path}{note}")
    errors = int(result.summary["overall"].get("errors") or 0)
    if errors:
        first = result.rows.loc[result.rows["error"].notna(), "error"].iloc[0]
        click.secho(f"{errors} question(s) failed; first: {first}", fg="yellow", err=True)
