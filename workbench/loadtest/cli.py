"""``workbench loadtest CONFIG``: one load test, a sweep or a capacity search from the command line.

Profiles by the field's names (:data:`~workbench.loadtest.profiles.STANDARD_PROFILES`): ``synchronous``,
``concurrent`` (``--concurrency`` streams), ``throughput``, ``constant`` / ``poisson`` / ``burstiness``
(``--rate``, ``--cv``), ``sweep`` (``--steps``), ``ramp``, ``morning-peak``; ``steady`` is the old name of an
open loop at ``--rate`` with ``--arrivals``. ``--warmup`` / ``--cooldown`` (seconds, or a fraction when < 1)
are left out of the measured window; ``--max-seconds`` (= ``--duration``), ``--max-requests`` and
``--max-errors`` bound the run. ``--slo NAME=MS`` (``ttft_ms``, ``tpot_ms``, ``itl_ms``, ``e2el_ms``) sets the
SLO; ``--score`` grades every answer against the dataset's gold (``--score-sample N``: a seeded sample),
giving correct goodput; ``--find-capacity`` searches the rate where the SLO and ``--min-correct`` hold, in
steps of ``--duration`` (default :data:`CAPACITY_STEP_S` s for a search), within ``--time-budget`` seconds, then
confirms it (``--confirm``, the default): a constant-rate run at that rate must hold and one at
``--confirm-factor`` (1.2) times it must break; it prints ``confirmed: ...`` or ``not confirmed: ...`` and why.

The target is ``--url`` (a running ``workbench serve``; ``--api openai`` any OpenAI-compatible chat
endpoint; ``--endpoint mapping.yaml`` a team's own RAG endpoint, see :mod:`workbench.loadtest.endpoint`),
else CONFIG's serving engine in process (``--set FIELD=VALUE`` overrides CONFIG). ``--locust`` runs Locust
headless instead. Every native run, sweep and search first sends ``--warm-requests`` (20) unmeasured requests;
a plain run prints the first one's time as the cold start and saves the warm-up in ``meta["warm_up"]``.

```
workbench loadtest fast --profile morning-peak --duration 60 --rate 40 --warmup 0.1 --out runs/peak
workbench loadtest fast --profile sweep --steps 6 --duration 10 --slo e2el_ms=500 --score
workbench loadtest default --find-capacity --slo e2el_ms=1500 --min-correct 0.8 --out runs/cap
workbench loadtest default --set cache.enabled=true --find-capacity --slo e2el_ms=400 --min-correct 0.5 --time-budget 170
workbench loadtest fast --url http://127.0.0.1:8000 --profile concurrent --concurrency 16 --duration 30
workbench loadtest fast --url http://127.0.0.1:9000 --endpoint mapping.yaml --profile poisson --rate 5 --score
```
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from workbench.loadtest.profiles import PROFILE_NAMES, STANDARD_PROFILES, RunProfile, span_seconds
from workbench.loadtest.stats import SLO

__all__ = ["CAPACITY_STEP_S", "RUN_SECONDS", "WARM_REQUESTS", "loadtest"]

_STEADY = {"poisson": "poisson", "uniform": "constant", "gamma": "burstiness"}
#: Unmeasured requests before every native run, sweep and capacity search (a cold engine's first answers load
#: its models); ``--warm-requests`` changes it.
WARM_REQUESTS = 20
#: A run's length when ``--duration`` is not given.
RUN_SECONDS = 30.0
#: A capacity-search step's length when ``--duration`` is not given (a search is a dozen steps or so).
CAPACITY_STEP_S = 6.0


def _sender(url: str, mapping: Any) -> Any:
    from workbench.loadtest.http import HttpSender

    return HttpSender(url, mapping=mapping)


def _span(value: str) -> float:
    """``--warmup 5`` / ``5s`` seconds, ``0.1`` / ``10%`` a fraction of the run."""
    v = value.strip()
    try:
        if v.endswith("%"):
            return float(v[:-1]) / 100
        seconds = v.endswith("s")
        x = float(v[:-1] if seconds else v)
    except ValueError:
        raise click.BadParameter(f"{value!r}: seconds (5, 5s) or a fraction of the run (0.1, 10%)") from None
    if seconds and 0 < x < 1:
        raise click.BadParameter(f"{value!r}: under 1 s, give a fraction of the run instead (values < 1 are fractions)")
    return x


@click.command("loadtest")
@click.argument("config")
@click.option("--profile", "profile_name", type=click.Choice((*STANDARD_PROFILES, *PROFILE_NAMES[:1])),
              default="steady", show_default=True, help="A standard profile (steady: open loop at --rate).")
@click.option("--duration", "--max-seconds", "duration", type=float, default=None,
              help=f"Seconds per run (each sweep or capacity step). Default {RUN_SECONDS:g}; a capacity step "
                   f"{CAPACITY_STEP_S:g}.")
@click.option("--rate", type=float, default=None, help="Open loop: requests/s (steady, final or peak). Default 10.")
@click.option("--concurrency", type=int, default=None, help="Streams: concurrent (required), throughput (64).")
@click.option("--think", type=float, default=0.0, show_default=True, help="Concurrent: mean think time (s).")
@click.option("--arrivals", type=click.Choice(["poisson", "gamma", "uniform"]), default="poisson", show_default=True,
              help="--profile steady only: the arrival process.")
@click.option("--cv", type=float, default=2.0, show_default=True, help="Burstiness: the gaps' coefficient of variation.")
@click.option("--steps", type=int, default=5, show_default=True, help="Sweep: runs in all.")
@click.option("--warmup", default="0", show_default=True, help="Left out of the measured window: s or fraction.")
@click.option("--cooldown", default="0", show_default=True, help="Left out at the end: s or fraction.")
@click.option("--max-requests", type=int, default=None, help="Stop after this many requests.")
@click.option("--max-errors", type=int, default=None, help="Stop sending after this many errors.")
@click.option("--slo", "slo_specs", multiple=True, metavar="NAME=MS",
              help="SLO bound: ttft_ms, tpot_ms (excludes the first token), itl_ms (largest gap), e2el_ms.")
@click.option("--score", is_flag=True, help="Grade answers against the dataset's gold (correct goodput).")
@click.option("--score-sample", type=int, default=None, help="Grade a seeded sample of this many answers per run.")
@click.option("--find-capacity", is_flag=True, help="Search the rate at which the SLO and --min-correct hold.")
@click.option("--min-correct", type=float, default=None, help="Capacity: the correct share to keep (0-1).")
@click.option("--attainment", type=float, default=0.95, show_default=True,
              help="Capacity: share of requests that must meet the SLO.")
@click.option("--confirm/--no-confirm", default=True, show_default=True,
              help="Capacity: confirm the rate found (constant rate there must hold, at --confirm-factor x must break).")
@click.option("--confirm-factor", type=click.FloatRange(min=1.0, min_open=True), default=1.2, show_default=True,
              help="Capacity: the confirmation's second rate, a multiple of the capacity found.")
@click.option("--time-budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Capacity: seconds for the whole search and confirmation; no step starts that would not fit.")
@click.option("--url", default=None, help="HTTP target (a running `workbench serve`); default: in-process.")
@click.option("--api", type=click.Choice(["workbench", "openai"]), default="workbench", show_default=True,
              help="--url speaks our /v1/chat or OpenAI's /v1/chat/completions (answer from choices[0]).")
@click.option("--endpoint", "endpoint_file", type=click.Path(path_type=Path), default=None,
              help="--url is a custom RAG endpoint described by this YAML/JSON mapping (template, answer_path).")
@click.option("--warm-requests", type=click.IntRange(min=0), default=WARM_REQUESTS, show_default=True,
              help="Unmeasured requests first (2 at a time, the workload under the next seed); the first one's "
                   "time is printed as the cold start. 0: none. Not with --locust.")
@click.option("--locust", "use_locust", is_flag=True, help="Run Locust headless (FastHttpUser) instead.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Save rows + manifest here.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--zipf", type=float, default=1.1, show_default=True, help="Zipf exponent over intents.")
@click.option("--stream-share", type=float, default=0.0, show_default=True)
@click.option("--slo-ttft-ms", type=float, default=None, help="Same as --slo ttft_ms=MS.")
@click.option("--slo-e2e-ms", type=float, default=None, help="Same as --slo e2el_ms=MS.")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a config field, e.g. --set cache.enabled=true (repeatable).")
@click.option("--no-progress", is_flag=True)
def loadtest(config: str, profile_name: str, duration: float | None, rate: float | None, concurrency: int | None,
             think: float, arrivals: str, cv: float, steps: int, warmup: str, cooldown: str, max_requests: int | None,
             max_errors: int | None, slo_specs: tuple[str, ...], score: bool, score_sample: int | None,
             find_capacity: bool, min_correct: float | None, attainment: float, confirm: bool,
             confirm_factor: float, time_budget: float | None, url: str | None, api: str,
             endpoint_file: Path | None, warm_requests: int, use_locust: bool,
             out: Path | None, seed: int, zipf: float, stream_share: float, slo_ttft_ms: float | None,
             slo_e2e_ms: float | None, overrides: tuple[str, ...], no_progress: bool) -> None:
    """Load-test CONFIG (a preset or YAML) with a seeded workload from the bank dataset."""
    from workbench.cli import _load_config
    from workbench.loadtest.endpoint import EndpointMapping
    from workbench.loadtest.workload import Workload, WorkloadSpec

    cfg = _load_config(config, overrides)
    if duration is None:
        duration = CAPACITY_STEP_S if find_capacity else RUN_SECONDS
    mapping = EndpointMapping.load(endpoint_file) if endpoint_file else EndpointMapping(kind=api)  # type: ignore[arg-type]
    if mapping.kind != "workbench" and not url:
        raise click.UsageError("--api openai and --endpoint describe an HTTP endpoint: give its --url")
    specs = list(slo_specs) + ([f"ttft_ms={slo_ttft_ms}"] if slo_ttft_ms else []) + \
        ([f"e2el_ms={slo_e2e_ms}"] if slo_e2e_ms else [])
    slo = SLO.parse(specs) if specs else None
    # personalized questions need the tool path (and their tenant): only when the config enables tools
    personal = WorkloadSpec.model_fields["personalized_share"].default if cfg.tools.enabled else 0.0
    workload = Workload(WorkloadSpec(seed=seed, zipf_s=zipf, stream_share=stream_share, personalized_share=personal,
                                     tenants=tuple(cfg.serving.tenants)))
    if profile_name == "steady":
        profile_name = "concurrent" if concurrency else _STEADY[arrivals]
    profile = RunProfile(name=profile_name, rate=rate or 10.0, concurrency=concurrency, duration_s=duration, cv=cv,
                         steps=steps, max_requests=max_requests)
    do_score: bool | int = (score_sample or True) if (score or score_sample or min_correct is not None) else False
    runner_kwargs: dict[str, Any] = {"warmup": _span(warmup), "cooldown": _span(cooldown), "max_errors": max_errors}
    for v in (runner_kwargs["warmup"], runner_kwargs["cooldown"]):
        span_seconds(v, duration)  # refuses a negative span before anything runs
    if find_capacity:
        if slo is None:
            raise click.UsageError("--find-capacity needs an SLO: e.g. --slo e2el_ms=1500")
        _capacity(cfg, url, mapping, workload, slo, min_correct, attainment, duration, runner_kwargs, score_sample, think,
                  seed, out, warm_requests, {"confirm": confirm, "confirm_factor": confirm_factor,
                                             "time_budget_s": time_budget})
        return
    if profile.name == "sweep":
        _sweep(cfg, url, mapping, workload, profile, slo, seed, do_score, runner_kwargs, out, warm_requests)
        return
    if use_locust:
        result = _run_locust(cfg, url, workload, concurrency, rate, duration, profile.name, out)
    else:
        result = _run_native(cfg, url, mapping, workload, profile, think, seed, slo, no_progress,
                             dict(runner_kwargs, score=do_score), warm_requests)
    result.meta.update(config=cfg.name, config_hash=cfg.hash, target_url=url, overrides=list(overrides),
                       endpoint=mapping.model_dump(mode="json"))
    if slo is not None:
        result.meta["slo"] = slo.to_dict()
    _print_summary(result.summary(slo))
    if out is not None:
        result.save(out)
        click.echo(f"saved: {out}/run.json and {out}/requests.csv")


def _drive(cfg: Any, url: str | None, mapping: Any, job: Callable[[Any], Any]) -> Any:
    """Run ``await job(target)`` against ``url`` or CONFIG's engine in process, in one event loop."""
    from workbench.loadtest.inprocess import run_with_engine

    class _Job:
        def __init__(self, target: Any) -> None:
            self.target = target

        async def run(self) -> Any:
            return await job(self.target)

    if url:
        return asyncio.run(job(_sender(url, mapping)))
    return run_with_engine(cfg, _Job)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")


