"""``workbench loadtest CONFIG``: one load test from the command line, with a live progress bar.

Open loop at ``--rate`` (the steady, final or peak rate of ``--profile``), or closed loop with
``--concurrency`` users. The target is ``--url`` (a running ``workbench serve``), else CONFIG's
in-process target (:func:`~workbench.loadtest.inprocess.make_inprocess_target`). ``--locust`` runs
Locust headless instead (against ``--url``, or CONFIG's target served on 127.0.0.1 by the contract app).

```
workbench loadtest fast --profile morning-peak --duration 60 --rate 40 --out runs/peak
workbench loadtest fast --url http://127.0.0.1:8000 --concurrency 16 --duration 30
workbench loadtest fast --url http://127.0.0.1:8000 --locust --concurrency 20 --rate 100 --duration 20
```
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from workbench.loadtest.profiles import PROFILE_NAMES, LoadProfile
from workbench.loadtest.stats import SLO

__all__ = ["loadtest"]


@click.command("loadtest")
@click.argument("config")
@click.option("--profile", "profile_name", type=click.Choice(PROFILE_NAMES), default="steady", show_default=True)
@click.option("--duration", type=float, default=30.0, show_default=True, help="Seconds.")
@click.option("--rate", type=float, default=None, help="Open loop: requests/s (steady, final or peak). Default 10.")
@click.option("--concurrency", type=int, default=None, help="Closed loop: this many users (instead of --rate).")
@click.option("--think", type=float, default=0.0, show_default=True, help="Closed loop: mean think time (s).")
@click.option("--arrivals", type=click.Choice(["poisson", "gamma", "uniform"]), default="poisson", show_default=True)
@click.option("--cv", type=float, default=2.0, show_default=True, help="Gamma arrivals: coefficient of variation.")
@click.option("--url", default=None, help="HTTP target (a running `workbench serve`); default: in-process.")
@click.option("--locust", "use_locust", is_flag=True, help="Run Locust headless (FastHttpUser) instead.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Save rows + manifest here.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--zipf", type=float, default=1.1, show_default=True, help="Zipf exponent over intents.")
@click.option("--stream-share", type=float, default=0.0, show_default=True)
@click.option("--slo-ttft-ms", type=float, default=None)
@click.option("--slo-e2e-ms", type=float, default=None)
@click.option("--no-progress", is_flag=True)
def loadtest(config: str, profile_name: str, duration: float, rate: float | None, concurrency: int | None,
             think: float, arrivals: str, cv: float, url: str | None, use_locust: bool, out: Path | None, seed: int,
             zipf: float, stream_share: float, slo_ttft_ms: float | None, slo_e2e_ms: float | None,
             no_progress: bool) -> None:
    """Load-test CONFIG (a preset or YAML) with a seeded workload from the bank dataset."""
    from workbench.config import PipelineConfig
    from workbench.loadtest.workload import Workload, WorkloadSpec

    cfg = PipelineConfig.load(config)
    slo = SLO(ttft_ms=slo_ttft_ms, e2e_ms=slo_e2e_ms) if (slo_ttft_ms or slo_e2e_ms) else None
    # personalized questions need the tool path (and their tenant): only when the config enables tools
    personal = WorkloadSpec.model_fields["personalized_share"].default if cfg.tools.enabled else 0.0
    workload = Workload(WorkloadSpec(seed=seed, zipf_s=zipf, stream_share=stream_share, personalized_share=personal,
                                     tenants=tuple(cfg.serving.tenants)))
    profile = LoadProfile.named(profile_name, rate or 10.0, duration)
    if use_locust:
        result = _run_locust(cfg, url, workload, concurrency, rate, duration, profile_name, out)
    else:
        result = _run_native(cfg, url, workload, profile, concurrency, think, arrivals, cv, seed, slo, no_progress)
    result.meta.update(config=cfg.name, config_hash=cfg.hash, target_url=url)
    if slo is not None:
        result.meta["slo"] = {"ttft_ms": slo.ttft_ms, "e2e_ms": slo.e2e_ms}
    _print_summary(result.summary(slo))
    if out is not None:
        result.save(out)
        click.echo(f"saved: {out}/manifest.json and {out}/requests.parquet")


def _run_native(cfg: Any, url: str | None, workload: Any, profile: LoadProfile, concurrency: int | None, think: float,
                arrivals: str, cv: float, seed: int, slo: SLO | None, no_progress: bool) -> Any:
    from tqdm import tqdm

    from workbench.loadtest.http import HttpSender
    from workbench.loadtest.inprocess import run_with_engine
    from workbench.loadtest.runners import ClosedLoopRunner, OpenLoopRunner

    target: Any = HttpSender(url) if url else None  # None: the config's async engine, in process
    bar = None if no_progress else tqdm(total=None, unit="req", desc="loadtest", dynamic_ncols=True)

    def progress(done: int, total: int | None) -> None:
        if bar is None:
            return
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    def build(t: Any) -> Any:
        if concurrency:
            return ClosedLoopRunner(t, workload, users=concurrency, think_s=think, ramp_s=profile.ramp_s,
                                    duration_s=profile.duration_s, seed=seed, slo=slo, progress=progress)
        return OpenLoopRunner(t, workload, profile, arrivals=arrivals, cv=cv,  # type: ignore[arg-type]
                              seed=seed, slo=slo, progress=progress)

    try:
        if target is None:
            return run_with_engine(cfg, build)
        return build(target).run_sync()
    finally:
        if bar is not None:
            bar.close()
        close = getattr(target, "close", None)
        if close is not None:
            close()


def _run_locust(cfg: Any, url: str | None, workload: Any, concurrency: int | None, rate: float | None,
                duration: float, profile_name: str, out: Path | None) -> Any:
    from workbench.loadtest.locust_runner import run_locust

    if profile_name != "steady":
        click.echo(f"note: --locust runs a steady load; profile {profile_name!r} applies to the native runners")
    users = concurrency or max(1, min(50, math.ceil((rate or 10.0) / 5)))
    per_user = (rate / users) if rate else None
    if url:
        return run_locust(url, workload, users=users, run_time_s=duration, rate_per_user=per_user,
                          out_dir=out / "locust" if out else None)
    from workbench.loadtest.contract_app import create_contract_app
    from workbench.loadtest.inprocess import make_inprocess_target
    from workbench.testing import UvicornServer

    target = make_inprocess_target(cfg)
    try:
        with UvicornServer(create_contract_app(target)) as server:
            click.echo(f"serving {cfg.name} in-process at {server.url} for Locust")
            return run_locust(server.url, workload, users=users, run_time_s=duration, rate_per_user=per_user,
                              out_dir=out / "locust" if out else None)
    finally:
        target.close()


def _print_summary(s: dict[str, Any]) -> None:
    lat = s["latency_ms"]
    click.echo(f"requests {s['requests']}  ok {s['ok']}  shed {s['shed']}  errors {s['errors']}  "
               f"window {s['window_s']:.1f} s")
    click.echo(f"throughput {s['throughput_rps']:.1f} req/s  tokens {s['tokens_per_s']:.1f}/s  "
               f"offered {s['offered_rps']:.1f} req/s")
    click.echo("latency ms (" + s["percentile_method"] + "): " +
               "  ".join(f"{k}={v:.1f}" for k, v in lat.items()))
    if "goodput_rps" in s:
        click.echo(f"goodput {s['goodput_rps']:.1f} req/s  SLO attainment {s['slo_attainment']:.1%}  slo {s['slo']}")
    click.echo("cache hit rate: " + json.dumps({k: round(v, 3) for k, v in s["cache_hit_rate"].items()
                                                if isinstance(v, float) and not math.isnan(v)}))
