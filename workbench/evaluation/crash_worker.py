"""A stand-in serving worker for the memory crash test: it holds a conversation and appends its turns to a store.

It resumes the session where the store says it stopped, appends ``turn i`` until ``--turns``, and
prints ``ack <seq>`` (flushed) only after the store acknowledged the append: a turn that was
acknowledged to the user must survive a SIGKILL of the worker::

    python -m workbench.evaluation.crash_worker --store sqlite --url /tmp/s.sqlite3 --session s1 --turns 40
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from workbench.config import MemoryConfig
from workbench.memory.conversation import ConversationMemory

__all__ = ["main", "turn_texts"]


def turn_texts(seq: int) -> tuple[str, str]:
    """The deterministic (user, assistant) texts of turn ``seq``."""
    return f"question {seq}: what is my gold card limit?", f"answer {seq}: RMB {seq * 1000}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