def _save_runs(runs: dict[str, Any], out: Path, cfg: Any, url: str | None) -> None:
    for label, res in runs.items():
        res.meta.update(config=cfg.name, config_hash=cfg.hash, target_url=url)
        res.save(out / "runs" / _slug(label))


def _sweep(cfg: Any, url: str | None, mapping: Any, workload: Any, profile: RunProfile, slo: SLO | None, seed: int,
           score: bool | int, runner_kwargs: dict[str, Any], out: Path | None, warm_requests: int) -> None:
    from workbench.loadtest.capacity import sweep

    def step(label: str, res: Any) -> None:
        s = res.summary(slo)
        click.echo(f"  {label:<22} {s['throughput_rps']:8.1f} req/s  p50 {s['latency_ms']['p50']:8.1f} ms  "
                   f"p99 {s['latency_ms']['p99']:8.1f} ms" +
                   (f"  goodput {s['goodput_rps']:.1f}" if "goodput_rps" in s else "") +
                   (f"  correct {s['correct_share']:.0%}" if "correct_share" in s else ""))

    result = _drive(cfg, url, mapping, lambda target: sweep(
        target, workload, steps=profile.steps, duration_s=profile.duration_s, concurrency=profile.concurrency,
        slo=slo, seed=seed, on_step=step, score=score, warm_requests=warm_requests, **runner_kwargs))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.curve.to_csv(out / "curve.csv", index=False)
        _save_runs(result.runs, out, cfg, url)
        click.echo(f"saved: {out}/curve.csv and {out}/runs/")


