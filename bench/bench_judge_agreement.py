"""Agreement of every answer-quality measure with the hand labels (issue 12, item 5): accuracy and Cohen's
kappa per language, with bootstrap confidence intervals.

    .venv/bin/python bench/bench_judge_agreement.py [--quick] [--labels datasets/meridian_bank/labels/judge_validation.jsonl]
        [--judges prompt:qwen2.5-coder-0.5b prompt:qwen2.5-coder-1.5b ragas_answer_accuracy:qwen2.5-coder-0.5b]
        [--judge-limit 30] [--repeats 3] [--temperature 0.0] [--f1 0.5]

* Labels: the judge-validation set (people's labels, ``labels/RULES.md``), every item.
* Measures on every item: ``em`` (EM = 1 → correct, else wrong), ``f1>=T`` (F1 ≥ T → correct), the
  answer-type-aware ``matcher`` (correct / partly / wrong). EM/F1 have no verdict on an unanswerable item
  (no gold answer): it is counted as missing, not guessed.
* LLM judges (``KIND:MODEL[@REPEATS][#PER_LANG]``; MODEL a bundled GGUF or ``openai=BASE_URL[,model]``):
  ``prompt`` (the direct
  judge prompt, evidence = the gold document's best two sentences), ``ragas_answer_accuracy``,
  ``ragas_answer_correctness``. They are slow on this shared 2-core machine, so each judges a seeded sample
  of ``--judge-limit`` (or ``#PER_LANG``) items per language (smaller samples are part of larger ones; every
  measure is also scored on the judge's sample) with ``--repeats`` (or ``@REPEATS``) votes each; verdicts are cached per item in ``.workbench/judge_cache/`` so a rerun
  continues where it stopped. Failures (no readable verdict after the retries) are reported as
  ``missing`` and never counted as right or wrong.
* Scales: ``binary`` (correct vs partly-or-wrong: what the headline ``correct`` column means) and ``three``.
* Split: items are also split in two halves by a hash of their id (``dev``/``test``); the matcher's rules
  were revised after reading disagreements on ``dev`` only, so ``test`` is its untouched estimate.
* Intervals: percentile bootstrap over items (2,000 resamples, seed 0, nearest-rank percentiles).

Writes bench/results/judge_agreement.json. Targets (issue 12): accuracy ≥ 0.90 and kappa ≥ 0.75 per language.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import workbench  # noqa: F401  (offline switches)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "judge_agreement.json"
CACHE = ROOT / ".workbench" / "judge_cache"


def split_of(item_id: str) -> str:
    """``dev`` or ``test``: a stable half of the items by the hash of the id."""
    return "dev" if hashlib.sha256(item_id.encode()).digest()[0] % 2 == 0 else "test"


def documents() -> dict[str, str]:
    """Document id → text of the project's dataset."""
    from workbench.datasets import load_dataset

    return {d.id: d.text for d in load_dataset("meridian_bank").documents}


def base_measures(items: Sequence[Any], f1_threshold: float) -> dict[str, list[Any]]:
    """EM, F1 ≥ threshold and the matcher's verdict for every item."""
    from workbench.evaluation.metrics import answer_scores, match_answer

    em, f1, matcher, rule = [], [], [], []
    for it in items:
        if it.references:
            lang = it.lang if it.lang in ("en", "zh") else None
            s = answer_scores(it.system_answer, list(it.references), lang=lang, question=it.question)
            em.append("correct" if s["em"] == 1.0 else "wrong")
            f1.append("correct" if s["f1"] >= f1_threshold else "wrong")
        else:
            em.append(None)
            f1.append(None)
        m = match_answer(it.system_answer, it.references, question=it.question)
        matcher.append(m.verdict)
        rule.append(m.rule)
    return {"em": em, f"f1>={f1_threshold:g}": f1, "matcher": matcher, "matcher_rule": rule}


def judge_sample(items: Sequence[Any], per_lang: int, seed: int) -> list[int]:
    """Indexes of the first ``per_lang`` items per language of a seeded permutation (so a smaller sample is
    part of a larger one), in the set's order."""
    chosen: list[int] = []
    for lang in sorted({it.lang for it in items}):
        pool = [i for i, it in enumerate(items) if it.lang == lang]
        random.Random(f"{seed}-{lang}").shuffle(pool)
        chosen += pool[:per_lang]
    return sorted(chosen)


def parse_spec(spec: str, repeats: int, limit: int) -> tuple[str, int, int]:
    """``KIND:MODEL[@REPEATS][#PER_LANG]`` → (``KIND:MODEL``, repeats, items per language)."""
    base, _, per_lang = spec.partition("#")
    base, _, reps = base.partition("@")
    return base, int(reps) if reps else repeats, int(per_lang) if per_lang else limit


