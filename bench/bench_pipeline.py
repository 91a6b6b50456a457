"""Foundation figures: retrieval quality per mode, per-stage latency, Haystack overhead, preset answers.

    .venv/bin/python bench/bench_pipeline.py [--answers 40] [--repeats 60]

Prints tables and writes bench/results/pipeline.json. Timings are medians over ``--repeats`` runs with
one warm-up; the Haystack overhead is ``Pipeline.run`` minus the direct component calls of the same
warmed components on the same questions, measured in the same process (a ratio, not an absolute).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import time
from pathlib import Path

import workbench  # noqa: F401  (offline switches)
from workbench.config import PipelineConfig
from workbench.datasets import load_dataset
from workbench.pipelines import QueryPipeline, load_knowledge_base

OUT = Path(__file__).resolve().parent / "results" / "pipeline.json"


def _norm(s: str) -> str:
    return re.sub(r"[\s,，。.、：:；;!！?？\"'“”]", "", s.lower())


def retrieval_table(base: PipelineConfig, kb) -> dict:  # type: ignore[no-untyped-def]
    ds = load_dataset()
    out: dict = {}
    for mode in ("dense", "bm25", "hybrid"):
        qp = QueryPipeline(base.with_overrides({"retriever.mode": mode}), kb)
        rows = []
        for q in ds.questions:
            ids = []
            for d in qp.retrieve(q.question, top_k=20):
                if d.meta["doc_id"] not in ids:
                    ids.append(d.meta["doc_id"])
            top5 = ids[:5]
            gold = set(q.gold_doc_ids)
            rank = next((i + 1 for i, x in enumerate(ids) if x in gold), None)
            rows.append({"lang": q.lang, "cross": q.cross_lingual, "hit5": bool(gold & set(top5)),
                         "recall5": len(gold & set(top5)) / len(gold), "rr": 1 / rank if rank else 0.0})
        def agg(sel, rows=rows):  # type: ignore[no-untyped-def]
            part = [r for r in rows if sel(r)]
            n = len(part)
            return {"n": n, "hit@5": sum(r["hit5"] for r in part) / n, "recall@5": sum(r["recall5"] for r in part) / n,
                    "mrr@20": sum(r["rr"] for r in part) / n}
        out[mode] = {"all": agg(lambda r: True), "en": agg(lambda r: r["lang"] == "en"),
                     "zh": agg(lambda r: r["lang"] == "zh"), "cross_lingual": agg(lambda r: r["cross"])}
    return out


def stage_latency(cfg: PipelineConfig, kb, questions: list[str], repeats: int) -> dict:  # type: ignore[no-untyped-def]
    qp = QueryPipeline(cfg, kb)
    qp.warm_up()
    qp.run(questions[0])
    per_stage: dict[str, list[float]] = {}
    for i in range(repeats):
        r = qp.run(questions[i % len(questions)])
        for k, v in r.timings_ms.items():
            per_stage.setdefault(k, []).append(v)
    return {k: statistics.median(v) for k, v in per_stage.items()}


def haystack_overhead(cfg: PipelineConfig, kb, questions: list[str], repeats: int) -> dict:  # type: ignore[no-untyped-def]
    qp = QueryPipeline(cfg, kb)
    qp.warm_up()
    pipe = qp.to_haystack()
    direct, hay = [], []
    for i in range(repeats + 1):
        q = questions[i % len(questions)]
        t = time.perf_counter_ns()
        qp.run(q)
        d = (time.perf_counter_ns() - t) / 1e6
        t = time.perf_counter_ns()
        pipe.run(qp.haystack_inputs(q))
        h = (time.perf_counter_ns() - t) / 1e6
        if i:  # the first pair is the warm-up
            direct.append(d)
            hay.append(h)
    md, mh = statistics.median(direct), statistics.median(hay)
    return {"direct_ms_p50": md, "haystack_ms_p50": mh, "overhead_ms_p50": mh - md, "ratio": mh / md}


def answers(preset: str, kb, sample) -> dict:  # type: ignore[no-untyped-def]
    cfg = PipelineConfig.load(preset)
    qp = QueryPipeline(cfg, kb)
    qp.warm_up()
    rows = []
    for q in sample:
        r = qp.run(q.question)
        ok = any(_norm(g) in _norm(r.answer) for g in q.answers)
        rows.append({"id": q.id, "lang": q.lang, "question": q.question, "gold": q.answers[0], "answer": r.answer,
                     "correct": ok, "grounded": r.generator_meta.get("grounded"), "total_ms": r.timings_ms["total"]})
    return {"correct": sum(r["correct"] for r in rows), "n": len(rows), "rows": rows,
            "by_lang": {lang: [sum(r["correct"] for r in rows if r["lang"] == lang),
                               sum(1 for r in rows if r["lang"] == lang)] for lang in ("en", "zh")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--answers", type=int, default=40, help="seeded sample size for the preset answer check")
    ap.add_argument("--repeats", type=int, default=60)
    args = ap.parse_args()
    base = PipelineConfig.load("default")
    t = time.perf_counter()
    kb = load_knowledge_base(base, progress=True)
    build_s = time.perf_counter() - t
    ds = load_dataset()
    rng = random.Random(7)
    sample = rng.sample([q for q in ds.questions if not q.cross_lingual], args.answers)
    ten = [q for q in sample if q.lang == "en"][:5] + [q for q in sample if q.lang == "zh"][:5]
    questions = [q.question for q in sample]
    result = {"machine": {"cpus": 2, "python": platform.python_version(), "platform": platform.platform()},
              "kb": {"version": kb.version, "passages": kb.store.count, "load_or_build_s": build_s, **kb.stats}}
    result["retrieval"] = retrieval_table(base, kb)
    print("\nretrieval on all", len(ds.questions), "questions (document level, gold = every document that answers)")
    print(f"{'mode':8s} {'hit@5':>7s} {'recall@5':>9s} {'mrr@20':>7s} {'en hit@5':>9s} {'zh hit@5':>9s} {'x-ling hit@5':>13s}")
    for mode, r in result["retrieval"].items():
        print(f"{mode:8s} {r['all']['hit@5']:7.3f} {r['all']['recall@5']:9.3f} {r['all']['mrr@20']:7.3f} "
              f"{r['en']['hit@5']:9.3f} {r['zh']['hit@5']:9.3f} {r['cross_lingual']['hit@5']:13.3f}")
    result["stages"] = {p: stage_latency(PipelineConfig.load(p), kb, questions, args.repeats)
                        for p in ("fast", "default", "quality")}
    print("\nper-stage latency, median ms over", args.repeats, "questions")
    for p, st in result["stages"].items():
        print(f"{p:8s} " + "  ".join(f"{k}={v:.2f}" for k, v in st.items()))
    result["haystack_overhead"] = {p: haystack_overhead(PipelineConfig.load(p), kb, questions, args.repeats)
                                   for p in ("fast", "default")}
    print("\nHaystack Pipeline.run vs direct component calls (same warmed components), median ms")
    for p, o in result["haystack_overhead"].items():
        print(f"{p:8s} direct {o['direct_ms_p50']:.3f}  haystack {o['haystack_ms_p50']:.3f}  "
              f"overhead {o['overhead_ms_p50']:.3f} ms  ratio {o['ratio']:.2f}x")
    result["answers"] = {p: answers(p, kb, sample) for p in ("fast", "default", "quality")}
    print(f"\nanswer contains a gold answer, seeded sample of {args.answers} (seed 7, not cross-lingual)")
    for p, a in result["answers"].items():
        print(f"{p:8s} {a['correct']}/{a['n']}  en {a['by_lang']['en'][0]}/{a['by_lang']['en'][1]}  "
              f"zh {a['by_lang']['zh'][0]}/{a['by_lang']['zh'][1]}")
    quality_rows = {r["id"]: r for r in result["answers"]["quality"]["rows"]}
    result["ten_sample_questions_quality"] = [quality_rows[q.id] for q in ten]
    print("\nquality preset on the first 5 English + 5 Chinese questions of that sample")
    for r in result["ten_sample_questions_quality"]:
        print(f"  {'OK ' if r['correct'] else '-- '} {r['question']}  | gold: {r['gold']}  | answer: {r['answer']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