def _capacity(cfg: Any, url: str | None, mapping: Any, workload: Any, slo: SLO, min_correct: float | None, attainment: float,
              step_s: float, runner_kwargs: dict[str, Any], score_sample: int | None, think: float, seed: int,
              out: Path | None, warm_requests: int, search: dict[str, Any]) -> None:
    from workbench.loadtest.capacity import find_capacity

    def step(label: str, res: Any) -> None:
        s = res.summary(slo)
        click.echo(f"  {label:<24} attainment {s.get('slo_attainment', math.nan):6.1%}  "
                   f"p99 {s['latency_ms']['p99']:8.1f} ms" +
                   (f"  correct {s['correct_share']:.0%}" if "correct_share" in s else ""))

    kwargs = dict(runner_kwargs)
    warm = kwargs.pop("warmup") or 0.2
    kwargs.pop("cooldown", None)
    cap = _drive(cfg, url, mapping, lambda target: find_capacity(
        target, workload, slo, min_correct=min_correct, attainment=attainment, step_s=step_s, warmup=warm,
        think_s=think, score_sample=score_sample, seed=seed, on_step=step, warm_requests=warm_requests, **search,
        **kwargs))
    click.echo(cap.headline())
    click.echo(f"search {cap.search_s:.0f} s (stopped by {cap.stopped_by})" +
               (f", confirmation {cap.confirm_s:.0f} s" if cap.confirmation else ""))
    if search["confirm"]:
        click.echo(cap.confirmation_line())
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "capacity.json").write_text(json.dumps({**cap.to_dict(), "config": cfg.name, "target_url": url},
                                                      indent=2, default=str), encoding="utf-8")
        cap.curve.to_csv(out / "curve.csv", index=False)
        _save_runs(cap.runs, out, cfg, url)
        click.echo(f"saved: {out}/capacity.json, {out}/curve.csv and {out}/runs/")


