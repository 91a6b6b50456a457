"""Kill a worker with SIGKILL mid-conversation, start another: the conversation continues, 0 lost turns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from workbench.evaluation.crash_worker import turn_texts
from workbench.memory import RedisSessionStore, SQLiteSessionStore

TURNS = 40


def _worker(store: str, url: str, session: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "workbench.evaluation.crash_worker", "--store", store, "--url", url,
                             "--session", session, "--turns", str(TURNS), "--delay", "0.01"],
                            stdout=subprocess.PIPE, text=True)


def _kill_after(proc: subprocess.Popen[str], acks: int) -> list[int]:
    """Read acknowledgements until ``acks`` arrived, then SIGKILL; returns the acknowledged seqs."""
    assert proc.stdout is not None
    seen: list[int] = []
    for line in proc.stdout:
        if line.startswith("ack "):
            seen.append(int(line.split()[1]))
            if len(seen) >= acks:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return seen


def _crash_and_resume(store_kind: str, url: str, session: str, reader: Any) -> None:
    acked = _kill_after(_worker(store_kind, url, session), acks=12)
    assert acked == list(range(1, 13))
    # Everything acknowledged before the kill is there (the kill may have landed after one more commit).
    before = reader.turns("bank", session)
    assert [t.seq for t in before][: len(acked)] == acked
    second = _worker(store_kind, url, session)
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 0, out
    resumed_at = int(out.splitlines()[0].split()[1])
    assert resumed_at == len(before) + 1              # the new worker continued where the store stopped
    turns = reader.turns("bank", session)
    assert [t.seq for t in turns] == list(range(1, TURNS + 1))                 # 0 lost, 0 duplicated
    assert [(t.user, t.assistant) for t in turns] == [turn_texts(i) for i in range(1, TURNS + 1)]


def test_sqlite_worker_sigkill_loses_no_turn(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    with SQLiteSessionStore(path) as reader:
        _crash_and_resume("sqlite", str(path), "s-" + uuid.uuid4().hex[:6], reader)


@pytest.mark.redis
def test_redis_worker_sigkill_loses_no_turn(redis_server: Any) -> None:
    reader = RedisSessionStore(redis_server.url)
    try:
        _crash_and_resume("redis", redis_server.url, "s-" + uuid.uuid4().hex[:6], reader)
    finally:
        reader.close()


def test_sqlite_appends_from_several_processes(tmp_path: Path) -> None:
    """Three processes append to one session at once: gap-free seqs, every turn present."""
    path = tmp_path / "shared.sqlite3"
    SQLiteSessionStore(path).close()
    code = ("import sys; from workbench.memory import SQLiteSessionStore\n"
            "s = SQLiteSessionStore(sys.argv[1], synchronous='NORMAL')\n"
            "[s.append('bank', 'shared', f'p{sys.argv[2]}-{i}', 'a') for i in range(30)]\n")
    t0 = time.perf_counter_ns()
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(p)]) for p in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0], f"after {(time.perf_counter_ns() - t0) / 1e9:.1f} s"
    with SQLiteSessionStore(path) as s:
        turns = s.turns("bank", "shared")
    assert [t.seq for t in turns] == list(range(1, 91))
    assert sorted(t.user for t in turns) == sorted(f"p{p}-{i}" for p in range(3) for i in range(30))
