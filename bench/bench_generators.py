"""Every generator on the same bank questions, per language: extractive, Gemma-3-270M, SmolLM2-135M,
Qwen2.5-Coder-0.5B and -1.5B (issue 12).

    .venv/bin/python bench/bench_generators.py [--quick] [--per-lang 40] [--cross-per-lang 0] [--seed 0]
        [--generators extractive gemma-3-270m smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b]
    .venv/bin/python bench/bench_generators.py --preset quality [--limit 10]   # a whole preset's answers

Generator comparison (the default mode):

* Questions: a seeded sample of ``--per-lang`` English and as many Chinese answerable, same-language
  questions of ``datasets/meridian_bank/questions.jsonl``, then ``--cross-per-lang`` cross-lingual ones per
  language (an answer only in the other language's article; tables ``xl-en`` and ``xl-zh``).
* Passages: retrieved once per question by the ``default`` preset (hybrid: e5-small + BM25, top 5); every
  generator reads the same passages. The LLMs get the prompt builder's ``context: sentences`` prompt (the
  ``--max-sentences`` best-ranked sentences of the first 3 passages, few-shot in the question's language;
  chat models get the examples as earlier turns), plus the passage the ``default`` preset's cross-lingual
  partition found only in the other language (``--cross-lingual-passages``, cut to 400 characters), with
  the note to answer in the question's language. The extractive answerer reads the passages themselves.
* Scores, language from the question: ``correct`` = the answer-type-aware matcher's verdict is correct
  (``workbench.evaluation.metrics.answer.match_answer``, the experiments' headline; 95% bootstrap interval);
  ``contains`` = a gold answer, normalized (SQuAD normalization for
  English, CMRC tokens for Chinese), occurs in the normalized reply; ``em`` / ``f1`` = the project's answer
  metrics (max over the gold answers). For the LLMs also the same scores after the grounding guard
  (a reply that does not occur in its context is replaced by the extractive answer), as the presets run it.
* Speed: wall time per question (prompt build + generation) and, from llama.cpp's own counters (reset
  before each call), prompt-processing tokens/s (tokens actually evaluated: llama-cpp-python reuses a
  cached prompt prefix, e.g. the few-shot examples of the previous question in the same language) and
  generation tokens/s. Greedy, n_ctx 2048, 1 llama.cpp thread by default: on this shared 2-core machine
  2 threads collapsed (SmolLM2, 24 tokens: 1.2 s with 1 thread, 51 s with 2, load average ~10), because
  llama.cpp's threads spin-wait for each other and lose their core to other processes.

``--preset NAME``: runs the named preset's whole query path on every answerable question (``--limit N``: a
seeded sample of N per language) and reports ``correct`` (with its interval), EM/F1 and latency per language
and for the cross-lingual questions.

Writes bench/results/generators.json (generator results are merged by name, so the slow models can be
run separately) or bench/results/preset_<name>.json. The machine is 2 shared cores: the load average is
recorded; compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import workbench  # noqa: F401  (offline switches)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "generators.json"
QUESTIONS = ROOT / "datasets" / "meridian_bank" / "questions.jsonl"
SETTINGS = ("question_ids", "max_sentences", "examples", "threads", "max_tokens", "cross_lingual_passages")
"""What must be equal for generator results to be merged into one table."""
GENERATORS = ["extractive", "gemma-3-270m", "smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]


def load_questions() -> list[dict[str, Any]]:
    """The answerable bank questions (non-empty gold answers, not marked unanswerable)."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("answers") and r.get("answerable", True) is not False]


