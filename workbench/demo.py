"""The main job (``workbench demo``): build the presets on our dataset, evaluate each, load-test each,
compare them, and export one report.

```python
index_html = run_demo(presets=("fast", "default", "quality"), questions=50, load_seconds=8)
```

Every step prints progress; results are cached (``.workbench/experiments``), so a second run only
repeats the load tests. The report lands in ``reports/demo/index.html`` with CSV/JSON/Markdown beside it.
Every load test scores its answers against the gold (correct goodput). Then the ``serving`` preset (cache,
memory, tools, admission and degradation) and the same pipeline bare take the morning-peak profile, with the
LLM tier as an OpenAI-compatible service (the simulated ``serve-llm`` on 127.0.0.1): served from cache, wrong
hits, mean and p95 latency, goodput and correct goodput side by side (``serving_vs_bare.json`` / ``.md``, and
a section of the report).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.config import PipelineConfig

__all__ = ["DEMO_QUESTIONS", "DemoLoad", "ServingPeak", "run_demo"]

#: Questions every preset answers (one seeded sample: the report compares runs on the same questions only). The
#: slowest preset sets it: ``quality`` (Qwen2.5-Coder-1.5B on 2 CPU cores) answers in about 7 s at the median on
#: a quiet machine (bench/results/preset_quality.json: p50 6.95 s, p95 11.6 s; its English gate's grounding check
#: adds about 2.6 s, bench/results/answers.json), so 50 questions cost it about 6-7 minutes (390 s in the example
#: report's run), while 150 would cost about 20; the extractive presets answer 50 in seconds.
DEMO_QUESTIONS = 50


@dataclass(frozen=True)
class DemoLoad:
    """A short open-loop load test run after an experiment's quality pass (the experiment's load profile).

    Poisson arrivals at ``rate`` requests/s for ``duration_s`` from the seeded Zipf workload over our
    dataset, against the config's async serving engine in process (admission queue, micro-batching,
    degradation); latency counts from the scheduled start.
    """

    rate: float = 20.0
    duration_s: float = 8.0
    slo_e2e_ms: float = 500.0
    seed: int = 0

    @property
    def name(self) -> str:
        return f"steady-{self.rate:g}rps-{self.duration_s:g}s"

    def to_dict(self) -> dict[str, Any]:
        return {"profile": "steady", "rate": self.rate, "duration_s": self.duration_s, "slo_e2e_ms": self.slo_e2e_ms,
                "seed": self.seed, "arrivals": "poisson"}

    def run_for(self, cfg: PipelineConfig) -> dict[str, Any]:
        """Run the load test against ``cfg`` and return its summary (throughput, goodput, percentiles...)."""
        from workbench.loadtest import SLO, LoadProfile, OpenLoopRunner, Workload, WorkloadSpec
        from workbench.loadtest.inprocess import run_with_engine

        workload = Workload(WorkloadSpec(seed=self.seed, personalized_share=0.0, session_share=0.0))
        result = run_with_engine(cfg, lambda engine: OpenLoopRunner(
            engine, workload, LoadProfile.steady(self.rate, self.duration_s), seed=self.seed,
            slo=SLO(e2el_ms=self.slo_e2e_ms), score=True))
        s = result.summary()
        lat = s.get("latency_ms", {})
        levels = s.get("degradation_levels") or {}
        answered = sum(levels.values())
        return {
            "rate": self.rate,  # asked; the arrivals are random, so what was offered is measured:
            "offered_rps": round(float(s.get("offered_rps", self.rate)), 2),
            "requests": s["requests"],
            "throughput_rps": s["throughput_rps"],
            "goodput_rps": s.get("goodput_rps"),
            "latency_p50_ms": lat.get("p50"),
            "latency_p95_ms": lat.get("p95"),
            "latency_p99_ms": lat.get("p99"),
            "error_rate": s["error_rate"],
            "shed_rate": s["shed_rate"],
            "correct_share": s.get("correct_share"),
            "slo_attainment": s.get("slo_attainment"),
            "degraded_share": (sum(n for lvl, n in levels.items() if int(lvl) > 0) / answered) if answered else None,
            "correct_goodput_rps": s.get("correct_goodput_rps"),
            "percentile_method": s["percentile_method"],
        }


@dataclass(frozen=True)
class ServingPeak:
    """The morning peak against the ``serving`` preset and the same pipeline bare (cache, memory, tools, admission
    and degradation off), both with the LLM tier as the simulated OpenAI-compatible service (``serve-llm``'s
    :class:`~workbench.serving.SimulatedBackend`: ``llm_ttft_ms`` to the first token, ``llm_tpot_ms`` per token,
    ``llm_slots`` in parallel) on 127.0.0.1. Answers are scored against the gold; one summary per side and
    the ratios. Admission's latency target is the SLO's (as ``serving.latency_target_ms`` asks). Each engine
    first answers ``warm_requests`` questions of another seed, unmeasured (its models load on the first one);
    on the serving side they also go into the cache, as earlier traffic would.

    ```python
    ServingPeak(peak_rate=4, duration_s=40).run()["ratios"]["latency_mean"]     # bare / serving
    ```
    """

    preset: str = "serving"
    peak_rate: float = 4.0
    duration_s: float = 40.0
    slo_e2el_ms: float = 1500.0
    llm_ttft_ms: float = 200.0
    llm_tpot_ms: float = 20.0
    llm_slots: int = 8
    seed: int = 0
    warm_requests: int = 10
    index_dir: str | None = None

    def configs(self, llm_url: str) -> dict[str, PipelineConfig]:
        """``serving`` and ``bare`` with the generator pointed at ``llm_url``."""
        cfg = PipelineConfig.load(self.preset)
        if self.index_dir is not None:
            cfg = cfg.model_copy(update={"index_dir": self.index_dir})
        llm = {"generator.kind": "openai", "generator.base_url": llm_url, "generator.model": "simulated",
               "generator.retries": 0}
        serving = cfg.with_overrides({**llm, "serving.latency_target_ms": self.slo_e2el_ms})
        bare = cfg.with_overrides({**llm, "cache.enabled": False, "memory.enabled": False, "tools.enabled": False,
                                   "serving.latency_target_ms": None, "serving.degradation.enabled": False})
        return {"serving": serving, "bare": bare.model_copy(update={"name": f"{cfg.name}-bare"})}

    def run(self, echo: Callable[[str], None] = print) -> dict[str, Any]:
        """Both runs and their comparison (a JSON-ready dict)."""
        import asyncio

        from workbench.loadtest import SLO, RunProfile, Workload, WorkloadSpec, runner_for
        from workbench.loadtest.capacity import warm_up
        from workbench.pipelines import load_knowledge_base
        from workbench.serving import SimulatedBackend, SimulatedLLM, create_llm_app
        from workbench.serving.engine import AsyncEngine
        from workbench.testing import UvicornServer

        slo = SLO(e2el_ms=self.slo_e2el_ms)
        profile = RunProfile(name="morning-peak", rate=self.peak_rate, duration_s=self.duration_s)
        workload = Workload(WorkloadSpec(seed=self.seed, personalized_share=0.0))
        warm_items = Workload(WorkloadSpec(seed=self.seed + 1000, personalized_share=0.0)).items(self.warm_requests)
        llm = SimulatedLLM(ttft_ms=self.llm_ttft_ms, tpot_ms=self.llm_tpot_ms, slots=self.llm_slots, seed=self.seed)
        out: dict[str, Any] = {"profile": profile.to_dict(), "slo": slo.to_dict(), "llm": repr(llm),
                               "warm_requests": self.warm_requests, "runs": {}}
        frames: dict[str, Any] = {}
        with UvicornServer(create_llm_app(SimulatedBackend(llm), model_name="simulated")) as server:
            cfgs = self.configs(f"{server.url}/v1")
            kb = load_knowledge_base(cfgs["serving"], progress=False)
            for side, cfg in cfgs.items():
                async def go(cfg: PipelineConfig = cfg) -> Any:
                    async with AsyncEngine.from_config(cfg, kb=kb) as engine:
                        await warm_up(engine, warm_items, self.warm_requests)
                        return await runner_for(profile, engine, workload, seed=self.seed, slo=slo,
                                                score=True).run()

                echo(f"   morning peak ({self.peak_rate:g} req/s at the peak, {self.duration_s:g} s) against {side}")
                res = asyncio.run(go())
                out["runs"][side] = _peak_summary(res, slo)
                frames[side] = res.df
        s, b = out["runs"]["serving"], out["runs"]["bare"]
        s["cache_made_wrong"] = _cache_made_wrong(frames["serving"], frames["bare"])
        out["ratios"] = {k: (b[k] / s[k] if s.get(k) and b.get(k) is not None else None)
                         for k in ("latency_mean_ms", "latency_p95_ms")}
        out["ratios"].update({k: (s[k] / b[k] if b.get(k) and s.get(k) is not None else None)
                              for k in ("goodput_rps", "correct_goodput_rps")})
        return out


def _peak_summary(res: Any, slo: Any) -> dict[str, Any]:
    s = res.summary(slo)
    q = s.get("quality", {})
    df = res.df
    cached = (df.status == "ok") & df.cache_layer.notna()
    scored_cached = cached & df.verdict.notna()
    return {
        "requests": s["requests"], "ok": s["ok"], "shed": s["shed"], "errors": s["errors"],
        "served_from_cache": float(cached.sum() / max(s["ok"], 1)),
        "cache_layers": {k: v for k, v in s["cache_hit_rate"].items() if k != "miss"},
        "wrong_hits": int((scored_cached & (df.verdict != "correct")).sum()),
        "wrong_hit_share": float((scored_cached & (df.verdict != "correct")).sum() / scored_cached.sum())
        if scored_cached.any() else None,
        "latency_mean_ms": s["latency_mean_ms"], "latency_p50_ms": s["latency_ms"]["p50"],
        "latency_p95_ms": s["latency_ms"]["p95"], "latency_p99_ms": s["latency_ms"]["p99"],
        "throughput_rps": s["throughput_rps"], "goodput_rps": s.get("goodput_rps"),
        "slo_attainment": s.get("slo_attainment"), "correct_share": s.get("correct_share"),
        "correct_goodput_rps": s.get("correct_goodput_rps"),
        "by_degradation_level": q.get("by_degradation_level"), "by_cache_layer": q.get("by_cache_layer"),
        "percentile_method": s["percentile_method"],
    }


def _cache_made_wrong(serving: Any, bare: Any) -> int:
    """Cache hits answered wrong where the bare pipeline answered the same request right: the wrong answers the
    cache made. Both runs replay one seeded workload, so a request's ``index`` is the same question in each."""
    hits = serving[(serving.status == "ok") & serving.cache_layer.notna() & serving.verdict.notna()
                   & (serving.verdict != "correct")]
    right = set(bare.loc[bare.verdict == "correct", "index"])
    return int(hits["index"].isin(right).sum())


