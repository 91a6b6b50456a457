"""Benchmark of the async serving engine against the synchronous baseline, in one process and one run.

The generator is the *simulated* OpenAI-compatible LLM service (``workbench serve-llm``'s SimulatedBackend)
running in its own process on 127.0.0.1; every number that involves it is labelled simulated.

  1. async vs sync: ``AsyncEngine`` vs ``SyncEngine`` (one request at a time per worker thread, 2 workers),
     32 closed-loop clients, same config (``fast`` + generator.kind=openai), cache off for both.
  2. embedding throughput: 32 concurrent query embeddings, micro-batched (MicroBatcher, batch 32, 2 ms) vs
     unbatched (batch 1), with the real embedding models that are installed.
  3. engine overhead per request: total minus every model/search stage (embed, retrieve, fuse, rerank,
     prompt, generate, guard), one client at a time, against a fast simulated LLM (2 ms TTFT); p50/p99
     (nearest-rank percentiles, workbench.percentiles).
  4. overload: an LLM tier with 8 slots; its saturation rate measured with a closed loop; then open-loop
     Poisson arrivals at 1x and 2x saturation with admission control + degradation ("protected"), and
     without them (unbounded queue, no degradation). Peak goodput = the better 1x run. Degradation levels
     (DegradationLevel): no_reranker (none in this config), small_generator (the same simulated tier with a
     quarter of the tokens: stands for a smaller model), extractive (no LLM call); no cache, so never
     cache_only. Goodput = requests within the SLO per second.

Prints tables and writes bench/results/serving.json. Run (about 1.5 minutes; ``--quick``: about 1):

    .venv/bin/python bench/bench_serving.py
    .venv/bin/python bench/bench_serving.py --quick          # --duration 3 --overhead-requests 200 --embed-requests 64
    .venv/bin/python bench/bench_serving.py --duration 8 --seed 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import workbench  # noqa: F401  (offline switches first)
from workbench.config import PipelineConfig
from workbench.loadtest import SLO, ClosedLoopRunner, LoadProfile, LoadResult, OpenLoopRunner, Workload, WorkloadSpec
from workbench.percentiles import PERCENTILE_METHOD, percentile
from workbench.pipelines import load_knowledge_base
from workbench.serving import AsyncEngine, MicroBatcher, SyncEngine
from workbench.testing import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "serving.json"

_LLM = """
import uvicorn
from workbench.serving import SimulatedBackend, SimulatedLLM, create_llm_app
app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms={ttft}, tpot_ms={tpot}, slots={slots}, seed={seed})))
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
"""


class LLMService:
    """The simulated LLM service in its own Python process."""

    def __init__(self, *, ttft_ms: float, tpot_ms: float, slots: int, seed: int) -> None:
        self.port = free_port()
        code = _LLM.format(ttft=ttft_ms, tpot=tpot_ms, slots=slots, seed=seed, port=self.port)
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        wait_for_port(self.port, timeout_s=30)
        self.spec = {"ttft_ms": ttft_ms, "tpot_ms": tpot_ms, "slots": slots, "simulated": True}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def workload(seed: int) -> Workload:
    return Workload(WorkloadSpec(seed=seed, personalized_share=0.0, session_share=0.0))


def row(name: str, res: LoadResult, slo: SLO | None = None, **extra: Any) -> dict[str, Any]:
    s = res.summary(slo)
    out = {"run": name, "requests": s["requests"], "ok": s["ok"], "shed": s["shed"], "errors": s["errors"],
           "throughput_rps": round(s["throughput_rps"], 2), "p50_ms": round(s["latency_ms"].get("p50", np.nan), 1),
           "p99_ms": round(s["latency_ms"].get("p99", np.nan), 1),
           "levels": s["degradation_levels"], **extra}
    if slo is not None:
        out["goodput_rps"] = round(s["goodput_rps"], 2)
        out["slo_attainment"] = round(s["slo_attainment"], 3)
    return out


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


async def async_vs_sync(base: PipelineConfig, kb: Any, url: str, users: int, duration: float, seed: int) -> dict:
    cfg = base.with_overrides({"generator.kind": "openai", "generator.base_url": url, "generator.retries": 0,
                               "serving.max_concurrency": 256, "serving.max_queue": 1024,
                               "serving.degradation.enabled": False})
    rows = []
    async with SyncEngine.from_config(cfg, kb=kb, workers=cfg.serving.generator_workers) as sync:
        res = await ClosedLoopRunner(sync, workload(seed), users=users, duration_s=duration, seed=seed).run()
        rows.append(row("sync baseline (2 workers)", res))
    async with AsyncEngine.from_config(cfg, kb=kb) as engine:
        res = await ClosedLoopRunner(engine, workload(seed), users=users, duration_s=duration, seed=seed).run()
        rows.append(row("async engine", res))
    rows[1]["x_vs_sync"] = round(rows[1]["throughput_rps"] / rows[0]["throughput_rps"], 1)
    rows[0]["x_vs_sync"] = 1.0
    return {"users": users, "duration_s": duration, "rows": rows}


async def embedding(requests: int, concurrency: int, seed: int) -> list[dict[str, Any]]:
    from workbench.components import QueryEmbedder

    texts = [it.request.question for it in workload(seed).items(requests)]
    out = []
    for model in ("e5-small", "minilm"):
        try:
            qe = QueryEmbedder(model, threads=1)
            qe.warm_up()
        except Exception as exc:  # a model that is not installed is reported, not fatal
            out.append({"model": model, "error": str(exc)[:120]})
            continue
        res: dict[str, Any] = {"model": model, "requests": requests, "concurrency": concurrency}
        for label, batch, wait in (("unbatched", 1, 0.0), ("batched", 32, 2.0)):
            b = MicroBatcher(qe.embed_batch, max_batch=batch, max_wait_ms=wait)
            sem = asyncio.Semaphore(concurrency)

            async def one(t: str, b: MicroBatcher = b, sem: asyncio.Semaphore = sem) -> None:
                async with sem:
                    await b.embed(t)

            await asyncio.gather(*[one(t) for t in texts[:8]])  # warm
            t0 = time.perf_counter_ns()
            await asyncio.gather(*[one(t) for t in texts])
            secs = (time.perf_counter_ns() - t0) / 1e9
            res[f"{label}_qps"] = round(requests / secs, 1)
            res[f"{label}_mean_batch"] = round(b.mean_batch, 1)
            b.close()
        res["x_batched"] = round(res["batched_qps"] / res["unbatched_qps"], 2)
        out.append(res)
    return out


async def overhead(base: PipelineConfig, kb: Any, url: str, n: int) -> dict[str, Any]:
    cfg = base.with_overrides({"generator.kind": "openai", "generator.base_url": url, "generator.retries": 0})
    model_stages = ("embed", "retrieve_dense", "retrieve_bm25", "fuse", "rerank", "prompt", "generate", "guard")
    from workbench.serving.schema import ChatRequest

    items = workload(1).items(n + 10)
    pure, with_search = [], []
    async with AsyncEngine.from_config(cfg, kb=kb) as engine:
        for i, it in enumerate(items):
            req = ChatRequest(question=it.request.question, tenant="default", user=it.request.user)
            resp = await engine.handle(req)
            if i < 10:
                continue
            t = resp.timings_ms
            pure.append(t["total"] - sum(t.get(s, 0.0) for s in model_stages))
            with_search.append(t["total"] - t.get("generate", 0.0) - t.get("embed", 0.0))
    return {"requests": n, "percentiles": PERCENTILE_METHOD,
            "engine_only_p50_ms": round(percentile(pure, 50), 3),
            "engine_only_p99_ms": round(percentile(pure, 99), 3),
            "incl_bm25_and_prompt_p50_ms": round(percentile(with_search, 50), 3),
            "incl_bm25_and_prompt_p99_ms": round(percentile(with_search, 99), 3)}


async def overload(base: PipelineConfig, kb: Any, url: str, slots: int, duration: float, seed: int,
                   slo: SLO) -> dict[str, Any]:
    common = {"generator.kind": "openai", "generator.base_url": url, "generator.retries": 0}
    protected = base.with_overrides({**common, "serving.max_concurrency": slots, "serving.max_queue": slots,
                                     "serving.max_wait_ms": slo.e2e_ms / 2,
                                     "serving.degradation.slo_p95_ms": slo.e2e_ms * 0.8,
                                     "serving.degradation.queue_high": 0.5, "serving.degradation.queue_low": 0.1,
                                     "serving.degradation.window_s": 2.0, "serving.degradation.cooldown_s": 1.0,
                                     "serving.degradation.max_level": 3,
                                     # level 2 "smaller model": the same simulated tier, a quarter of the tokens
                                     "serving.degradation.small_generator": {
                                         "kind": "openai", "base_url": url, "retries": 0,
                                         "max_tokens": max(1, base.generator.max_tokens // 4)}})
    unprotected = base.with_overrides({**common, "serving.max_concurrency": 10_000, "serving.max_queue": 100_000,
                                       "serving.max_wait_ms": 600_000, "serving.degradation.enabled": False})
    async with AsyncEngine.from_config(unprotected, kb=kb) as engine:
        sat = await ClosedLoopRunner(engine, workload(seed), users=slots, duration_s=duration / 2, seed=seed).run()
    sat_rps = sat.summary()["throughput_rps"]
    rows = []
    for name, cfg, mult in (("unprotected @1x", unprotected, 1.0), ("protected @1x", protected, 1.0),
                            ("protected @2x", protected, 2.0), ("unprotected @2x", unprotected, 2.0)):
        async with AsyncEngine.from_config(cfg, kb=kb) as engine:
            prof = LoadProfile.steady(sat_rps * mult, duration)
            res = await OpenLoopRunner(engine, workload(seed), prof, seed=seed, slo=slo, drain_timeout_s=30).run()
            rows.append(row(name, res, slo, offered_rps=round(sat_rps * mult, 1)))
    peak = max(r["goodput_rps"] for r in rows[:2])  # peak goodput: the better of the two runs at saturation
    for r in rows:
        r["goodput_vs_peak"] = round(r["goodput_rps"] / peak, 2) if peak else None
    return {"llm_slots": slots, "saturation_rps": round(sat_rps, 2), "slo": {"e2e_ms": slo.e2e_ms}, "rows": rows}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    base = PipelineConfig.load("fast")
    kb = load_knowledge_base(base, progress=False)
    results: dict[str, Any] = {"simulated": True, "quick": args.quick, "machine": {"python": platform.python_version(),
                                                              "cpus": __import__("os").cpu_count()},
                               "config": "fast (BM25 + prompt) with generator.kind=openai -> simulated LLM service"}
    big = LLMService(ttft_ms=200, tpot_ms=15, slots=64, seed=args.seed)
    try:
        results["llm_async_vs_sync"] = big.spec
        results["async_vs_sync"] = await async_vs_sync(base, kb, big.url, 32, args.duration, args.seed)
    finally:
        big.close()
    quick = LLMService(ttft_ms=2, tpot_ms=0.5, slots=64, seed=args.seed)  # overhead: model time is subtracted
    try:
        results["overhead"] = await overhead(base, kb, quick.url, args.overhead_requests)
    finally:
        quick.close()
    small = LLMService(ttft_ms=200, tpot_ms=15, slots=8, seed=args.seed)
    try:
        results["llm_overload"] = small.spec
        results["overload"] = await overload(base, kb, small.url, 8, args.duration, args.seed,
                                             SLO(e2e_ms=args.slo_ms))
    finally:
        small.close()
    results["embedding"] = await embedding(args.embed_requests, 32, args.seed)
    return results


def report(r: dict[str, Any]) -> None:
    print("\n== async engine vs synchronous baseline (SIMULATED LLM service, 32 closed-loop clients) ==")
    print(table(r["async_vs_sync"]["rows"], ["run", "requests", "ok", "throughput_rps", "x_vs_sync", "p50_ms",
                                             "p99_ms"]))
    print("\n== engine overhead per request (ms; everything except model and search compute) ==")
    print(json.dumps(r["overhead"], indent=1))
    o = r["overload"]
    print(f"\n== overload (SIMULATED LLM, {o['llm_slots']} slots; saturation {o['saturation_rps']} rps; "
          f"SLO e2e {o['slo']['e2e_ms']} ms) ==")
    print(table(o["rows"], ["run", "offered_rps", "requests", "ok", "shed", "goodput_rps", "goodput_vs_peak",
                            "slo_attainment", "p50_ms", "p99_ms", "levels"]))
    print("\n== query-embedding throughput, 32 concurrent requests (real models) ==")
    print(table(r["embedding"], ["model", "unbatched_qps", "batched_qps", "batched_mean_batch", "x_batched",
                                 "error"]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--slo-ms", type=float, default=1500.0)
    ap.add_argument("--overhead-requests", type=int, default=200)
    ap.add_argument("--embed-requests", type=int, default=128)
    ap.add_argument("--quick", action="store_true", help="--duration 3 --overhead-requests 200 --embed-requests 64")
    ns = ap.parse_args()
    if ns.quick:
        ns.duration, ns.overhead_requests, ns.embed_requests = 3.0, 200, 64
    res = asyncio.run(main(ns))
    report(res)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1, default=str))
    print(f"\nwrote {OUT.relative_to(ROOT)}")
