"""Scale-out on the engines we already use: ``workbench serve`` workers share the cache, the sessions and the
circuit-breaker state through one redis-server (real processes on 127.0.0.1; docs/scaling.md).

Two servers on two ports stand for two workers behind a load balancer (a test can then choose the worker);
``--workers 2`` on one port is the same with uvicorn's supervisor, SIGKILLed one worker at a time."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from workbench.config import PipelineConfig
from workbench.evaluation.crash_worker import crash_config, run_crash_trial
from workbench.memory import RedisSessionStore
from workbench.testing import ServeProcess

pytestmark = pytest.mark.redis

_FAILING_TOOL = '''"""A back office that is down; every call is written to {calls}."""
import os

from workbench.tools.spec import tool


@tool(version="1.0", idempotent=False, keywords={{"en": ("ledger balance",)}},
      answer={{"en": "Your ledger balance is {{balance}}."}})
def get_ledger(user: str, tenant: str) -> dict:
    """The customer's ledger balance."""
    with open({calls!r}, "a") as f:
        f.write(f"{{os.getpid()}}\\n")
    raise ConnectionError("back office down")
'''


def _shared_config(fast_cfg: PipelineConfig, redis_url: str, tmp_path: Path) -> Path:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "ledger.py").write_text(_FAILING_TOOL.format(calls=str(tmp_path / "calls.txt")))
    prefix = "so" + uuid.uuid4().hex[:6]
    cfg = fast_cfg.with_overrides({
        "cache.enabled": True, "cache.backend": "redis", "cache.redis_url": redis_url, "cache.key_prefix": prefix,
        "cache.semantic.enabled": False, "memory.enabled": True, "memory.store": "redis", "memory.url": redis_url,
        "tools.enabled": True, "tools.plugins_dir": str(plugins), "tools.hot_reload": False, "tools.audit_log": None,
        "tools.breaker_store": "redis", "tools.redis_url": redis_url, "tools.key_prefix": prefix,
        "tools.breaker_failures": 3, "tools.breaker_reset_s": 60, "tools.timeout_s": 5})
    cfg.to_yaml(tmp_path / "shared.yaml")
    return tmp_path / "shared.yaml"


@pytest.fixture
def two_workers(fast_cfg: PipelineConfig, redis_server: Any, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """Two ``workbench serve`` processes of one config, sharing one Redis: (url A, url B, tmp folder)."""
    config = _shared_config(fast_cfg, redis_server.url, tmp_path)
    a = ServeProcess(config, log_path=tmp_path / "a.log")
    b = ServeProcess(config, log_path=tmp_path / "b.log")
    try:
        a.start()
        b.start()
        yield a.url, b.url, tmp_path
    finally:
        a.stop()
        b.stop()


def test_workers_share_cache_sessions_and_open_circuits(two_workers: tuple[str, str, Path]) -> None:
    url_a, url_b, tmp_path = two_workers
    with httpx.Client(timeout=60) as client:
        def ask(url: str, **body: Any) -> httpx.Response:
            return client.post(f"{url}/v1/chat", json=body)

        # a cache entry written by one worker is hit by the other
        first = ask(url_a, question="What is the gold card annual fee?").json()
        assert first["cache_layer"] is None
        hit = ask(url_b, question="What is the gold card annual fee?").json()
        assert hit["cache_layer"] == "exact" and hit["answer"] == first["answer"]

        # a session continues on the other worker, and stays its user's
        ask(url_a, question="What is the gold card annual fee?", user="u1", session="s-across")
        follow = ask(url_b, question="and for the platinum one?", user="u1", session="s-across")
        assert follow.status_code == 200 and follow.json()["memory_turns"] == 1
        intruder = ask(url_a, question="and for the platinum one?", user="u2", session="s-across")
        assert intruder.status_code == 404 and intruder.json()["error"]["type"] == "session_not_found"

        # a tool's circuit opened by failures on A is open on B: B never calls the tool
        for _ in range(3):
            r = ask(url_a, question="what's my ledger balance?", user="u7", personalized=True)
            assert r.status_code == 200 and r.json()["tool"] == "get_ledger"
        calls = (tmp_path / "calls.txt").read_text().split()
        assert len(calls) == 3 and len(set(calls)) == 1
        refused = ask(url_b, question="what's my ledger balance?", user="u8", personalized=True)
        assert refused.status_code == 200 and "can't reach your account" in refused.json()["answer"]
        assert (tmp_path / "calls.txt").read_text().split() == calls


async def test_a_worker_sigkilled_under_load_loses_no_acknowledged_turn(fast_cfg: PipelineConfig, redis_server: Any,
                                                                        tmp_path: Path) -> None:
    """``--workers 2`` with sessions and cache in Redis: one worker SIGKILLed mid-run, the other serves on
    (uvicorn starts a replacement, which takes longer than this test runs on a loaded machine); every
    acknowledged turn is in the store, in order, read back by later turns."""
    crash_config("redis", redis_server.url, index_dir=fast_cfg.index_dir, cache_backend="redis",
                 redis_url=redis_server.url).to_yaml(tmp_path / "workers.yaml")
    reader = RedisSessionStore(redis_server.url)
    try:
        report = await run_crash_trial(tmp_path / "workers.yaml", reader, sessions=8, seed=21, workers=2,
                                       kill="worker", kill_at_s=random.Random(21).uniform(2.0, 4.0), after_s=3.0,
                                       log_path=tmp_path / "serve.log")
    finally:
        reader.close()
    assert report.acknowledged >= 40 and report.cache_hits >= 10 and report.acknowledged_after_kill >= 10, report
    assert (report.lost, report.read_your_writes_violations, report.order_inversions) == (0, 0, 0), report
    assert (report.duplicates, report.phantoms, report.refused) == (0, 0, 0), report
    log = (tmp_path / "serve.log").read_text()
    # both workers served; the killed one never shut down (uvicorn's "Child process died" line is not required: its
    # supervisor pings the live worker first, up to 5 s, so under load it may notice only after the test stopped it)
    assert log.count("Application startup complete") >= 2
    assert log.count("Finished server process") < log.count("Started server process"), log
