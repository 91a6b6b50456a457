"""Tool-layer numbers: breaker opening, latency of healthy calls during a tool outage, hot reload.

``python bench/bench_tools.py`` prints a table. Percentiles are nearest-rank.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import textwrap
import time
from pathlib import Path

from workbench.tools import (
    CircuitOpenError,
    ToolError,
    ToolExecutor,
    ToolPolicy,
    ToolRegistry,
    tool,
)

__all__ = ["main"]


@tool(idempotent=True)
def healthy(user: str) -> dict:
    """Healthy."""
    return {"ok": True}


@tool(idempotent=True)
def hanging(user: str) -> dict:
    """Hangs past its timeout."""
    time.sleep(0.5)
    return {}


@tool(idempotent=False)
def failing(user: str) -> dict:
    """Fails."""
    raise ConnectionError("down")


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


async def _latencies(ex: ToolExecutor, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        await ex.acall("bank", "u1", "healthy")
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


async def _run() -> None:
    reg = ToolRegistry()
    for s in (healthy, hanging, failing):
        reg.register(s)
    ex = ToolExecutor(reg, ToolPolicy({"bank": ("*",)}), timeout_s=0.2, breaker_failures=5, breaker_reset_s=30,
                      max_concurrency=4, retries=0)
    calls = 0
    while True:
        calls += 1
        try:
            await ex.acall("bank", "u1", "failing")
        except CircuitOpenError:
            break
        except ToolError:
            pass
    print(f"breaker: opened after {calls - 1} failing calls (breaker_failures=5); call {calls} refused fast")

    base = await _latencies(ex, 300)

    async def outage() -> None:
        while True:
            await asyncio.gather(*(ex.acall("bank", "u1", "hanging") for _ in range(4)), return_exceptions=True)

    task = asyncio.create_task(outage())
    await asyncio.sleep(0.05)
    during = await _latencies(ex, 300)
    task.cancel()
    print(f"healthy tool latency, ms  p50 {_pct(base, 50):.3f} / p95 {_pct(base, 95):.3f} (no outage)  "
          f"vs p50 {_pct(during, 50):.3f} / p95 {_pct(during, 95):.3f} (another tool hanging, timeout 200 ms); "
          f"p50 ratio {_pct(during, 50) / _pct(base, 50):.2f}")
    ex.close()

    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "plugin.py"
        src = 'from workbench.tools import tool\n@tool(version="{v}")\ndef hours(city: str) -> dict:\n' \
              '    """Hours."""\n    return {{"v": "{v}"}}\n'
        f.write_text(textwrap.dedent(src.format(v="1")))
        reg2 = ToolRegistry.from_folder(tmp, check_interval_s=0)
        ex2 = ToolExecutor(reg2, ToolPolicy({"bank": ("*",)}))
        await ex2.acall("bank", "u1", "hours", {"city": "x"})
        f.write_text(textwrap.dedent(src.format(v="2")))
        t = time.perf_counter_ns()
        res = await ex2.acall("bank", "u1", "hours", {"city": "x"})
        ms = (time.perf_counter_ns() - t) / 1e6
        print(f"hot reload: edited plugin served as version {res.version} by the next call, {ms:.1f} ms "
              f"(including the re-import), same process, versions kept {[v.version for v in reg2.versions('hours')]}")
        ex2.close()


def main() -> int:
    """Run the benchmark."""
    asyncio.run(_run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
