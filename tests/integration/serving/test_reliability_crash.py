"""Issue 13, item 3 with real processes: ``workbench serve`` SIGKILLed mid-run under concurrent conversations,
restarted on the same store: 0 acknowledged turns lost, 0 read-your-writes violations, 0 order inversions
(SQLite file and redis-server). bench/bench_crash.py runs the full measurement (24 sessions, 3 runs each)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from workbench.config import PipelineConfig
from workbench.evaluation.crash_worker import CrashReport, crash_config, run_crash_trial
from workbench.memory import RedisSessionStore, SQLiteSessionStore


def _check(report: CrashReport) -> None:
    before = report.acknowledged - report.acknowledged_after_kill
    assert before >= 4 and report.acknowledged_after_kill >= 4, report   # turns before the kill and after it
    assert report.cache_hits >= 10, report                                # cache hits are turns too (item 4)
    assert (report.lost, report.read_your_writes_violations, report.order_inversions) == (0, 0, 0), report
    assert (report.duplicates, report.phantoms, report.refused) == (0, 0, 0), report


async def test_sqlite_sessions_survive_a_sigkill_of_the_service(fast_cfg: PipelineConfig, tmp_path: Path) -> None:
    db = tmp_path / "sessions.sqlite3"
    crash_config("sqlite", str(db), index_dir=fast_cfg.index_dir).to_yaml(tmp_path / "crash.yaml")
    with SQLiteSessionStore(db) as reader:
        report = await run_crash_trial(tmp_path / "crash.yaml", reader, sessions=8, seed=11,
                                       kill_at_s=random.Random(11).uniform(2.0, 4.0), after_s=2.0,
                                       log_path=tmp_path / "serve.log")
    _check(report)


@pytest.mark.redis
async def test_redis_sessions_survive_a_sigkill_of_the_service(fast_cfg: PipelineConfig, redis_server: Any,
                                                               tmp_path: Path) -> None:
    crash_config("redis", redis_server.url, index_dir=fast_cfg.index_dir, cache_backend="redis",
                 redis_url=redis_server.url).to_yaml(tmp_path / "crash.yaml")
    reader = RedisSessionStore(redis_server.url)
    try:
        report = await run_crash_trial(tmp_path / "crash.yaml", reader, sessions=8, seed=12,
                                       kill_at_s=random.Random(12).uniform(2.0, 4.0), after_s=2.0,
                                       log_path=tmp_path / "serve.log")
    finally:
        reader.close()
    _check(report)