def make_judge(spec: str, repeats: int, temperature: float) -> Any:
    """A judge from ``KIND:MODEL``."""
    from workbench.config import GeneratorConfig
    from workbench.evaluation.judge import PromptJudge, RagasJudge, make_judge_generator

    kind, _, model = spec.partition(":")
    ragas = kind.startswith("ragas_")
    if model.startswith("openai="):
        base_url, _, name = model.removeprefix("openai=").partition(",")
        target: Any = GeneratorConfig(kind="openai", base_url=base_url, model=name or "default",
                                      temperature=temperature, max_tokens=192 if ragas else 6,
                                      stop=() if ragas else ("\n",), chat=True)
    else:
        target = model
    if ragas:
        gen = make_judge_generator(target, temperature=temperature, max_tokens=192, stop=("\n-----", "\ninput:"))
        return RagasJudge(gen, kind.removeprefix("ragas_"), repeats=repeats)
    if kind != "prompt":
        raise SystemExit(f"unknown judge kind {kind!r}: use prompt, ragas_answer_accuracy or ragas_answer_correctness")
    return PromptJudge(make_judge_generator(target, temperature=temperature), repeats=repeats)


def run_judge(spec: str, items: Sequence[Any], indexes: Sequence[int], docs: dict[str, str], repeats: int,
              temperature: float) -> dict[int, dict[str, Any]]:
    """The judge's verdicts on ``items[indexes]``, read from / appended to its cache file."""
    from workbench.evaluation.judge import JudgeItem, evidence_for

    key = hashlib.sha256(f"{spec}|{repeats}|{temperature}".encode()).hexdigest()[:12]
    path = CACHE / f"{spec.replace(':', '_').replace('/', '_')}-{key}.jsonl"
    CACHE.mkdir(parents=True, exist_ok=True)
    done: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            done[rec["fingerprint"]] = rec
    judge = None
    out: dict[int, dict[str, Any]] = {}
    for n, i in enumerate(indexes, start=1):
        it = items[i]
        fingerprint = hashlib.sha256(json.dumps([it.id, it.question, list(it.references), it.system_answer],
                                                ensure_ascii=False).encode()).hexdigest()[:16]
        if fingerprint not in done:
            if judge is None:
                judge = make_judge(spec, repeats, temperature)
            evidence = " ".join(evidence_for(it.references, docs.get(d, "")) for d in it.doc_ids[:1])
            v = judge.judge(JudgeItem(it.question, it.references, it.system_answer, evidence=evidence, lang=it.lang))
            rec = {"fingerprint": fingerprint, "id": it.id, "verdict": v.verdict, "votes": list(v.votes),
                   "failures": v.failures, "attempts": v.attempts, "variance": v.variance,
                   "latency_ms": round(v.latency_ms, 1), "errors": list(v.errors)}
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
            done[fingerprint] = rec
            print(f"  {spec}: {n}/{len(indexes)} {it.id} label={it.label} judge={v.verdict} votes={v.votes} "
                  f"({v.latency_ms / 1000:.1f} s)", file=sys.stderr, flush=True)
        out[i] = done[fingerprint]
    return out


def table(frame: Any, measures: Sequence[str], resamples: int, seed: int) -> list[dict[str, Any]]:
    """Agreement rows on both scales."""
    from workbench.evaluation.agreement import agreement_table

    rows = []
    for scale in ("binary", "three"):
        part = agreement_table(frame, measures, scale=scale, resamples=resamples, seed=seed)
        rows += part.to_dict(orient="records")
    return rows


