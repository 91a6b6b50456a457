"""Overload with the real ``default`` preset (hybrid e5 + BM25, extractive answers, no simulated LLM), through
the HTTP app in process: goodput at twice the saturation rate stays well above the 20 % of issue 13.13, every
shed request is a 429 with ``Retry-After``, and the degradation level is back at 0 soon after the load ends.

Ratios only, against a saturation measured in the same test with a short seeded open-loop step search
(``bench/bench_overload.py`` is the long form with its table).

With the cache on, a semantic lookup embeds the question before the pipeline's admission, on the embedding
thread the pipeline uses: until the engine puts that embedding behind a line of its own
(``AdmissionQueue.for_lookups(cfg.serving).gate(...)`` around the embedding it shares with the cache), the
lookups queue without bound under overload (seconds), the latency signal moves the level to cache-only and
back, and the level is not back at 0 within 10 s of the load's end: that case is an expected failure until then
(not run: it fails after ~65 s; with the gate wired in the test it passed in 56 s, 2x goodput 1.73x).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from workbench.config import PipelineConfig
from workbench.loadtest import SLO, LoadProfile, LoadResult, OpenLoopRunner, Workload, WorkloadSpec
from workbench.loadtest.senders import Outcome
from workbench.loadtest.workload import WorkItem
from workbench.pipelines import load_knowledge_base
from workbench.serving import AsyncEngine, create_app

pytestmark = pytest.mark.slow

SLO_MS = 1000.0
RATES = (3.0, 4.5, 6.75, 10.0, 15.0, 22.5, 34.0, 50.0, 75.0)


class AppSender:
    """Sends work items to the app's ``POST /v1/chat`` in process (httpx over ASGI); a 429 is a shed that
    keeps its ``Retry-After`` header, any other non-200 an error."""

    def __init__(self, app: object) -> None:
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app", timeout=60)

    async def send(self, item: WorkItem) -> Outcome:
        r = await self.client.post("/v1/chat", content=item.request.model_dump_json(exclude_none=True),
                                   headers={"content-type": "application/json"})
        if r.status_code == 200:
            d = r.json()
            return Outcome("ok", tokens=int(d["tokens"]), cache_layer=d["cache_layer"],
                           degradation_level=int(d["degradation_level"]), http_status=200)
        if r.status_code == 429:
            return Outcome("shed", http_status=429, error=f"Retry-After: {r.headers.get('retry-after')}")
        return Outcome("error", http_status=r.status_code, error=r.text[:200])

    async def aclose(self) -> None:
        await self.client.aclose()


def goodput(res: LoadResult) -> float:
    return float(res.summary(SLO(e2e_ms=SLO_MS))["goodput_rps"])


@pytest.mark.parametrize("cache", [False, True], ids=["cache-off", "cache-on"])
async def test_goodput_at_twice_saturation_with_the_real_default_preset(serving_index_dir: Path, cache: bool) -> None:
    cfg = PipelineConfig.load("default").model_copy(update={"index_dir": str(serving_index_dir)})
    cfg = cfg.with_overrides({"cache.enabled": cache, "serving.latency_target_ms": SLO_MS})
    kb = await asyncio.to_thread(load_knowledge_base, cfg, progress=False)
    workload = Workload(WorkloadSpec(seed=3, personalized_share=0.0, session_share=0.0))  # Zipf popularity
    async with AsyncEngine.from_config(cfg, kb=kb) as engine:
        app = create_app(engine)

        async def run(rate: float, seconds: float, seed: int) -> LoadResult:
            return await OpenLoopRunner(AppSender(app), workload, LoadProfile.steady(rate, seconds), seed=seed,
                                        slo=SLO(e2e_ms=SLO_MS), drain_timeout_s=60).run()

        await run(3.0, 4.0, 0)  # warm: models, and the cache's hot questions
        sat_rate, sat_goodput = None, 0.0
        for i, rate in enumerate(RATES):  # saturation: the fastest step that still meets the SLO (90 %)
            res = await run(rate, 4.0, 10 + i)
            attained = res.summary(SLO(e2e_ms=SLO_MS))["slo_attainment"]
            if attained >= 0.9:
                sat_rate, sat_goodput = rate, goodput(res)
            if attained < 0.7:
                break
        assert sat_rate is not None and sat_goodput > 0, "even the lowest step missed the SLO"
        levels: list[int] = []

        async def sample() -> None:
            while True:
                levels.append(int(engine.policy.level))
                await asyncio.sleep(0.25)

        sampler = asyncio.get_running_loop().create_task(sample())
        t0 = time.monotonic()
        over = await run(2 * sat_rate, 8.0, 99)
        load_end = t0 + float(over.df["scheduled_s"].max())
        while engine.policy.level != 0 and time.monotonic() - load_end < 10.0:
            await asyncio.sleep(0.1)
        recovered_s = time.monotonic() - load_end
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)

    df = over.df
    shed = df[df["status"] == "shed"]
    # Without the cache, twice the saturation rate must overload the service; with it, the cache warms during the
    # run (more hits at 2x) and the pipeline may keep up without shedding, which is the point of the cache.
    assert len(shed) > 0 or cache, "twice the saturation rate must overload the service"
    assert (df["status"] != "error").all(), df.loc[df["status"] == "error", "error"].head().tolist()
    assert (shed["http_status"] == 429).all()
    retry_after = shed["error"].str.extract(r"Retry-After: (\d+)")[0]
    assert retry_after.notna().all() and (retry_after.astype(int) >= 1).all()
    ratio = goodput(over) / sat_goodput
    assert ratio >= 0.5, f"goodput at 2x saturation ({2 * sat_rate} rps) is {ratio:.2f} x the saturation goodput"
    assert engine.policy.level == 0 and recovered_s < 10.0, levels
