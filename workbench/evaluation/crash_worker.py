"""Crash tests of conversation memory: acknowledged turns must survive a SIGKILL, in order.

Two levels:

- **The stand-in worker** (``python -m workbench.evaluation.crash_worker``): it holds one conversation,
  appends its turns straight to a store and prints ``ack <seq>`` (flushed) only after the store acknowledged
  the append; it resumes where the store says it stopped::

      python -m workbench.evaluation.crash_worker --store sqlite --url /tmp/s.sqlite3 --session s1 --turns 40

- **The service** (:func:`run_crash_trial`, issue 13's measurement): ``workbench serve`` in a child process,
  ``sessions`` concurrent conversations over HTTP (each a client that sends its next turn when the last one
  was answered; odd turns are unique, even ones are common questions answered from the cache), a SIGKILL of
  the whole service at a random moment, a restart on the same store, more turns, then an audit of the store::

      report = asyncio.run(run_crash_trial(config_yaml, SQLiteSessionStore(path), sessions=24, seed=1))
      report.lost, report.read_your_writes_violations, report.order_inversions      # all 0

A turn is *acknowledged* when its HTTP 200 arrived. Counted per run: **lost**, acknowledged turns missing
from the store; **read-your-writes violations**, responses whose ``memory_turns`` (the history the turn was
answered with; the window is larger than any conversation here) is smaller than the number of turns of
that session acknowledged before it was sent; **order inversions**, neighbouring stored turns in the
reverse of the order they were sent; also duplicates and turns stored that were never sent. A turn whose
request died with the service is *in doubt*: it may or may not be stored, and either is correct.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.config import MemoryConfig, PipelineConfig
from workbench.memory.conversation import ConversationMemory
from workbench.memory.stores.base import SessionStore

__all__ = ["COMMON_QUESTIONS", "CrashReport", "audit_session", "crash_config", "main", "run_crash_trial",
           "turn_question", "turn_texts"]

#: The even turns: standalone questions that name their product (never rewritten), cached before the run.
COMMON_QUESTIONS = ("What is the gold card annual fee?", "What is the platinum card annual fee?",
                    "What is the credit limit of the classic card?", "How do I activate a new debit card?",
                    "Is the supplementary card free?", "What is the interest rate of a time deposit?")
_MARKER = re.compile(r"^turn (\d+) of ")


def turn_texts(seq: int) -> tuple[str, str]:
    """The deterministic (user, assistant) texts of the stand-in worker's turn ``seq``."""
    return f"question {seq}: what is my gold card limit?", f"answer {seq}: RMB {seq * 1000}"