def print_table(title: str, rows: Sequence[dict[str, Any]], scale: str) -> None:
    print(f"\n{title} ({scale})\n")
    print("| measure | group | n | missing | accuracy [95% CI] | kappa [95% CI] |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if r["scale"] != scale:
            continue
        print(f"| {r['measure']} | {r['group']} | {r['n']} | {r['missing']} | {r['accuracy']:.3f} "
              f"[{r['accuracy_low']:.3f}, {r['accuracy_high']:.3f}] | {r['kappa']:.3f} "
              f"[{r['kappa_low']:.3f}, {r['kappa_high']:.3f}] |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=None, help="default: datasets/meridian_bank/labels/judge_validation.jsonl")
    parser.add_argument("--judges", nargs="*", default=["prompt:qwen2.5-coder-0.5b", "prompt:qwen2.5-coder-1.5b"])
    parser.add_argument("--judge-limit", type=int, default=30, help="items per language the LLM judges see")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--f1", type=float, default=0.5, help="F1 from which the F1 measure says correct")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--quick", action="store_true", help="no LLM judge; 500 resamples")
    args = parser.parse_args(argv)
    if args.quick:
        args.judges, args.resamples = [], 500

    import pandas as pd

    from workbench.evaluation.labels import label_frame, load_label_set

    items = load_label_set(args.labels)
    frame = label_frame(items)
    measures = base_measures(items, args.f1)
    for name, values in measures.items():
        frame[name] = values
    frame["split"] = [split_of(it.id) for it in items]
    base = [m for m in measures if m != "matcher_rule"]
    t0 = time.perf_counter_ns()
    result: dict[str, Any] = {
        "method": __doc__, "labels": str(args.labels or "datasets/meridian_bank/labels/judge_validation.jsonl"),
        "items": len(items), "by_language": frame["lang"].value_counts().to_dict(),
        "label_counts": frame["label"].value_counts().to_dict(), "f1_threshold": args.f1, "seed": args.seed,
        "resamples": args.resamples, "quick": args.quick,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "loadavg": list(os.getloadavg())},
    }
    result["all_items"] = table(frame, base, args.resamples, args.seed)
    result["test_split"] = table(frame[frame["split"] == "test"], base, args.resamples, args.seed)
    result["matcher_rules"] = frame.groupby("matcher_rule")["label"].value_counts().unstack(fill_value=0) \
        .to_dict(orient="index")
    print(f"{len(items)} labelled items: {result['by_language']}, labels {result['label_counts']}")
    print_table("Every labelled item", result["all_items"], "binary")
    print_table("Every labelled item", result["all_items"], "three")
    print_table("Test half (ids hashed; matcher rules revised on the dev half only)", result["test_split"], "binary")

    if args.judges:
        docs = documents()
        result["judges"] = {}
        for raw_spec in args.judges:
            spec, repeats, per_lang = parse_spec(raw_spec, args.repeats, args.judge_limit)
            sample = judge_sample(items, per_lang, args.seed)
            got = run_judge(spec, items, sample, docs, repeats, args.temperature)
            sub = frame.iloc[sample].copy()
            sub[spec] = [got[i]["verdict"] for i in sample]
            recs = [got[i] for i in sample]
            stats = {
                "items": len(recs), "per_language": per_lang, "votes": sum(len(r["votes"]) for r in recs),
                "attempts": sum(r["attempts"] for r in recs), "failed_votes": sum(r["failures"] for r in recs),
                "items_without_verdict": sum(r["verdict"] is None for r in recs),
                "mean_variance": float(pd.Series([r["variance"] for r in recs]).mean()),
                "unanimous_share": float(pd.Series([len({v for v in r["votes"] if v}) == 1 for r in recs]).mean()),
                "median_latency_s": float(pd.Series([r["latency_ms"] for r in recs]).median() / 1000),
                "repeats": repeats, "temperature": args.temperature}
            agreement_rows = table(sub, [*base, spec], args.resamples, args.seed)
            result["judges"][spec] = {"stats": stats, "ids": [items[i].id for i in sample],
                                      "agreement": agreement_rows}
            print_table(f"{spec} on its sample ({len(sample)} items; every measure on the same items)",
                        agreement_rows, "binary")
            print_table(f"{spec} on its sample", agreement_rows, "three")
            print(f"\n{spec}: {stats['votes']} votes ({repeats} per item), {stats['failed_votes']} failed votes, "
                  f"{stats['items_without_verdict']} items without a verdict, mean vote variance "
                  f"{stats['mean_variance']:.3f}, unanimous {stats['unanimous_share']:.2f}, "
                  f"median {stats['median_latency_s']:.1f} s per item")

    rows = [r for r in result["all_items"] if r["scale"] == "binary" and r["group"] != "all"]
    best: dict[str, str] = {}
    for lang in sorted({r["group"] for r in rows}):
        part = [r for r in rows if r["group"] == lang]
        best[lang] = max(part, key=lambda r: (r["kappa"], r["accuracy"]))["measure"]
    result["best_on_all_items"] = best
    result["targets"] = {lang: {"accuracy": r["accuracy"], "kappa": r["kappa"],
                                "met": r["accuracy"] >= 0.90 and r["kappa"] >= 0.75}
                         for r in rows if r["measure"] == "matcher" for lang in [r["group"]]}
    result["wall_s"] = round((time.perf_counter_ns() - t0) / 1e9, 1)
    result["headline"] = [f"matcher vs labels [{lang}]: accuracy {t['accuracy']:.3f}, kappa {t['kappa']:.3f}"
                          for lang, t in result["targets"].items()]
    print(f"\nbest measure per language (binary kappa, every item): {best}")
    print("targets (accuracy >= 0.90, kappa >= 0.75), matcher: "
          + ", ".join(f"{lang} {'met' if t['met'] else 'NOT met'}" for lang, t in result["targets"].items()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
