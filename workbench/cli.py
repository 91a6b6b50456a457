"""The ``workbench`` command line.

Every command takes a CONFIG: a preset name from ``configs/`` (default, fast, quality, ...) or a
path to a YAML file. Run ``workbench COMMAND --help`` for the options of each command.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from workbench.errors import WorkbenchError

__all__ = ["main"]


def _load_config(config: str, overrides: tuple[str, ...] = ()) -> Any:
    import yaml

    from workbench.config import PipelineConfig

    cfg = PipelineConfig.load(config)
    if overrides:
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise click.BadParameter(f"--set expects FIELD=VALUE, got {item!r}", param_hint="--set")
            key, value = item.split("=", 1)
            pairs[key.strip()] = yaml.safe_load(value)
        cfg = cfg.with_overrides(pairs)
    return cfg


_set_option = click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
                           help="Override a config field, e.g. --set retriever.mode=bm25 (repeatable).")


class _Group(click.Group):
    """Turns WorkbenchErrors into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            click.secho(f"error ({exc.type}): {exc}", fg="red", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rag-serving-workbench", prog_name="workbench")
def main() -> None:
    """RAG Serving Workbench: build, load-test, evaluate and compare RAG pipelines, offline.

    \b
    Typical session:
      workbench index default              # embed and index the knowledge base (cached on disk)
      workbench ask quality "金卡年费多少"   # one answer with sources and stage timings
      workbench compare fast default --limit 100 --report reports/cmp   # which to pick, and how sure
    CONFIG is a preset (see `workbench presets`) or a YAML file.
    """


@main.command()
def presets() -> None:
    """List the preset configs in configs/ with their descriptions."""
    from workbench.config import PipelineConfig, list_presets

    for name in list_presets():
        cfg = PipelineConfig.load(name)
        click.echo(f"{name:12s} {cfg.hash}  {cfg.description}")


@main.command()
@click.argument("config")
@click.option("--rebuild", is_flag=True, help="Rebuild even if a saved index exists.")
@_set_option
def index(config: str, rebuild: bool, overrides: tuple[str, ...]) -> None:
    """Embed and index CONFIG's knowledge base (FAISS + BM25), saved for reuse.

    The index is saved under index_dir/<index hash>-<data hash>; a second run loads it in milliseconds.
    """
    from workbench.pipelines import load_knowledge_base

    cfg = _load_config(config, overrides)
    t0 = time.perf_counter()
    kb = load_knowledge_base(cfg, rebuild=rebuild, progress=True)
    took = time.perf_counter() - t0
    verb = "built" if "load_s" not in kb.stats else "loaded"
    click.echo(f"{verb} knowledge base {kb.version}: {kb.stats.get('documents')} documents, "
               f"{kb.store.count} passages, {cfg.embedder.model} / {cfg.index.kind} in {took:.1f} s -> {kb.path}")


@main.command()
@click.argument("config")
@click.argument("question")
@click.option("--tenant", default=None, help="Tenant whose documents are searched (default: the config's).")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON (same fields as the HTTP API).")
@click.option("--stream/--no-stream", default=True, help="Print the answer as it is generated.")
@_set_option
def ask(config: str, question: str, tenant: str | None, as_json: bool, stream: bool, overrides: tuple[str, ...]) -> None:
    """Answer QUESTION with CONFIG: the answer, its sources and per-stage timings."""
    from workbench.pipelines import build_query_pipeline, validate_question

    cfg = _load_config(config, overrides)
    question = validate_question(question, cfg.limits.max_question_chars)  # before any heavy work
    qp = build_query_pipeline(cfg, progress=not as_json)
    printed = []

    def on_chunk(piece: str) -> None:
        printed.append(piece)
        click.echo(piece, nl=False)

    if not as_json and stream:
        click.secho("answer: ", bold=True, nl=False)
    result = qp.run(question, tenant=tenant, streaming_callback=on_chunk if (stream and not as_json) else None)
    if as_json:
        click.echo(json.dumps(_http_shape(result), ensure_ascii=False, indent=2))
        return
    if stream:
        click.echo()
        if "".join(printed).strip() != result.answer:
            click.secho(f"        (trimmed to: {result.answer})", dim=True)
    else:
        click.secho("answer: ", bold=True, nl=False)
        click.echo(result.answer)
    if result.abstained:
        score = result.abstention.get("score")
        click.secho(f"abstained: no answer in the knowledge base ({result.abstention.get('reason')}"
                    f"{f', gate score {score:.2f}' if score is not None else ''})", fg="yellow")
    click.secho("sources:", bold=True)
    for i, s in enumerate(result.sources, start=1):
        click.echo(f"  [{i}] {s.id:38s} {s.score:7.4f}  {s.title}")
    click.secho("timings (ms): ", bold=True, nl=False)
    click.echo("  ".join(f"{k}={v:.1f}" for k, v in result.timings_ms.items()))
    click.echo(f"tokens: {result.tokens}   config: {cfg.name} ({result.config_hash})   kb: {result.kb_version}")


def _http_shape(result: Any) -> dict[str, Any]:
    """The HTTP response fields of a pipeline result (no cache, variant or memory on the CLI path)."""
    return {
        "answer": result.answer,
        "abstained": result.abstained,
        "sources": [{"id": s.id, "title": s.title, "text": s.text, "score": s.score} for s in result.sources],
        "cache_layer": None,
        "variant": None,
        "degradation_level": 0,
        "timings_ms": result.timings_ms,
        "tokens": result.tokens,
        "session": None,
        "memory_turns": 0,
        "language": result.language,
        "config_hash": result.config_hash,
        "kb_version": result.kb_version,
    }


@main.command("serve-llm")
@click.option("--backend", type=click.Choice(["llama-cpp", "simulated"]), default="llama-cpp", show_default=True)
@click.option("--model", default="gemma-3-270m", show_default=True, help="llama-cpp: a bundled name or a .gguf path.")
@click.option("--instances", default=1, show_default=True, help="llama-cpp: parallel model instances.")
@click.option("--threads", default=1, show_default=True, help="llama-cpp: threads per instance.")
@click.option("--ttft-ms", default=200.0, show_default=True, help="simulated: time to first token.")
@click.option("--tpot-ms", default=20.0, show_default=True, help="simulated: time per output token.")
@click.option("--slots", default=8, show_default=True, help="simulated: generations in parallel.")
@click.option("--jitter", default=0.1, show_default=True, help="simulated: relative timing jitter.")
@click.option("--failure-rate", default=0.0, show_default=True, help="simulated: share of requests failing with 503.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True)
def serve_llm(backend: str, model: str, instances: int, threads: int, ttft_ms: float, tpot_ms: float, slots: int,
              jitter: float, failure_rate: float, host: str, port: int) -> None:
    """Run a generator as an OpenAI-compatible LLM service (/v1/completions, /v1/chat/completions).

    Point a config at it with generator.kind=openai and generator.base_url=http://HOST:PORT/v1.
    The simulated backend streams the extractive answer with LLM-like timing, for load tests.
    """
    import uvicorn

    from workbench.serving.llm_server import LlamaCppBackend, SimulatedBackend, SimulatedLLM, create_llm_app

    if backend == "simulated":
        spec = SimulatedLLM(ttft_ms=ttft_ms, tpot_ms=tpot_ms, slots=slots, jitter=jitter, failure_rate=failure_rate)
        app = create_llm_app(SimulatedBackend(spec))
        click.echo(f"simulated LLM service: {spec!r}")
    else:
        app = create_llm_app(LlamaCppBackend(model, instances=instances, threads=threads))
        click.echo(f"llama.cpp LLM service: {model} x {instances} instance(s), {threads} thread(s) each")
    click.echo(f"base_url: http://{host}:{port}/v1")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.option("--prepare/--no-prepare", default=True, help="Assemble model files that need it (Gemma GGUF).")
def models(prepare: bool) -> None:
    """List the bundled offline models and where they are."""
    from workbench.models import main as models_main

    sys.exit(models_main(["--prepare"] if prepare else []))


@main.group()
def dataset() -> None:
    """Build and validate the project's own datasets."""


@dataset.command("build")
@click.argument("name", default="meridian_bank")
def dataset_build(name: str) -> None:
    """Merge NAME's source parts into its published files and manifest."""
    from workbench.datasets.build import build_dataset

    manifest = build_dataset(name)
    click.echo(json.dumps(manifest["counts"], indent=2))


@dataset.command("validate")
@click.argument("name", default="meridian_bank")
def dataset_validate(name: str) -> None:
    """Check every rule of the dataset's AUTHORING.md; exit 1 on problems."""
    from workbench.datasets import load_dataset
    from workbench.evaluation.personalized import dataset_problems

    ds = load_dataset(name)
    problems = dataset_problems(ds)
    for line in problems:
        click.echo(line)
    click.echo(f"{ds!r}: {'OK' if not problems else f'{len(problems)} problems'}")
    sys.exit(1 if problems else 0)


@main.command()
@click.option("--presets", default="fast,default,quality", show_default=True, help="Comma-separated presets.")
@click.option("--questions", default=50, show_default=True,
              help="Questions every preset answers (one seeded sample, so the report compares them all).")
@click.option("--load-seconds", default=8.0, show_default=True, help="Load test length per preset.")
@click.option("--load-rate", default=20.0, show_default=True, help="Offered load, requests/s (extractive presets).")
@click.option("--llm-load-rate", default=1.0, show_default=True, help="Offered load for presets with an LLM.")
@click.option("--no-serving-peak", is_flag=True,
              help="Skip the serving preset vs the bare pipeline at the morning peak (two 40 s runs).")
@click.option("--out", default="reports/demo", show_default=True, help="Report folder.")
def demo(presets: str, questions: int, load_seconds: float, load_rate: float, llm_load_rate: float,
         no_serving_peak: bool, out: str) -> None:
    """The main job: evaluate and load-test the presets on Meridian Bank, compare, and export a report."""
    from workbench.demo import ServingPeak, run_demo

    run_demo(presets=[p.strip() for p in presets.split(",") if p.strip()], questions=questions,
             load_seconds=load_seconds, load_rate=load_rate, llm_load_rate=llm_load_rate, out_dir=out,
             echo=click.echo, serving_peak=None if no_serving_peak else ServingPeak())


@main.command()
@click.argument("run_dirs", nargs=-1, required=True)
@click.option("--out", default=None, help="Report folder (default: reports/<run name>).")
@click.option("--title", default=None, help="The report's title.")
@click.option("--slo-p95-ms", type=float, default=None, help="The verdict's latency SLO (default: ReportConfig's).")
@click.option("--min-quality", type=float, default=None, help="The verdict's minimum quality (default: ReportConfig's).")
@click.option("--seed", default=0, show_default=True, help="Load runs: the seed of the bootstrap intervals.")
def report(run_dirs: tuple[str, ...], out: str | None, title: str | None, slo_p95_ms: float | None,
           min_quality: float | None, seed: int) -> None:
    """Export an HTML/Markdown/CSV/JSON report from a folder of saved experiment runs: the verdict first (which
    config to pick under the SLO and the quality bar), runs on other questions kept apart.

    Saved load-test runs (``workbench loadtest --out``: one folder holding several, or several folders, e.g.
    ``runs/before runs/after``) are compared side by side instead: each against the first, per metric B − A,
    B / A and a seeded 95% interval, the better run named only when the interval excludes 0."""
    from workbench.reporting import report_from_run_dir, report_policy

    if len(run_dirs) == 1:
        path = report_from_run_dir(run_dirs[0], out, title=title, policy=report_policy(slo_p95_ms, min_quality),
                                   seed=seed)
    else:
        from workbench.reporting.load_comparison import load_report_from_dirs

        path = load_report_from_dirs(run_dirs, out, title=title, seed=seed)
    click.echo(str(path))


def _register_subcommands() -> None:
    from workbench.dashboards.cli import lab
    from workbench.evaluation.cli import compare_command, eval_command
    from workbench.loadtest.cli import loadtest
    from workbench.serving.cli import serve

    main.add_command(eval_command)
    main.add_command(compare_command)
    main.add_command(loadtest)
    main.add_command(lab)
    main.add_command(serve)


_register_subcommands()

if __name__ == "__main__":
    main()