def _run_native(cfg: Any, url: str | None, mapping: Any, workload: Any, profile: RunProfile, think: float, seed: int,
                slo: SLO | None, no_progress: bool, runner_kwargs: dict[str, Any], warm_requests: int) -> Any:
    """One measured run after ``warm_requests`` unmeasured ones (on the same loop, engine and connection pool);
    the warm-up's numbers go to ``result.meta["warm_up"]``."""
    from tqdm import tqdm

    from workbench.loadtest.runners import runner_for

    bar = None if no_progress else tqdm(total=None, unit="req", desc="loadtest", dynamic_ncols=True)

    def progress(done: int, total: int | None) -> None:
        if bar is None:
            return
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    async def job(target: Any) -> Any:
        try:
            warm = await _warm_up(target, workload, warm_requests)
            result = await runner_for(profile, target, workload, seed=seed, think_s=think, slo=slo,
                                      progress=progress, **runner_kwargs).run()
        finally:
            close = getattr(target, "aclose", None)  # the runner closes it too; a failed warm-up must not leak it
            if close is not None and url:
                await close()
        if warm is not None:
            result.meta["warm_up"] = warm
        return result

    try:
        return _drive(cfg, url, mapping, job)
    finally:
        if bar is not None:
            bar.close()


async def _warm_up(target: Any, workload: Any, requests: int) -> dict[str, Any] | None:
    """Send ``requests`` unmeasured requests (:func:`~workbench.loadtest.capacity.warm_up`, the workload under the
    next seed so they prime no cache entry the measured run draws beyond chance); print the cold start (the first
    request's time) and return the warm-up's numbers (:func:`~workbench.dashboards.warm_summary`), None for 0."""
    if requests <= 0:
        return None
    from workbench.dashboards.loadtest import LiveRecorder, warm_summary
    from workbench.loadtest.capacity import warm_up
    from workbench.loadtest.senders import TargetSender
    from workbench.loadtest.workload import Workload

    inner = target if callable(getattr(target, "send", None)) else TargetSender(target)
    recorder = LiveRecorder(inner, close_inner=False)
    reseeded = Workload(workload.spec.model_copy(update={"seed": workload.spec.seed + 1}))
    await warm_up(recorder, reseeded, requests)
    warm = warm_summary(recorder)
    if warm is not None:
        click.echo(f"cold start (not measured): first request {warm['cold_start_ms']:,.1f} ms; warm-up "
                   f"{warm['requests']} requests in {warm['seconds']:.1f} s ({warm['errors']} errors), p50 of its "
                   f"second half {warm['warm_p50_ms']:,.1f} ms ({warm['percentile_method']})")
    return warm


