"""The fake-user SQLite fixture behind the bank plugins, generated from a seed (never committed).

``python -m workbench.tools.bank_fixture [PATH]`` writes it; the plugins build it on first use at
:func:`bank_db_path` (``$WB_BANK_DB`` or ``.workbench/bank_fixture.sqlite3``). The same seed gives the
same users, bills and balances on every machine, so the dataset's personalized questions can state
expected answers::

    path = build_bank_fixture("/tmp/bank.sqlite3")          # 36 users of tenant 'bank', 4 of 'partner'
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["FIXTURE_SEED", "FIXTURE_TODAY", "MONTHS", "bank_db_path", "build_bank_fixture", "connect"]

FIXTURE_SEED = 20260615
#: The fixture's "today": bills exist for the six months up to it.
FIXTURE_TODAY = "2026-06-15"
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06")
_TIERS = {"classic": (2_000, 30_000), "gold": (30_000, 100_000), "platinum": (100_000, 500_000)}
_NAMES = ("Li Wei", "Wang Fang", "Zhang Min", "Liu Yang", "Chen Jing", "Yang Lei", "Zhao Qiang", "Huang Li",
          "Zhou Tao", "Wu Na", "Xu Jun", "Sun Yan", "Ma Chao", "Zhu Hong", "Hu Bin", "Guo Xia")


def build_bank_fixture(path: str | Path, *, seed: int = FIXTURE_SEED, bank_users: int = 36,
                       partner_users: int = 4) -> Path:
    """Write the fixture database at ``path`` (replacing it) and return the path."""
    rng = random.Random(seed)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    conn.executescript("""
        CREATE TABLE users (user_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL,
            card_tier TEXT NOT NULL, credit_limit INTEGER NOT NULL, available_credit INTEGER NOT NULL,
            points INTEGER NOT NULL, expiring_points INTEGER NOT NULL, points_expiry TEXT NOT NULL);
        CREATE TABLE bills (user_id TEXT NOT NULL, month TEXT NOT NULL, statement_balance REAL NOT NULL,
            minimum_payment REAL NOT NULL, due_date TEXT NOT NULL, paid INTEGER NOT NULL,
            PRIMARY KEY (user_id, month));
        CREATE TABLE loans (user_id TEXT PRIMARY KEY, product TEXT NOT NULL, outstanding REAL NOT NULL,
            monthly_payment REAL NOT NULL, next_payment_date TEXT NOT NULL);
    """)
    ids = [(f"u{i:03d}", "bank") for i in range(1, bank_users + 1)] + \
          [(f"p{i:03d}", "partner") for i in range(1, partner_users + 1)]
    for user_id, tenant in ids:
        tier = rng.choice(list(_TIERS))
        lo, hi = _TIERS[tier]
        limit = rng.randrange(lo, hi + 1, 1000)
        balance = rng.randrange(0, limit // 2 + 1, 10)
        points = rng.randrange(0, 120_000, 10)
        expiring = 0 if tier == "platinum" else rng.randrange(0, min(points, 5_000) + 1, 10)
        conn.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (user_id, tenant, rng.choice(_NAMES), tier, limit, limit - balance, points, expiring,
                      "2026-06-30"))
        for month in MONTHS:
            amount = round(rng.uniform(0, limit * 0.6), 2)
            minimum = round(max(min(amount, 100.0), amount * 0.1), 2)
            paid = 0 if month == MONTHS[-1] else int(rng.random() < 0.9)
            conn.execute("INSERT INTO bills VALUES (?, ?, ?, ?, ?, ?)",
                         (user_id, month, amount, minimum, f"{month}-25", paid))
        if rng.random() < 0.5:
            outstanding = rng.randrange(10_000, 300_001, 100)
            months = rng.choice((12, 24, 36))
            conn.execute("INSERT INTO loans VALUES (?, ?, ?, ?, ?)",
                         (user_id, "easy_loan", float(outstanding), round(outstanding / months * 1.05, 2),
                          "2026-07-10"))
    conn.commit()
    conn.close()
    os.replace(tmp, p)
    return p


def bank_db_path() -> Path:
    """Where the plugins read the fixture (built on first use)."""
    p = Path(os.environ.get("WB_BANK_DB", ".workbench/bank_fixture.sqlite3"))
    if not p.is_file():
        build_bank_fixture(p)
    return p


def connect(path: str | Path | None = None) -> sqlite3.Connection:
    """A read-only connection to the fixture."""
    p = Path(path) if path is not None else bank_db_path()
    conn = sqlite3.connect(f"file:{p.resolve()}?mode=ro", uri=True, timeout=5, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def main(argv: Sequence[str] | None = None) -> int:
    """Write the fixture (default: :func:`bank_db_path`'s location)."""
    args = list(sys.argv[1:] if argv is None else argv)
    target = Path(args[0]) if args else Path(os.environ.get("WB_BANK_DB", ".workbench/bank_fixture.sqlite3"))
    print(build_bank_fixture(target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