def turn_question(session: str, i: int) -> str:
    """The question of turn ``i`` (1-based) of ``session``: unique when ``i`` is odd, common when even."""
    if i % 2:
        return f"turn {i} of {session}: what is the gold card annual fee?"
    return COMMON_QUESTIONS[(i // 2 + sum(map(ord, session))) % len(COMMON_QUESTIONS)]


def audit_session(sent: Sequence[tuple[int, str, str]], stored: Sequence[str]) -> dict[str, int]:
    """Compare what one session's client sent with what the store holds.

    :param sent: ``(i, question, status)`` per turn in sending order; status ``acked``, ``doubt`` (the request
        died with the service) or ``refused`` (an error status: not stored by contract).
    :param stored: the stored turns' user texts, in stored order.
    :returns: counts of ``lost``, ``order_inversions``, ``duplicates``, ``phantoms``, ``stored_in_doubt``.
    """
    by_i = {i: q for i, q, _ in sent}
    mapped: list[int] = []
    phantoms = 0
    for text in stored:
        m = _MARKER.match(text)
        if m is not None and by_i.get(int(m.group(1))) == text:
            mapped.append(int(m.group(1)))
            continue
        prev = mapped[-1] if mapped else 0
        nxt = next((i for i in sorted(by_i) if i > prev and by_i[i] == text), None)
        if nxt is None:
            phantoms += 1
        else:
            mapped.append(nxt)
    present = set(mapped)
    status = {i: st for i, _, st in sent}
    return {"lost": sum(1 for i, _, st in sent if st == "acked" and i not in present),
            "order_inversions": sum(1 for a, b in itertools.pairwise(mapped) if b < a),
            "duplicates": len(mapped) - len(present), "phantoms": phantoms,
            "stored_in_doubt": sum(1 for i in present if status.get(i) == "doubt")}


@dataclass
class CrashReport:
    """One crash trial's counts (see the module docstring for the definitions)."""

    store: str
    sessions: int
    kill_at_s: float
    """Seconds after the first turn when the service was SIGKILLed."""
    acknowledged: int = 0
    acknowledged_after_kill: int = 0
    """Turns acknowledged after the SIGKILL (by the restarted service, or by the surviving workers)."""
    in_doubt: int = 0
    stored_in_doubt: int = 0
    refused: int = 0
    lost: int = 0
    read_your_writes_violations: int = 0
    order_inversions: int = 0
    duplicates: int = 0
    phantoms: int = 0
    cache_hits: int = 0
    restart_s: float = 0.0
    """Seconds the service took to come back (start-up of a fresh process on the same store)."""
    statuses: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (a row of the bench table)."""
        return asdict(self)


def crash_config(store: str, url: str, *, index_dir: str | Path, cache_backend: str = "memory",
                 redis_url: str | None = None, synchronous: str = "FULL") -> PipelineConfig:
    """The ``fast`` preset with memory on ``store`` at ``url`` (a window larger than any trial's session, so
    ``memory_turns`` counts every earlier turn) and the exact cache on."""
    overrides: dict[str, Any] = {
        "index_dir": str(index_dir), "memory.enabled": True, "memory.store": store, "memory.url": url,
        "memory.window_turns": 1000, "memory.max_tokens": 10_000_000, "memory.sqlite_synchronous": synchronous,
        "cache.enabled": True, "cache.semantic.enabled": False, "cache.backend": cache_backend,
        "serving.max_queue": 256, "serving.max_wait_ms": 30_000, "serving.degradation.enabled": False}
    if redis_url is not None:
        overrides["cache.redis_url"] = redis_url
    return PipelineConfig.load("fast").with_overrides(overrides)


async def run_crash_trial(config: str | Path, reader: SessionStore, *, sessions: int = 24, kill_at_s: float | None = None,
                          after_s: float = 6.0, seed: int = 0, tenant: str = "default",
                          log_path: str | Path | None = None, workers: int = 1,
                          kill: Literal["service", "worker"] = "service") -> CrashReport:
    """Run the service of ``config``, SIGKILL it mid-run, restart it, and audit the store through ``reader``.

    :param config: a YAML config (e.g. :func:`crash_config` saved with ``to_yaml``).
    :param reader: a store on the same database as the config's memory, to audit with.
    :param sessions: concurrent conversations.
    :param kill_at_s: when to SIGKILL (default: uniform in 4-10 s, from ``seed``).
    :param after_s: how long the conversations go on after the restart.
    :param seed: the random stream of the kill time and the session ids.
    :param workers: ``workbench serve --workers``.
    :param kill: ``service``: SIGKILL the whole service and start it again; ``worker``: SIGKILL one worker
        (the others keep serving; uvicorn's supervisor starts a replacement).
    :returns: the :class:`CrashReport`.
    """
    import httpx

    from workbench.testing import ServeProcess

    rng = random.Random(seed)
    kill_at = kill_at_s if kill_at_s is not None else round(rng.uniform(4.0, 10.0), 2)
    run_id = f"c{seed}-{rng.randrange(16**6):06x}"
    names = [(f"{run_id}-s{k:02d}", f"user{k:02d}") for k in range(sessions)]
    report = CrashReport(store=type(reader).__name__, sessions=sessions, kill_at_s=kill_at)
    sent: dict[str, list[tuple[int, str, str]]] = {s: [] for s, _ in names}
    statuses: Counter[str] = Counter()
    stop, up, killed = asyncio.Event(), asyncio.Event(), asyncio.Event()
    server = ServeProcess(config, log_path=log_path, workers=workers)
    await asyncio.to_thread(server.start)
    up.set()

    async def conversation(client: httpx.AsyncClient, session: str, user: str) -> None:
        acked, i = 0, 0
        while not stop.is_set():
            i += 1
            q = turn_question(session, i)
            await up.wait()
            try:
                r = await client.post("/v1/chat", json={"question": q, "user": user, "session": session})
            except httpx.TransportError:
                sent[session].append((i, q, "doubt"))
                statuses["connection_error"] += 1
                await up.wait()
                continue
            statuses[str(r.status_code)] += 1
            if r.status_code != 200:
                sent[session].append((i, q, "refused"))
                await asyncio.sleep(0.05)
                continue
            body = r.json()
            if body["memory_turns"] < acked:
                report.read_your_writes_violations += 1
            report.cache_hits += body.get("cache_layer") == "exact"
            acked += 1
            report.acknowledged_after_kill += killed.is_set()
            sent[session].append((i, q, "acked"))

    async with httpx.AsyncClient(base_url=server.url, timeout=60,
                                 limits=httpx.Limits(max_connections=sessions + 4)) as client:
        async def warm() -> None:  # cache them (again after the restart): the even turns are then cache hits
            for q in COMMON_QUESTIONS:
                for _attempt in range(3):  # a pooled connection to the killed process fails once
                    try:
                        (await client.post("/v1/chat", json={"question": q})).raise_for_status()
                        break
                    except httpx.TransportError:
                        continue

        await warm()
        tasks = [asyncio.create_task(conversation(client, s, u)) for s, u in names]
        try:
            await asyncio.sleep(kill_at)
            killed.set()
            if kill == "worker":
                server.kill_worker(rng.choice(server.worker_pids()))
            else:
                up.clear()
                server.kill()
                t = time.perf_counter_ns()
                await asyncio.to_thread(server.start)
                report.restart_s = round((time.perf_counter_ns() - t) / 1e9, 2)
                await warm()
                up.set()
            await asyncio.sleep(after_s)
        finally:
            stop.set()
            up.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(server.stop)
    for session, _user in names:
        counts = audit_session(sent[session], [t.user for t in reader.turns(tenant, session)])
        report.lost += counts["lost"]
        report.order_inversions += counts["order_inversions"]
        report.duplicates += counts["duplicates"]
        report.phantoms += counts["phantoms"]
        report.stored_in_doubt += counts["stored_in_doubt"]
        for _, _, st in sent[session]:
            report.acknowledged += st == "acked"
            report.in_doubt += st == "doubt"
            report.refused += st == "refused"
    report.statuses = dict(statuses)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in worker; returns the exit code."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--store", choices=["sqlite", "redis", "postgres"], required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--tenant", default="bank")
    ap.add_argument("--session", default="s1")
    ap.add_argument("--turns", type=int, default=40)
    ap.add_argument("--delay", type=float, default=0.01, help="seconds between turns (model time stand-in)")
    args = ap.parse_args(argv)
    cfg = MemoryConfig(enabled=True, store=args.store, url=args.url)
    memory = ConversationMemory.from_config(cfg)
    start = memory.store.count(args.tenant, args.session) + 1
    print(f"resume {start}", flush=True)
    for seq in range(start, args.turns + 1):
        view = memory.load(args.tenant, args.session)        # what a real worker does before answering
        user, assistant = turn_texts(seq)
        turn = memory.append(args.tenant, args.session, user, assistant, {"window": len(view.turns)})
        sys.stdout.write(f"ack {turn.seq}\n")
        sys.stdout.flush()
        time.sleep(args.delay)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
