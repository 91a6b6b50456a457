"""Reader-only EM/F1 on CMRC 2018 dev for each generator (issue 12, item 6): the reader (prompt builder +
generator or extractor) answers from each question's gold paragraph, with no retrieval.

    .venv/bin/python bench/eval_reader.py [--quick] [--limit 200] [--small-limit 50] [--seed 0]
        [--generators extractive gemma-3-270m smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b]
        [--data ../shared/data/cmrc2018/cmrc2018_dev.json]

* Questions: a seeded sample of ``--limit`` CMRC 2018 dev questions (``EvalDataset.sample(limit, seed)``);
  the slow models listed in ``--small`` (default: the 1.5B) answer only its first ``--small-limit``, and
  every generator is also scored on that subset so the rows compare like with like.
* Reader: the ``default`` preset's prompt (few-shot, 2 worked examples in the question's language, whole
  passages: every CMRC paragraph is under 1,000 characters, so the whole gold paragraph is shown) with the
  generator replaced (``--set generator.kind=llama-cpp generator.model=NAME``), greedy, ``max_tokens`` 32,
  stop at a newline, 1 llama.cpp thread (2 threads collapsed on this shared 2-core machine, see
  bench_generators.py), no grounding guard: the raw reader.
* Scores: CMRC 2018 EM/F1 (character-level, the official definitions; as fractions, not ×100) and the
  answer-type-aware ``correct`` when the experiment computes it; p50/p95 of the reader's wall time per
  question (nearest rank). Each run is saved as an experiment (``--runs``), so ``workbench report`` reads it.

Writes bench/results/reader_cmrc.json (merged by generator, so the slow models can run separately).
The machine is 2 shared cores: the load average is recorded; compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import workbench  # noqa: F401  (offline switches)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "reader_cmrc.json"
DATA = ROOT.parent / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json"
GENERATORS = ["extractive", "gemma-3-270m", "smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
METRICS = ("questions", "errors", "correct", "em", "f1", "latency_p50_ms", "latency_p95_ms", "tokens_mean")


def reader_config(base: str, generator: str, threads: int) -> Any:
    """The ``base`` preset with its reader's generator replaced and the grounding guard off."""
    from workbench.config import PipelineConfig

    cfg = PipelineConfig.load(base)
    if generator == "extractive":
        return cfg.with_overrides({"generator.kind": "extractive", "generator.model": None,
                                   "generator.grounding": "off", "prompt.context": "passages"})
    return cfg.with_overrides({"generator.kind": "llama-cpp", "generator.model": generator, "generator.max_tokens": 32,
                               "generator.threads": threads, "generator.grounding": "off",
                               "generator.stop": ["\n"], "prompt.context": "passages"})


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The table's numbers from an experiment summary."""
    overall = summary["overall"]
    return {k: overall.get(k) for k in METRICS}


def rescore(rows: Any) -> Any:
    """``correct`` / ``verdict`` recomputed with the current matcher (saved runs keep the answers)."""
    from workbench.evaluation.metrics import match_answer

    rows = rows.copy()
    if "answer" not in rows:
        return rows
    verdicts = [match_answer(a, list(r), question=q) if isinstance(a, str) and isinstance(r, list) else None
                for a, r, q in zip(rows["answer"], rows.get("references", [None] * len(rows)), rows["question"],
                                   strict=True)]
    rows["verdict"] = [v.verdict if v else None for v in verdicts]
    rows["correct"] = [v.score if v else None for v in verdicts]
    return rows


def subset_scores(rows: Any, ids: set[str]) -> dict[str, Any]:
    """EM/F1/correct means over the questions in ``ids``."""
    part = rows[rows["question_id"].isin(ids)]
    out: dict[str, Any] = {"questions": len(part)}
    for col in ("correct", "em", "f1"):
        if col in part:
            out[col] = float(part[col].mean())
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--small-limit", type=int, default=50)
    parser.add_argument("--small", nargs="*", default=["qwen2.5-coder-1.5b"], help="generators run on --small-limit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generators", nargs="*", default=GENERATORS)
    parser.add_argument("--base", default="default", help="the preset whose prompt the reader uses")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", default=str(ROOT / ".workbench" / "experiments" / "reader_cmrc"))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--quick", action="store_true", help="20 questions (5 for the small models)")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit, args.small_limit = 20, 5
    if not Path(args.data).is_file():
        print(f"CMRC 2018 dev not found at {args.data}; nothing to do")
        return 1

    from workbench.datasets import load_squad
    from workbench.evaluation import Experiment

    sample = load_squad(args.data, lang="zh").sample(args.limit, seed=args.seed)
    first = [q.id for q in sample.questions[: args.small_limit]]
    small = sample.filter(ids=first)
    out_path = Path(args.out)
    previous = json.loads(out_path.read_text(encoding="utf-8")) if out_path.is_file() else {}
    same_setup = previous.get("dataset_hash") == sample.hash and previous.get("base") == args.base
    results: dict[str, Any] = previous.get("generators", {}) if same_setup else {}
    for name in args.generators:
        dataset = small if name in args.small else sample
        cfg = reader_config(args.base, name, args.threads)
        print(f"{name}: {len(dataset.questions)} questions ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter_ns()
        result = Experiment(cfg, dataset, seed=args.seed, reader_only=True, cache_dir=args.runs,
                            labels={"bench": "eval_reader", "generator": name}).run()
        wall_s = (time.perf_counter_ns() - t0) / 1e9
        rows = rescore(result.rows)
        summary = {**result.summary, "overall": {**result.summary["overall"],
                                                 "correct": float(rows["correct"].dropna().mean())}}
        results[name] = {**headline(summary), "run": str(result.path), "from_cache": result.from_cache,
                         "wall_s": round(wall_s, 1), "subset": subset_scores(rows, set(first)),
                         "loadavg_after": list(os.getloadavg())}

    print(f"\nCMRC 2018 dev, reader only (gold paragraph), seeded sample of {len(sample.questions)} "
          f"(seed {args.seed}); {', '.join(args.small)} on the first {len(first)}\n")
    cols = METRICS
    print("| generator | " + " | ".join(cols) + f" | correct@{len(first)} | em@{len(first)} | f1@{len(first)} |")
    print("|---|" + "---|" * (len(cols) + 3))
    for name, r in results.items():
        sub = r["subset"]
        print(f"| {name} | " + " | ".join(_fmt(r.get(c)) for c in cols) + " | "
              + " | ".join(_fmt(sub.get(c)) for c in ("correct", "em", "f1")) + " |")
    record = {"method": __doc__, "data": args.data, "dataset_hash": sample.hash, "seed": args.seed,
              "limit": args.limit, "small_limit": args.small_limit, "small": args.small, "base": args.base,
              "threads": args.threads, "quick": args.quick,
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
              "headline": [f"reader-only CMRC {n}: EM {r.get('em') or 0:.3f} F1 {r.get('f1') or 0:.3f}"
                           for n, r in results.items()],
              "generators": results}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
