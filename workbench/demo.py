"""The main job (``workbench demo``): build the presets on our dataset, evaluate each, load-test each,
compare them, and export one report.

```python
index_html = run_demo(presets=("fast", "default", "quality"), questions=150, load_seconds=8)
```

Every step prints progress; results are cached (``.workbench/experiments``), so a second run only
repeats the load tests. The report lands in ``reports/demo/index.html`` with CSV/JSON/Markdown beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.config import PipelineConfig

__all__ = ["DemoLoad", "run_demo"]


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
            slo=SLO(e2e_ms=self.slo_e2e_ms)))
        s = result.summary()
        lat = s.get("latency_ms", {})
        return {
            "offered_rps": self.rate,
            "requests": s["requests"],
            "throughput_rps": s["throughput_rps"],
            "goodput_rps": s.get("goodput_rps"),
            "latency_p50_ms": lat.get("p50"),
            "latency_p95_ms": lat.get("p95"),
            "latency_p99_ms": lat.get("p99"),
            "error_rate": s["error_rate"],
            "shed_rate": s["shed_rate"],
            "percentile_method": s["percentile_method"],
        }


def run_demo(*, presets: Sequence[str] = ("fast", "default", "quality"), questions: int = 150,
             llm_questions: int = 40, load_seconds: float = 8.0, load_rate: float = 20.0, llm_load_rate: float = 1.0,
             out_dir: str | Path = "reports/demo", index_dir: str | None = None,
             cache_dir: str | Path = ".workbench/experiments", echo: Callable[[str], None] = print) -> Path:
    """Evaluate and load-test ``presets`` on Meridian Bank and write the comparison report; returns index.html.

    ``questions`` is the seeded sample evaluated per preset; presets whose generator is an LLM use
    ``llm_questions`` (Gemma on 2 CPU cores costs about a second per answer) and are offered
    ``llm_load_rate`` requests/s instead of ``load_rate`` (a queue they could never drain says nothing new).
    """
    from tqdm.auto import tqdm

    from workbench.datasets import load_workbench_dataset
    from workbench.evaluation import Experiment
    from workbench.pipelines import load_knowledge_base
    from workbench.reporting import write_report

    t0 = time.perf_counter()
    dataset = load_workbench_dataset("meridian_bank")
    results = []
    for name in presets:
        cfg = PipelineConfig.load(name)
        if index_dir is not None:
            cfg = cfg.model_copy(update={"index_dir": index_dir})
        echo(f"== {name}: {cfg.description}")
        t = time.perf_counter()
        kb = load_knowledge_base(cfg, progress=True)
        echo(f"   knowledge base {kb.version}: {kb.store.count} passages ({time.perf_counter() - t:.1f} s)")
        limit = questions if cfg.generator.kind == "extractive" else llm_questions
        exp = Experiment(cfg, dataset, limit=limit, seed=0, kb=kb, labels={"preset": name}, cache_dir=cache_dir)
        bar = tqdm(total=limit, desc=f"   evaluating {name}", unit="q")

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
             f"p99 {load.get('latency_p99_ms', 0):.0f} ms, goodput {load.get('goodput_rps', 0):.1f} req/s")
        results.append(result)
    index = write_report(results, out_dir, title="Meridian Bank: presets compared (quality, latency, load)")
    echo(f"report: {index}  ({time.perf_counter() - t0:.0f} s in total)")
    return index