def sample_questions(per_lang: int, seed: int, *, cross_per_lang: int = 0) -> list[dict[str, Any]]:
    """``per_lang`` same-language questions per language, a fixed seeded sample (English first), then
    ``cross_per_lang`` cross-lingual questions per language (seeded; all of them when there are fewer)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for cross, n in ((False, per_lang), (True, cross_per_lang)):
        for lang in ("en", "zh"):  # one language after the other: they share the cached few-shot prompt prefix
            pool = sorted((r for r in load_questions() if r["lang"] == lang and bool(r.get("cross_lingual")) == cross),
                          key=lambda r: r["id"])
            out.extend(rng.sample(pool, min(n, len(pool))))
    return out


def group(q: dict[str, Any]) -> str:
    """The table a question counts in: its language, or ``xl-<language>`` for a cross-lingual question."""
    return f"xl-{q['lang']}" if q.get("cross_lingual") else q["lang"]


GROUPS = ("en", "zh", "xl-en", "xl-zh")


def _normalized(text: str, lang: str) -> str:
    from workbench.evaluation.metrics.answer import cmrc_tokens, squad_tokens

    return "".join(cmrc_tokens(text)) if lang == "zh" else " ".join(squad_tokens(text))


def contains_gold(reply: str, answers: list[str], lang: str) -> float:
    """1.0 when a normalized gold answer occurs inside the normalized reply."""
    got = _normalized(reply, lang)
    if not got:
        return 0.0
    if lang == "en":
        got = f" {got} "
        return float(any(f" {g} " in got for a in answers if (g := _normalized(a, lang))))
    return float(any(g in got for a in answers if (g := _normalized(a, lang))))


def score(reply: str, answers: list[str], lang: str, question: str = "") -> dict[str, float]:
    """``correct`` (the answer-type-aware matcher, the experiments' headline), ``contains``, ``em`` and ``f1``
    of one reply (language from the question)."""
    from workbench.evaluation.metrics.answer import exact_match, f1_score, match_answer

    return {"correct": float(match_answer(reply, answers, question=question).verdict == "correct"),
            "contains": contains_gold(reply, answers, lang), "em": exact_match(reply, answers, lang=lang),
            "f1": f1_score(reply, answers, lang=lang)}


def machine() -> dict[str, Any]:
    """Platform, CPU count and load average at the time of the run."""
    return {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "loadavg": list(os.getloadavg())}


def retrieve_all(questions: list[dict[str, Any]]) -> list[list[Any]]:
    """The default preset's passages (hybrid retrieval) for every question."""
    from workbench.config import PipelineConfig
    from workbench.pipelines import build_query_pipeline

    qp = build_query_pipeline(PipelineConfig.load("default"), progress=False)
    return [qp.retrieve(q["question"]) for q in questions]


def _perf(llm: Any) -> Any:
    import llama_cpp

    return llama_cpp.llama_perf_context(llm._ctx.ctx)


def run_generator(name: str, questions: list[dict[str, Any]], passages: list[list[Any]], *, max_sentences: int,
                  max_tokens: int, threads: int, examples: int, cross_lingual_passages: int = 1) -> dict[str, Any]:
    """Answer every question with one generator; per-question rows and per-language summaries."""
    from workbench.components import ExtractiveAnswerer, GroundingGuard, LlamaCppGenerator, PromptBuilder
    from workbench.percentiles import percentiles

    builder = PromptBuilder(style="few-shot", examples=examples, max_passages=3, context="sentences",
                            max_sentences=max_sentences, cross_lingual_passages=cross_lingual_passages)
    guard = GroundingGuard(max_passages=3)
    if name == "extractive":
        gen: Any = ExtractiveAnswerer(max_passages=3)
        load_s = 0.0
    else:
        gen = LlamaCppGenerator(name, max_tokens=max_tokens, threads=threads, context_window=2048)
        t0 = time.perf_counter_ns()
        gen.warm_up()
        load_s = (time.perf_counter_ns() - t0) / 1e9
        # warm-up call, not scored; on the last question, so the first scored one finds no cached context
        built = builder.run(question=questions[-1]["question"], documents=passages[-1])
        gen.run(prompt=built["prompt"], messages=built["messages"])
    rows = []
    for i, (q, docs) in enumerate(zip(questions, passages, strict=True)):
        t0 = time.perf_counter_ns()
        built = builder.run(question=q["question"], documents=docs)
        row: dict[str, Any] = {"id": q["id"], "lang": q["lang"], "group": group(q), "question": q["question"],
                               "gold": q["answers"]}
        if name == "extractive":
            out = gen.run(question=q["question"], documents=docs)
            row["ms"] = (time.perf_counter_ns() - t0) / 1e6
        else:
            import llama_cpp

            llama_cpp.llama_perf_context_reset(gen.llm._ctx.ctx)
            out = gen.run(prompt=built["prompt"], messages=built["messages"], question=q["question"], documents=docs)
            row["ms"] = (time.perf_counter_ns() - t0) / 1e6
            perf = _perf(gen.llm)
            row.update(prompt_tokens=int(perf.n_p_eval), prompt_ms=float(perf.t_p_eval_ms),
                       gen_tokens=int(perf.n_eval), gen_ms=float(perf.t_eval_ms))
            guarded = guard.run(replies=out["replies"], meta=out["meta"], question=q["question"], documents=docs,
                                context=built["context"])
            row["guarded"] = guarded["replies"][0]
            row["grounded"] = bool(guarded["meta"][0].get("grounded"))
            row["guarded_scores"] = score(row["guarded"], q["answers"], q["lang"], q["question"])
        row["reply"] = out["replies"][0]
        row["scores"] = score(row["reply"], q["answers"], q["lang"], q["question"])
        rows.append(row)
        print(f"  [{name} {i + 1}/{len(questions)}] {row['ms']:8.0f} ms  {q['lang']}  "
              f"ok={row['scores']['correct']:.0f} f1={row['scores']['f1']:.2f}  {row['reply'][:60]!r}", flush=True)

    def summary(sel: list[dict[str, Any]]) -> dict[str, Any]:
        from workbench.evaluation.experiment import bootstrap_mean

        n = len(sel)
        s: dict[str, Any] = {"n": n}
        _, s["correct_low"], s["correct_high"] = bootstrap_mean([r["scores"]["correct"] for r in sel], seed=0)
        for key in ("correct", "contains", "em", "f1"):
            s[key] = sum(r["scores"][key] for r in sel) / n
            if name != "extractive":
                s[f"guarded_{key}"] = sum(r["guarded_scores"][key] for r in sel) / n
        lat = percentiles([r["ms"] for r in sel], (50, 95))
        s["p50_ms"], s["p95_ms"] = lat["p50"], lat["p95"]
        if name != "extractive":
            s["grounded_rate"] = sum(r["grounded"] for r in sel) / n
            p_tok, p_ms = sum(r["prompt_tokens"] for r in sel), sum(r["prompt_ms"] for r in sel)
            g_tok, g_ms = sum(r["gen_tokens"] for r in sel), sum(r["gen_ms"] for r in sel)
            s["prompt_tokens_per_question"] = p_tok / n
            s["prompt_tok_s"] = p_tok / (p_ms / 1e3) if p_ms else None
            s["gen_tokens_per_question"] = g_tok / n
            s["gen_tok_s"] = g_tok / (g_ms / 1e3) if g_ms else None
        return s

    return {"load_s": load_s, "by_lang": {g: summary([r for r in rows if r["group"] == g]) for g in GROUPS
                                          if any(r["group"] == g for r in rows)},
            "rows": rows, "loadavg_after": list(os.getloadavg())}


def print_tables(results: dict[str, Any]) -> None:
    """One table per language (and per language of the cross-lingual questions): ``correct`` with its 95%
    bootstrap interval, EM/F1 (raw and after the grounding guard), latency, llama.cpp tokens/s."""
    for g in GROUPS:
        present = {name: res for name, res in results.items() if g in res["by_lang"]}
        if not present:
            continue
        print(f"\n{g}: n={next(iter(present.values()))['by_lang'][g]['n']} questions")
        print(f"  {'generator':20s} {'correct [95% CI]':>20s} {'EM':>5s} {'F1':>5s} | {'+guard ok':>9s} {'EM':>5s} "
              f"{'F1':>5s} | {'p50 ms':>7s} {'p95 ms':>7s} | {'prompt tok/s':>12s} {'gen tok/s':>9s} {'p-tok/q':>7s}")
        for name, res in present.items():
            s = res["by_lang"][g]
            guard = (f"{s['guarded_correct']:9.3f} {s['guarded_em']:5.3f} {s['guarded_f1']:5.3f}"
                     if "guarded_f1" in s else f"{'-':>9s} {'-':>5s} {'-':>5s}")
            speed = " ".join(f"{s[k]:{w}.{d}f}" if s.get(k) is not None else f"{'-':>{w}s}" for k, w, d in
                             (("prompt_tok_s", 12, 1), ("gen_tok_s", 9, 1), ("prompt_tokens_per_question", 7, 0)))
            ci = f"{s['correct']:.3f} [{s['correct_low']:.2f},{s['correct_high']:.2f}]"
            print(f"  {name:20s} {ci:>20s} {s['em']:5.3f} {s['f1']:5.3f} | {guard} | "
                  f"{s['p50_ms']:7.0f} {s['p95_ms']:7.0f} | {speed}")


def run_preset(name: str, limit: int | None = None, seed: int = 0) -> dict[str, Any]:
    """``correct``/EM/F1/contains of a preset's whole query path on every answerable question (``limit``: a
    seeded sample of that many per language, same-language and cross-lingual alike), per language."""
    from workbench.config import PipelineConfig
    from workbench.percentiles import percentiles
    from workbench.pipelines import build_query_pipeline

    qp = build_query_pipeline(PipelineConfig.load(name), progress=False)
    questions = load_questions()
    if limit is not None:
        rng = random.Random(seed)
        questions = [q for lang in ("en", "zh") for q in rng.sample(
            sorted((r for r in questions if r["lang"] == lang), key=lambda r: r["id"]), limit)]
    rows = []
    for i, q in enumerate(questions):
        t0 = time.perf_counter_ns()
        ans = qp.run(q["question"])
        ms = (time.perf_counter_ns() - t0) / 1e6
        rows.append({"id": q["id"], "lang": q["lang"], "cross_lingual": bool(q.get("cross_lingual")), "ms": ms,
                     "reply": ans.answer, "gold": q["answers"], "span_type": ans.generator_meta.get("span_type"),
                     "support": ans.generator_meta.get("support"), **score(ans.answer, q["answers"], q["lang"], q["question"])})
        if limit is not None or (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(questions)} {ms:8.0f} ms ok={rows[-1]['correct']:.0f} {ans.answer[:60]!r}", flush=True)
    from workbench.evaluation.experiment import bootstrap_mean

    out: dict[str, Any] = {}
    for key, sel in (("all", rows), ("en", [r for r in rows if r["lang"] == "en"]),
                     ("zh", [r for r in rows if r["lang"] == "zh"]),
                     ("cross_lingual", [r for r in rows if r["cross_lingual"]])):
        n = len(sel)
        if not n:
            continue
        lat = percentiles([r["ms"] for r in sel], (50, 95))
        out[key] = {"n": n, **{m: sum(r[m] for r in sel) / n for m in ("correct", "em", "f1", "contains")},
                    "p50_ms": lat["p50"], "p95_ms": lat["p95"]}
        _, out[key]["correct_low"], out[key]["correct_high"] = bootstrap_mean([r["correct"] for r in sel], seed=0)
        print(f"  {key}: n={n} correct={out[key]['correct']:.3f} [{out[key]['correct_low']:.2f}, "
              f"{out[key]['correct_high']:.2f}] EM={out[key]['em']:.3f} F1={out[key]['f1']:.3f} "
              f"p50={lat['p50']:.1f} ms p95={lat['p95']:.1f} ms")
    return {"preset": name, "limit": limit, "seed": seed, "summary": out, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison (or ``--preset``), print the tables and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-lang", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generators", nargs="+", default=GENERATORS, choices=GENERATORS)
    ap.add_argument("--max-sentences", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1,
                    help="llama.cpp threads (1: two threads collapse when other work shares the 2 cores)")
    ap.add_argument("--examples", type=int, default=2, help="few-shot examples in the prompt (0-4)")
    ap.add_argument("--cross-per-lang", type=int, default=0,
                    help="also this many cross-lingual questions per language (tables xl-en, xl-zh; 20: all)")
    ap.add_argument("--cross-lingual-passages", type=int, default=1,
                    help="passages found only in the other language added to the context (PromptBuilder)")
    ap.add_argument("--quick", action="store_true", help="5+5 questions, extractive + the two smallest LLMs")
    ap.add_argument("--preset", help="evaluate this preset's whole path on all answerable questions instead")
    ap.add_argument("--limit", type=int, help="--preset: a seeded sample of this many questions per language")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--merge", type=Path, nargs="*", default=[],
                    help="also take the generator results of these result files (same sample and settings), "
                         "e.g. a slow model run in a separate process with --out")
    args = ap.parse_args(argv)

    if args.preset:
        t0 = time.perf_counter()
        res = run_preset(args.preset, args.limit, args.seed)
        res.update(machine=machine(), wall_s=time.perf_counter() - t0,
                   command=" ".join(["bench/bench_generators.py", *(argv or sys.argv[1:])]))
        path = args.out or ROOT / "bench" / "results" / f"preset_{Path(args.preset).stem}.json"
        path.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")
        return 0

    if args.quick:
        args.per_lang, args.generators = 5, ["extractive", "smollm2-135m", "qwen2.5-coder-0.5b"]
    questions = sample_questions(args.per_lang, args.seed, cross_per_lang=args.cross_per_lang)
    print(f"{len(questions)} questions (seed {args.seed}); retrieving with the default preset...", flush=True)
    t0 = time.perf_counter()
    passages = retrieve_all(questions)
    print(f"  retrieval done in {time.perf_counter() - t0:.1f} s", flush=True)
    path = args.out or OUT
    previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    same_sample = previous.get("question_ids") == [q["id"] for q in questions] and \
        all(previous.get(k) == getattr(args, k) for k in SETTINGS[1:])
    results: dict[str, Any] = dict(previous.get("generators", {})) if same_sample else {}
    settings = SETTINGS
    for other in args.merge:
        extra = json.loads(other.read_text(encoding="utf-8"))
        mine = {"question_ids": [q["id"] for q in questions], **{k: getattr(args, k) for k in settings[1:]}}
        if any(extra.get(k) != mine[k] for k in settings):
            raise SystemExit(f"{other}: another sample or other settings; not merged")
        results.update(extra["generators"])
    for name in args.generators:
        print(f"\n== {name}", flush=True)
        results[name] = run_generator(name, questions, passages, max_sentences=args.max_sentences,
                                      max_tokens=args.max_tokens, threads=args.threads, examples=args.examples,
                                      cross_lingual_passages=args.cross_lingual_passages)
        results[name]["machine"] = machine()
        path.write_text(json.dumps({
            "method": __doc__, "seed": args.seed, "per_lang": args.per_lang, "quick": args.quick,
            "max_sentences": args.max_sentences, "max_tokens": args.max_tokens, "threads": args.threads,
            "examples": args.examples, "cross_lingual_passages": args.cross_lingual_passages,
            "command": " ".join(["bench/bench_generators.py", *(argv if argv is not None else sys.argv[1:])]),
            "question_ids": [q["id"] for q in questions],
            "generators": {k: results[k] for k in GENERATORS if k in results},
        }, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print_tables({k: results[k] for k in GENERATORS if k in results})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
