"""Issue 13: no cross-session, cross-user or cross-tenant leak in a randomized run with cache, memory and tools
all on (the checks are defined in workbench.evaluation.isolation). 1,000 requests here; the 5,000-request run
is bench/bench_isolation.py and the slow test below."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import PipelineConfig
from workbench.evaluation.isolation import leak_workload, run_leak_audit, write_marker_plugin
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving import AsyncEngine
from workbench.serving.schema import ChatRequest

TENANTS = ["default", "t2", "t3"]  # the bundled knowledge base is the default tenant's: the others answer nothing from it


def leak_config(fast_cfg: PipelineConfig, tmp_path: Path) -> PipelineConfig:
    write_marker_plugin(tmp_path / "plugins")
    return fast_cfg.with_overrides({
        "serving.tenants": TENANTS, "cache.enabled": True, "cache.semantic.enabled": False,
        "memory.enabled": True, "memory.store": "sqlite", "memory.url": str(tmp_path / "sessions.sqlite3"),
        "tools.enabled": True, "tools.plugins_dir": str(tmp_path / "plugins"), "tools.hot_reload": False,
        "tools.audit_log": None, "tools.policy": {t: ["*"] for t in TENANTS},
        "serving.max_queue": 4096, "serving.max_wait_ms": 60_000, "serving.degradation.enabled": False})


async def _audit(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase, tmp_path: Path, n: int, seed: int) -> None:
    async with AsyncEngine.from_config(leak_config(fast_cfg, tmp_path), kb=fast_kb) as engine:
        report = await run_leak_audit(engine, leak_workload(n, seed=seed))
    assert report.leaks == 0, report.examples
    shed = report.errors.get("overloaded", 0)          # admission may shed a few at 16 in flight: not a leak
    assert set(report.errors) <= {"overloaded"} and shed <= n // 20, report.to_dict()
    assert report.answered + report.refused_intrusions + shed == n, report.to_dict()
    # the run exercised every path it audits
    assert report.refused_intrusions >= n // 50 and report.tool_answers >= n // 20
    assert report.cache_hits.get("exact", 0) >= n // 10 and report.cache_hits.get("user", 0) >= n // 40
    assert report.followups_rewritten >= n // 50


async def test_no_leaks_in_a_randomized_1000_request_run(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                                         tmp_path: Path) -> None:
    await _audit(fast_cfg, fast_kb, tmp_path, 1_000, seed=7)


@pytest.mark.slow
async def test_no_leaks_in_a_randomized_5000_request_run(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                                         tmp_path: Path) -> None:
    await _audit(fast_cfg, fast_kb, tmp_path, 5_000, seed=8)


async def test_the_audit_finds_a_planted_leak(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                              tmp_path: Path) -> None:
    """The audit can fail: a personal answer planted in the shared cache is reported as a leak."""
    async with AsyncEngine.from_config(leak_config(fast_cfg, tmp_path), kb=fast_kb) as engine:
        await engine.cache.astore("t2", "what is the gold card annual fee?",   # type: ignore[union-attr]
                                  {"answer": "Your secret code is SECRET-t2-u0."})
        report = await run_leak_audit(engine, [ChatRequest(question="What is the gold card annual fee?",
                                                           tenant="t2", user="u3")])
    assert report.marker_leaks == 1 and report.shared_cache_leaks == 1
