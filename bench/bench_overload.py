"""Overload with the real pipeline: goodput at 2× the saturation of a preset (default: ``default``, no LLM).

For each case (cache off; cache on, with the Zipf workload; ``on-gated``: cache on with the semantic lookup's
embedding behind ``AdmissionQueue.for_lookups(...).gate``, wired here in process as the engine is asked to
wire it, see issue 13), in one process, against one warm engine:

  1. warm-up: models, and with the cache on a closed-loop pass that fills it (``--warm-requests``);
  2. saturation: open-loop Poisson steps (seeded), each ``--step-s`` long at a rate ``--step-factor`` × the
     previous one, until two steps in a row meet the SLO for fewer than 80 % of their requests; the
     saturation rate is the highest step that met it for >= 95 %, and the saturation goodput is that step's
     goodput (``goodput_vs_peak`` compares with the best goodput of any step instead);
  3. ``--window-s`` seconds at the saturation rate (the saturation goodput the ratios divide by), then
     ``--window-s`` seconds at twice that rate, then the time until the degradation level is back at 0,
     counted from the last scheduled arrival;
  4. ``--window-s`` seconds at the saturation rate again, to show how much the shared machine drifted
     (``goodput_vs_sat_mean`` divides by the mean of the two saturation runs).

Goodput = requests answered within the SLO (end to end, from the scheduled start) per second of the run;
``goodput_full`` counts only answers served at degradation level 0 or from the cache (a cached answer is a
full-service one). Percentiles are nearest rank (workbench.percentiles) over admitted (answered) requests.
Every shed request must carry a retry hint: HTTP 429 + ``Retry-After`` (``--http``), or an
``OverloadedError`` with ``retry_after`` in process; the table counts the ones that did not.

``--http`` runs the same cases against ``workbench serve`` in its own process (a real uvicorn server) driven
by the HTTP runner; the level is read from ``/metrics``. Run (about 3 minutes per case; ``--quick`` ~1.5):

    .venv/bin/python bench/bench_overload.py
    .venv/bin/python bench/bench_overload.py --http --cases off
    .venv/bin/python bench/bench_overload.py --quick --set serving.max_concurrency=4

Writes ``bench/results/overload.json`` (``overload_http.json`` with ``--http``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

import workbench  # noqa: F401  (offline switches first)
from workbench.config import PipelineConfig
from workbench.loadtest import (
    SLO,
    ClosedLoopRunner,
    HttpSender,
    LoadProfile,
    LoadResult,
    OpenLoopRunner,
    Workload,
    WorkloadSpec,
)
from workbench.loadtest.stats import slo_mask
from workbench.percentiles import PERCENTILE_METHOD, percentile
from workbench.serving import AdmissionQueue, AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
_RETRY = re.compile(r"retry after (\d+(?:\.\d+)?) s|Retry-After: (\d+)")


def workload(seed: int) -> Workload:
    """Shared-knowledge questions drawn by Zipf popularity (a share worded as paraphrases)."""
    return Workload(WorkloadSpec(seed=seed, personalized_share=0.0, session_share=0.0))


def goodput_row(name: str, res: LoadResult, slo: SLO, **extra: Any) -> dict[str, Any]:
    """One table row: counts, goodput (all answers and full-service answers only), admitted latency."""
    df = res.df
    s = res.summary(slo)
    ok = (df["status"] == "ok").to_numpy()
    within = slo_mask(ok, df["ttft_ms"].to_numpy(), df["latency_ms"].to_numpy(), slo)
    full = within & ((df["degradation_level"].to_numpy() == 0) | df["cache_layer"].notna().to_numpy())
    window = res.window_s
    lat = df.loc[ok, "latency_ms"].to_numpy()
    shed = df[df["status"] == "shed"]
    no_hint = int(sum(1 for e in shed["error"] if not _RETRY.search(str(e))))
    return {"run": name, "offered_rps": round(s["offered_rps"], 1), "requests": s["requests"], "ok": s["ok"],
            "shed": s["shed"], "errors": s["errors"], "shed_without_retry_after": no_hint,
            "goodput_rps": round(float(within.sum()) / window, 2) if window > 0 else math.nan,
            "goodput_full_rps": round(float(full.sum()) / window, 2) if window > 0 else math.nan,
            "slo_attainment": round(s["slo_attainment"], 3),
            "p50_ms": round(percentile(lat, 50), 1) if len(lat) else math.nan,
            "p95_ms": round(percentile(lat, 95), 1) if len(lat) else math.nan,
            "hit_rate": round(s["cache_hit_rate"]["any"], 3) if s["ok"] else math.nan,
            "levels": s["degradation_levels"],
            "error_sample": next((str(e)[:120] for e in df.loc[df["status"] == "error", "error"]), None), **extra}


class InProcess:
    """The engine in this process, driven through ``engine.handle``; ``gate_lookups``: the semantic cache lookup's
    embedding (shared with the pipeline's micro-batcher) behind a line of its own."""

    def __init__(self, cfg: PipelineConfig, *, gate_lookups: bool = False) -> None:
        self.cfg = cfg
        self.engine = AsyncEngine.from_config(cfg)
        self.gate_lookups = gate_lookups

    async def __aenter__(self) -> InProcess:
        await self.engine.start()
        if self.gate_lookups:
            semantic = getattr(self.engine.parts.cache, "semantic", None)
            if semantic is None or semantic.shared_embed is None:
                raise SystemExit("on-gated: the engine's cache has no shared semantic embedding to gate")
            semantic.shared_embed = AdmissionQueue.for_lookups(self.cfg.serving).gate(semantic.shared_embed)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.aclose()

    @property
    def target(self) -> Any:
        return self.engine

    async def level(self) -> int:
        return int(self.engine.policy.level)


class OverHttp:
    """``workbench serve`` in its own process (real uvicorn), driven by the HTTP runner."""

    def __init__(self, cfg: PipelineConfig, env: dict[str, str]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-overload-")
        path = Path(self._dir.name) / "config.yaml"
        cfg.to_yaml(path)
        from workbench.testing.servers import ServeProcess

        self.server = ServeProcess(path, env=env, log_path=Path(self._dir.name) / "serve.log")
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> OverHttp:
        await asyncio.to_thread(self.server.start)
        self._client = httpx.AsyncClient(base_url=self.server.url, timeout=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
        await asyncio.to_thread(self.server.stop)
        self._dir.cleanup()

    @property
    def target(self) -> Any:
        return HttpSender(self.server.url, timeout_s=60.0)

    async def level(self) -> int:
        assert self._client is not None
        text = (await self._client.get("/metrics")).text
        m = re.search(r"^workbench_degradation_level (\S+)$", text, re.M)
        return int(float(m.group(1))) if m else -1


async def sample_levels(level: Callable[[], Awaitable[int]], out: list[tuple[float, int]], t0: float,
                        every_s: float = 0.5) -> None:
    """Append (seconds since ``t0``, level) every ``every_s`` until cancelled."""
    while True:
        try:
            out.append((round(time.monotonic() - t0, 1), await level()))
        except (httpx.HTTPError, OSError):
            pass
        await asyncio.sleep(every_s)


async def wait_level_zero(level: Callable[[], Awaitable[int]], since: float, timeout_s: float = 60.0) -> float:
    """Seconds from ``since`` (monotonic) until the level reads 0 (NaN if not within ``timeout_s``)."""
    while time.monotonic() - since < timeout_s:
        try:
            if await level() == 0:
                return round(time.monotonic() - since, 2)
        except (httpx.HTTPError, OSError):
            pass
        await asyncio.sleep(0.1)
    return math.nan


async def open_loop(target: Any, rate: float, seconds: float, args: argparse.Namespace, slo: SLO,
                    seed: int) -> LoadResult:
    prof = LoadProfile.steady(rate, seconds)
    return await OpenLoopRunner(target, workload(seed), prof, seed=seed, slo=slo, drain_timeout_s=90).run()


def level_changes(timeline: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """The timeline reduced to its changes."""
    out: list[tuple[float, int]] = []
    for t, lvl in timeline:
        if not out or out[-1][1] != lvl:
            out.append((t, lvl))
    return out


async def run_case(name: str, cfg: PipelineConfig, args: argparse.Namespace, slo: SLO) -> dict[str, Any]:
    env = {"OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"]} if "OMP_NUM_THREADS" in os.environ else {}
    if args.http and name.endswith("gated"):
        raise SystemExit("on-gated wires the gate in process: run it without --http")
    service: InProcess | OverHttp = (OverHttp(cfg, env) if args.http
                                     else InProcess(cfg, gate_lookups=name.endswith("gated")))
    out: dict[str, Any] = {"case": name, "steps": [], "rows": []}
    async with service:
        t = service.target
        warm = await ClosedLoopRunner(t, workload(args.seed + 99), users=4, max_requests=args.warm_requests,
                                      seed=args.seed).run()
        out["warm_hit_rate"] = round(warm.summary()["cache_hit_rate"]["any"], 3)
        rate, sat, missed = args.start_rps, None, 0
        for i in range(args.max_steps):  # saturation: open-loop steps until two in a row miss the SLO
            await wait_level_zero(service.level, time.monotonic(), 15.0)
            res = await open_loop(t, rate, args.step_s, args, slo, args.seed + i)
            row = goodput_row(f"step {i + 1}", res, slo, target_rps=round(rate, 2))
            out["steps"].append(row)
            print(f"  [{name}] step {rate:6.1f} rps: goodput {row['goodput_rps']:6.1f}, attainment "
                  f"{row['slo_attainment']:.3f}, p50 {row['p50_ms']} ms, shed {row['shed']}", flush=True)
            if row["slo_attainment"] >= 0.95:
                sat = row
            missed = missed + 1 if row["slo_attainment"] < 0.8 else 0
            if missed == 2:
                break
            rate *= args.step_factor
        if sat is None:
            raise SystemExit(f"{name}: even {args.start_rps} rps missed the SLO; lower --start-rps")
        sat_rate = sat["target_rps"]
        out["saturation_rps"] = sat_rate
        out["peak_step_goodput_rps"] = peak = max(r["goodput_rps"] for r in out["steps"])
        # saturation over the same window as the 2x run, then 2x with the level sampled throughout, then
        # saturation again (how far the shared machine drifted meanwhile)
        await wait_level_zero(service.level, time.monotonic(), 15.0)
        sat_run = await open_loop(t, sat_rate, args.window_s, args, slo, args.seed + 500)
        out["rows"].append(sat_row := goodput_row("saturation", sat_run, slo))
        await wait_level_zero(service.level, time.monotonic(), 15.0)
        timeline: list[tuple[float, int]] = []
        t0 = time.monotonic()
        sampler = asyncio.get_running_loop().create_task(sample_levels(service.level, timeline, t0))
        res = await open_loop(t, 2 * sat_rate, args.window_s, args, slo, args.seed + 1000)
        load_end = t0 + float(res.df["scheduled_s"].max() - res.df["scheduled_s"].min())
        recovery = await wait_level_zero(service.level, load_end, 60.0)
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        out["rows"].append(goodput_row("2x saturation", res, slo, recovery_s=recovery))
        out["level_timeline"] = level_changes(timeline)
        await wait_level_zero(service.level, time.monotonic(), 15.0)
        again = await open_loop(t, sat_rate, args.window_s, args, slo, args.seed + 2000)
        out["rows"].append(again_row := goodput_row("saturation (again)", again, slo))
    sat_good, sat_full = sat_row["goodput_rps"], sat_row["goodput_full_rps"]
    both = (sat_good + again_row["goodput_rps"]) / 2
    out["saturation_goodput_rps"] = sat_good
    for r in out["rows"]:
        r["goodput_vs_sat"] = round(r["goodput_rps"] / sat_good, 2) if sat_good else None
        r["goodput_vs_sat_mean"] = round(r["goodput_rps"] / both, 2) if both else None
        r["goodput_vs_peak"] = round(r["goodput_rps"] / peak, 2) if peak else None
        r["goodput_full_vs_sat"] = round(r["goodput_full_rps"] / sat_full, 2) if sat_full else None
    return out


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    frame = pd.DataFrame(rows).reindex(columns=cols).astype(object)
    return frame.where(frame.notna(), "").to_string(index=False)


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs with YAML-ish values (numbers, booleans, null)."""
    import yaml

    out: dict[str, Any] = {}
    for p in pairs:
        key, _, value = p.partition("=")
        out[key] = yaml.safe_load(value)
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    slo = SLO(e2e_ms=args.slo_ms)
    base = PipelineConfig.load(args.preset).with_overrides(parse_sets(args.set))
    results: dict[str, Any] = {
        "preset": args.preset, "http": args.http, "slo": {"e2e_ms": args.slo_ms}, "seed": args.seed,
        "percentiles": PERCENTILE_METHOD, "overrides": parse_sets(args.set), "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "load_average_start": os.getloadavg(),
        "serving": base.serving.model_dump(mode="json", exclude={"variants", "tenants"}), "cases": []}
    for case in args.cases:
        cfg = base.with_overrides({"cache.enabled": case != "off"})
        results["cases"].append(await run_case(f"cache {case}", cfg, args, slo))
    results["load_average_end"] = os.getloadavg()
    return results


def report(r: dict[str, Any]) -> None:
    where = "HTTP (workbench serve, uvicorn)" if r["http"] else "in process"
    print(f"\n== overload, preset {r['preset']}, {where}; SLO e2e {r['slo']['e2e_ms']:g} ms; load average "
          f"{r['load_average_start'][0]:.1f} -> {r['load_average_end'][0]:.1f} on {r['cpus']} cpus ==")
    for c in r["cases"]:
        print(f"\n-- {c['case']}: saturation {c['saturation_rps']} rps (goodput {c['saturation_goodput_rps']}; "
              f"best step goodput {c['peak_step_goodput_rps']}); hit rate after warm-up {c['warm_hit_rate']} --")
        print(table(c["steps"], ["run", "target_rps", "offered_rps", "requests", "ok", "shed", "goodput_rps",
                                 "slo_attainment", "p50_ms", "p95_ms"]))
        print(table(c["rows"], ["run", "offered_rps", "requests", "ok", "shed", "errors", "goodput_rps",
                                "goodput_vs_sat", "goodput_vs_sat_mean", "goodput_vs_peak", "goodput_full_rps",
                                "goodput_full_vs_sat",
                                "p50_ms", "p95_ms", "hit_rate", "shed_without_retry_after", "recovery_s",
                                "levels"]))
        print(f"level timeline (s, level): {c['level_timeline']}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--cases", nargs="+", choices=("off", "on", "on-gated"), default=["off", "on"],
                    help="cache off / on / on with the lookup's embedding gated (in process)")
    ap.add_argument("--http", action="store_true", help="against workbench serve over HTTP")
    ap.add_argument("--slo-ms", type=float, default=1000.0)
    ap.add_argument("--start-rps", type=float, default=10.0)
    ap.add_argument("--step-factor", type=float, default=1.25)
    ap.add_argument("--step-s", type=float, default=8.0)
    ap.add_argument("--max-steps", type=int, default=14)
    ap.add_argument("--window-s", type=float, default=20.0)
    ap.add_argument("--warm-requests", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeat)")
    ap.add_argument("--quick", action="store_true", help="--step-s 4 --window-s 10 --warm-requests 200")
    ns = ap.parse_args()
    if ns.quick:
        ns.step_s, ns.window_s, ns.warm_requests = 4.0, 10.0, 200
    res = asyncio.run(main(ns))
    report(res)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("overload_http.json" if ns.http else "overload.json")
    out.write_text(json.dumps(res, indent=1, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))
    print(f"\nwrote {out.relative_to(ROOT)}")
