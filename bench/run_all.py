"""Run every benchmark script in bench/ one after another, then print one table of headline figures.

    .venv/bin/python bench/run_all.py            # short mode: --quick where a script has it (what `make bench` runs)
    .venv/bin/python bench/run_all.py --full     # every script's default (long) mode
    .venv/bin/python bench/run_all.py --all      # also eval_scifact.py (embeds 5k docs the first run)
    .venv/bin/python bench/run_all.py --only bench_embedding bench_generation
    .venv/bin/python bench/run_all.py --summary-only   # just the table from existing bench/results/*.json

Scripts: bench/bench_*.py and bench/eval_*.py except this one, in name order, each as a subprocess
with the venv's Python, output streamed as it comes. A script supports the short mode if its source
declares a ``--quick`` option. The table reads bench/results/*.json: a result's ``headline`` list
when it has one, otherwise a few known fields; it is written to bench/results/summary.json together
with each script's exit code and wall time. Scripts run one at a time (they measure speed; running
them side by side would measure each other).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
SLOW_BY_DEFAULT = {"eval_scifact.py"}


def discover(include_slow: bool, only: list[str] | None) -> list[Path]:
    """The benchmark scripts to run, in name order."""
    me = Path(__file__).name
    found = sorted(p for p in BENCH.glob("*.py") if p.name != me and p.name.startswith(("bench_", "eval_")))
    if only:
        wanted = {o.removesuffix(".py") for o in only}
        return [p for p in found if p.stem in wanted]
    return [p for p in found if include_slow or p.name not in SLOW_BY_DEFAULT]


def supports_quick(script: Path) -> bool:
    return '"--quick"' in script.read_text(encoding="utf-8")


def run_script(script: Path, quick: bool, timeout_s: float) -> dict[str, Any]:
    cmd = [sys.executable, str(script)]
    if quick and supports_quick(script):
        cmd.append("--quick")
    print(f"\n{'=' * 100}\n$ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}\n{'=' * 100}", flush=True)
    t0 = time.perf_counter_ns()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, timeout=timeout_s, check=False)
        code: int | str = proc.returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    wall = (time.perf_counter_ns() - t0) / 1e9
    print(f"--- {script.name}: exit {code}, {wall:.0f} s", flush=True)
    return {"script": script.name, "args": cmd[2:], "exit": code, "wall_s": round(wall, 1)}


# -- headline figures -------------------------------------------------------------------------
def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _fallback(name: str, data: dict) -> list[dict[str, Any]]:
    """Headline figures for results written before the ``headline`` convention (best effort)."""
    rows: list[dict[str, Any]] = []
    if name == "scifact":
        for system, m in (data.get("measured") or {}).items():
            if isinstance(m, dict) and "ndcg@10" in m:
                rows.append({"metric": f"{system} nDCG@10", "value": m["ndcg@10"]})
    elif name == "cmrc":
        for label, m in (data.get("results") or {}).items():
            if isinstance(m, dict) and "f1" in m:
                rows.append({"metric": f"{label} F1", "value": m["f1"]})
    elif name == "cache":
        pick = data.get("picked_threshold")
        if pick is not None:
            rows.append({"metric": "picked threshold", "value": pick})
        ratios = data.get("ratios_vs_no_cache")
        if isinstance(ratios, dict):
            for k, v in list(ratios.items())[:3]:
                if isinstance(v, int | float):
                    rows.append({"metric": f"vs no cache: {k}", "value": v})
    if not rows:  # any top-level numbers
        rows = [{"metric": k, "value": v} for k, v in data.items()
                if isinstance(v, int | float) and not isinstance(v, bool)][:4]
    return rows


def collect() -> list[dict[str, Any]]:
    rows = []
    for path in sorted(RESULTS.glob("*.json")):
        if path.name == "summary.json":
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            rows.append({"result": path.stem, "metric": f"unreadable: {exc}", "value": None})
            continue
        items = data.get("headline") if isinstance(data, dict) else None
        if not isinstance(items, list):
            items = _fallback(path.stem, data) if isinstance(data, dict) else []
        mode = "quick" if _get(data, "quick") else ("full" if _get(data, "quick") is False else "")
        written = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
        if not items:
            rows.append({"result": path.stem, "metric": "(no headline figures)", "value": None, "written": written})
        for it in items:
            rows.append({"result": path.stem, "mode": mode, "written": written, **it})
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v)
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'=' * 100}\nHeadline figures from bench/results/*.json\n{'=' * 100}")
    print(f"{'result':16s} {'mode':5s} {'metric':58s} {'value':>10s} {'unit':7s} {'target':8s} met")
    for r in rows:
        met = "" if "met" not in r else ("inconclusive" if r["met"] is None else "yes" if r["met"] else "NO")
        print(f"{r['result']:16s} {r.get('mode', ''):5s} {str(r['metric'])[:58]:58s} {_fmt(r.get('value')):>10s} "
              f"{str(r.get('unit', ''))[:7]:7s} {str(r.get('target', ''))[:8]:8s} {met}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="run scripts in their default (long) mode, not --quick")
    ap.add_argument("--all", action="store_true", help="include eval_scifact.py (slow the first time)")
    ap.add_argument("--only", nargs="+", help="script names to run (with or without .py)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per script")
    ap.add_argument("--summary-only", action="store_true", help="run nothing; print and write the summary")
    args = ap.parse_args(argv)
    runs = []
    t0 = time.perf_counter_ns()
    if not args.summary_only:
        scripts = discover(args.all, args.only)
        print("scripts: " + ", ".join(p.name for p in scripts), flush=True)
        for script in scripts:
            runs.append(run_script(script, quick=not args.full, timeout_s=args.timeout))
    rows = collect()
    print_table(rows)
    if runs:
        print("\nruns: " + ", ".join(f"{r['script']} {r['exit']} ({r['wall_s']:.0f} s)" for r in runs))
    failed = [r for r in runs if r["exit"] != 0]
    summary = {"command": "python bench/run_all.py " + " ".join(argv or sys.argv[1:]),
               "mode": "summary-only" if args.summary_only else ("full" if args.full else "quick"),
               "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                           "load_average_at_end": os.getloadavg()},
               "runs": runs, "failed": [r["script"] for r in failed], "headline": rows,
               "total_wall_s": round((time.perf_counter_ns() - t0) / 1e9, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS / 'summary.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