def _peak_markdown(cmp: dict[str, Any]) -> str:
    from workbench.reporting import markdown_table, serving_comparison

    return (f"Morning peak {cmp['profile']['rate']:g} req/s, {cmp['profile']['duration_s']:g} s, SLO {cmp['slo']}, "
            f"LLM tier {cmp['llm']}\n\n" + markdown_table(serving_comparison(cmp)) +
            "\nratio: bare/serving for latencies, serving/bare for goodputs (above 1: the serving stack does better); "
            f"percentiles: {cmp['runs']['serving'].get('percentile_method')}\n")


def run_demo(*, presets: Sequence[str] = ("fast", "default", "quality"), questions: int = DEMO_QUESTIONS,
             load_seconds: float = 8.0, load_rate: float = 20.0, llm_load_rate: float = 1.0,
             out_dir: str | Path = "reports/demo", index_dir: str | None = None,
             cache_dir: str | Path = ".workbench/experiments", echo: Callable[[str], None] = print,
             serving_peak: ServingPeak | None = ServingPeak()) -> Path:
    """Evaluate and load-test ``presets`` on Meridian Bank and write the comparison report; returns index.html.

    ``questions`` is the one seeded sample every preset answers (the report compares runs on the same questions
    only; default :data:`DEMO_QUESTIONS`). Presets whose generator is an LLM are offered ``llm_load_rate``
    requests/s instead of ``load_rate`` (a queue they could never drain says nothing new).
    ``serving_peak`` (``None``: skipped) runs the serving stack against the bare pipeline at the morning peak,
    writes ``serving_vs_bare.json`` and ``.md`` beside the report and shows the comparison in it; skipped, an
    earlier run's comparison is removed from ``out_dir`` (the folder holds this run's results only).
    """
    from tqdm.auto import tqdm

    from workbench.datasets import load_workbench_dataset
    from workbench.evaluation import Experiment
    from workbench.pipelines import load_knowledge_base
    from workbench.reporting import recommend, write_report

    t0 = time.perf_counter()
    dataset = load_workbench_dataset("meridian_bank")
    out = Path(out_dir)
    title = "Meridian Bank: presets compared (quality, latency, load)"
    results = []
    for name in presets:
        cfg = PipelineConfig.load(name)
        if index_dir is not None:
            cfg = cfg.model_copy(update={"index_dir": index_dir})
        echo(f"== {name}: {cfg.description}")
        t = time.perf_counter()
        kb = load_knowledge_base(cfg, progress=True)
        echo(f"   knowledge base {kb.version}: {kb.store.count} passages ({time.perf_counter() - t:.1f} s)")
        exp = Experiment(cfg, dataset, limit=questions, seed=0, kb=kb, labels={"preset": name}, cache_dir=cache_dir)
        bar = tqdm(total=questions, desc=f"   evaluating {name}", unit="q")

        def tick(done: int, total: int, bar: Any = bar) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        result = exp.run(progress=tick)
        bar.close()
        if result.from_cache:
            echo("   (quality results from the experiment cache)")
        rate = load_rate if cfg.generator.kind == "extractive" else llm_load_rate
        echo(f"   load test: {rate:g} req/s for {load_seconds:g} s")
        load = DemoLoad(rate=rate, duration_s=load_seconds).run_for(cfg)
        result.summary["load"] = load
        echo(f"   throughput {load.get('throughput_rps', 0):.1f} req/s, p50 {load.get('latency_p50_ms', 0):.0f} ms, "
             f"p99 {load.get('latency_p99_ms', 0):.0f} ms, goodput {load.get('goodput_rps', 0):.1f} req/s, "
             f"correct goodput {load.get('correct_goodput_rps') or 0:.1f} req/s")
        results.append(result)
    for stale in (out / "serving_vs_bare.json", out / "serving_vs_bare.md"):
        stale.unlink(missing_ok=True)
    index = write_report(results, out, title=title)   # written now: a failing peak run still leaves the report
    if serving_peak is not None:
        import json

        echo(f"== {serving_peak.preset} vs the same pipeline bare, morning peak")
        peak = serving_peak if serving_peak.index_dir or index_dir is None else \
            ServingPeak(**{**serving_peak.__dict__, "index_dir": index_dir})
        cmp = json.loads(json.dumps(peak.run(echo=echo), default=str))
        (out / "serving_vs_bare.json").write_text(json.dumps(cmp, indent=2), encoding="utf-8")
        md = _peak_markdown(cmp)
        (out / "serving_vs_bare.md").write_text(md, encoding="utf-8")
        for line in md.splitlines():
            echo(f"   {line}")
        index = write_report(results, out, title=title, serving_vs_bare=cmp)
    verdict = recommend(results)  # the report's verdict, on the terminal too
    echo(f"verdict: {verdict.headline.replace('**', '')}")
    for reason in verdict.reasons:
        echo(f"   - {reason.replace('**', '')}")
    echo(f"report: {index}  ({time.perf_counter() - t0:.0f} s in total)")
    return index