def _run_locust(cfg: Any, url: str | None, workload: Any, concurrency: int | None, rate: float | None,
                duration: float, profile_name: str, out: Path | None) -> Any:
    from workbench.loadtest.locust_runner import run_locust

    if profile_name not in ("poisson", "constant", "concurrent"):
        click.echo(f"note: --locust runs a steady load; profile {profile_name!r} applies to the native runners")
    users = concurrency or max(1, min(50, math.ceil((rate or 10.0) / 5)))
    per_user = (rate / users) if rate else None
    # constant: Locust's even pacing (users in phase send in bursts); otherwise seeded Poisson pacing per user
    arrivals = "constant" if profile_name == "constant" else "poisson"
    if url:
        return run_locust(url, workload, users=users, run_time_s=duration, rate_per_user=per_user,
                          arrivals=arrivals, out_dir=out / "locust" if out else None)
    from workbench.loadtest.contract_app import create_contract_app
    from workbench.loadtest.inprocess import make_inprocess_target
    from workbench.testing import UvicornServer

    target = make_inprocess_target(cfg)
    try:
        with UvicornServer(create_contract_app(target)) as server:
            click.echo(f"serving {cfg.name} in-process at {server.url} for Locust")
            return run_locust(server.url, workload, users=users, run_time_s=duration, rate_per_user=per_user,
                              arrivals=arrivals, out_dir=out / "locust" if out else None)
    finally:
        target.close()


def _print_summary(s: dict[str, Any]) -> None:
    lat = s["latency_ms"]
    measured = f" (measured {s['measured']['from_s']:g}-{s['measured']['to_s']:g} s)" if s.get("measured") else ""
    click.echo(f"requests {s['requests']}  ok {s['ok']}  shed {s['shed']}  errors {s['errors']}  "
               f"window {s['window_s']:.1f} s{measured}")
    click.echo(f"throughput {s['throughput_rps']:.1f} req/s  tokens {s['tokens_per_s']:.1f}/s  "
               f"offered {s['offered_rps']:.1f} req/s  lateness p99 {s['lateness_ms']['p99']:.1f} ms")
    click.echo("latency ms (" + s["percentile_method"] + "): " +
               "  ".join(f"{k}={v:.1f}" for k, v in lat.items()))
    if "goodput_rps" in s:
        click.echo(f"goodput {s['goodput_rps']:.1f} req/s  SLO attainment {s['slo_attainment']:.1%}  slo {s['slo']}")
    if "quality" in s:
        q = s["quality"]
        lo, hi = q["correct_share_ci95"]
        click.echo(f"correct {q['correct_share']:.1%} [{lo:.1%}, {hi:.1%}] of {q['scored']} scored" +
                   (f"  correct goodput {s['correct_goodput_rps']:.1f} req/s" if "correct_goodput_rps" in s else ""))
        click.echo("per degradation level: " + "  ".join(
            f"L{k}: {v['share']:.0%} of answers, {v['correct_share']:.0%} correct"
            for k, v in q["by_degradation_level"].items()))
    click.echo("cache hit rate: " + json.dumps({k: round(v, 3) for k, v in s["cache_hit_rate"].items()
                                                if isinstance(v, float) and not math.isnan(v)}))
