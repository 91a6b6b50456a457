"""Right answers or none (issue 12 items 3 and 4): cross-lingual and same-language retrieval, abstention on
the unanswerable questions, and what the gate costs, per preset and language.

    .venv/bin/python bench/bench_answers.py [--presets fast default quality] [--limit N] [--out PATH]
    .venv/bin/python bench/bench_answers.py --calibrate [--presets default] [--grounding none|llm]
    .venv/bin/python bench/bench_answers.py --tune-dense [--presets default] [--weights 0 0.5 1 1.5 2 3]
    .venv/bin/python bench/bench_answers.py --tune-prompt offline|answers --presets quality [--weights 0 1] [--split test]
        [--prompt-key prompt.sentence_dense_weight|prompt.max_sentences|prompt.examples] [--set generator.threads=1]
    .venv/bin/python bench/bench_answers.py --reader-ceiling --presets quality [--limit 40]

Data: the answerable questions of ``datasets/meridian_bank/questions.jsonl`` (``cross_lingual: true`` marks
the 33 whose only answer is an article in the other language) and the authored unanswerable questions of
``source/unanswerable/unanswerable.jsonl``. Halves: the unanswerable file's ``split``; the answerable
questions are split per language by a seeded shuffle (seed 20260615, sorted by id, even positions ``tune``),
as ``bench/probe_abstention_crosslingual.py`` does. Gates are fit on ``tune`` only; every abstention figure
below is on ``test``.

Per preset:

* **hit@5** (retrieval, the experiment runner's definition: ``retrieve(top_k=10)``, passages collapsed to
  documents, a gold document among the first 5) on every answerable question (``--limit``: a seeded sample
  of N per language), split into same-language and cross-lingual, per language.
* **abstention** with the preset as configured, on the test halves (each rate with its 95% Wilson
  interval): precision (abstentions that were on unanswerable questions), recall (unanswerable questions abstained; in-domain and off-topic apart), the
  false-abstain rate (answerable questions abstained, cross-lingual ones counted apart too), and answers
  lost: abstained answerable questions that the same preset without the gate answers correctly
  (``workbench.evaluation.metrics.answer.match_answer``).
* **answer quality** on the answerable test questions, as served (an abstention scores 0): EM and F1 (SQuAD
  rules for English, CMRC 2018 for Chinese, by the question's language) and ``correct`` (the answer-type-aware
  matcher), each with a 95% percentile-bootstrap interval.
* **latency** of ``QueryPipeline.run`` on the answerable test questions (p50/p95, nearest rank) and the
  gate stage's own time (``timings_ms["abstain"]``) and the other-language search
  (``retrieve_other_language``), p50/p95.

``--calibrate`` fits each language's gate (``workbench.pipelines.abstention.GateModel.fit``: logistic
regression over the retrieval signals the preset has, at most 5% of the tune answerable questions
abstained) and prints the ``abstention`` section to paste into the preset, then the fitted gate's rates on
the test half beside the preset's shipped retrieval gate's (same signals); with ``--grounding llm`` it adds
the grounding model's signal (slow: one model call per question).

``--tune-dense`` picks ``generator.sentence_dense_weight`` on the tune halves: each answerable tune question
is retrieved once (gate off), then answered by the extractive answerer at each weight over the same passages
and the same query embedding; ``correct`` per language and weight (the test half is not read unless
``--split test`` asks for the chosen weight's paired effect there), and what the
dense signal costs a request in the same run: the answerer's time per weight (the weights take turns going
first on a question) and the request's (retrieval, embedding included, + answer), p50/p95.

``--tune-prompt`` does the same for ``prompt.sentence_dense_weight`` (the sentences an LLM preset's prompt
gives it, ``prompt.context: sentences``): ``offline`` counts, without the LLM, the questions whose prompt holds
a right sentence (one the matcher judges correct as an answer) at each weight; ``answers`` runs the preset (gate
off, one LLM shared by the weights) at each weight on the same questions: ``correct``, EM, F1, the paired
difference from the first weight, request and generation latency, the 1-minute load average every 10 questions.
``--prompt-key prompt.max_sentences`` (or ``prompt.examples``) tunes the number of ranked sentences (or worked
examples) the prompt gives instead (the ``--weights`` are then its values). Written to bench/results/prompt_sentence_weight.json.

``--reader-ceiling`` separates an LLM preset's two sources of misses on a seeded sample of same-language test
questions (gate off): its answers as served, and again where none of the prompt's ranked sentences was right,
with the last one replaced by a right sentence of the gold document (:func:`reader_ceiling`). The ceiling is
what the reader gets right when sentence selection is perfect. Written to bench/results/reader_ceiling.json.

Writes bench/results/answers.json (results merged by preset) or, with --calibrate,
bench/results/gates.json, or with --tune-dense bench/results/sentence_weight.json. The machine is 2 shared cores: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import workbench  # noqa: F401  (offline switches)
from workbench.components import ExtractiveAnswerer, PromptBuilder
from workbench.components.generators.extractive import rank_sentences
from workbench.config import PipelineConfig
from workbench.evaluation.answerability import SPLIT_SEED, answerability_questions
from workbench.evaluation.cache_truth import wilson_interval
from workbench.evaluation.experiment import bootstrap_mean
from workbench.evaluation.metrics.answer import answer_scores, match_answer
from workbench.evaluation.metrics.retrieval import dedupe
from workbench.percentiles import PERCENTILE_METHOD, percentile
from workbench.pipelines import QueryPipeline, load_knowledge_base
from workbench.pipelines.abstention import SIGNALS, AbstentionGate, GateModel

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "answers.json"
GATES_OUT = ROOT / "bench" / "results" / "gates.json"
WEIGHT_OUT = ROOT / "bench" / "results" / "sentence_weight.json"
PROMPT_WEIGHT_OUT = ROOT / "bench" / "results" / "prompt_sentence_weight.json"
CEILING_OUT = ROOT / "bench" / "results" / "reader_ceiling.json"
PROMPT_KEYS = ("prompt.sentence_dense_weight", "prompt.max_sentences", "prompt.examples")
SEED = SPLIT_SEED
MAX_FALSE_ABSTAIN = 0.05


def questions() -> list[dict[str, Any]]:
    """Answerable and unanswerable questions with ``kind`` and ``split`` (``workbench.evaluation.answerability``)."""
    return answerability_questions()


def sample(rows: list[dict[str, Any]], limit: int | None, seed: int = SEED) -> list[dict[str, Any]]:
    """At most ``limit`` rows per language (seeded), all when ``limit`` is None."""
    if limit is None:
        return rows
    out = []
    for lang in ("en", "zh"):
        group = [r for r in rows if r["lang"] == lang]
        out += random.Random(seed).sample(group, min(limit, len(group)))
    return out


def ratio(num: int, den: int) -> dict[str, Any]:
    """``num`` of ``den`` with its rate and 95% Wilson interval (``ci``)."""
    return {"n": num, "of": den, "rate": round(num / den, 4) if den else None,
            "ci": [round(x, 4) for x in wilson_interval(num, den)] if den else None}


def pcts(values: list[float]) -> dict[str, float | None]:
    return {"p50": round(percentile(values, 50), 2) if values else None,
            "p95": round(percentile(values, 95), 2) if values else None}


# -- retrieval --------------------------------------------------------------------------------------------
def hit_at_5(qp: QueryPipeline, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """hit@5 per language, same-language and cross-lingual apart (the experiment runner's definition)."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for q in rows:
        ranked = dedupe(str(d.meta.get("doc_id", d.id)) for d in qp.retrieve(q["question"], top_k=10))
        hit = any(d in q["gold_doc_ids"] for d in ranked[:5])
        group = "cross" if q["cross_lingual"] else "same"
        for key in (f"{group}_{q['lang']}", group, "all"):
            hits[key].append(hit)
    return {k: ratio(sum(v), len(v)) for k, v in sorted(hits.items())}


# -- abstention -------------------------------------------------------------------------------------------
def gate_signals(qp: QueryPipeline, rows: list[dict[str, Any]], gate: AbstentionGate,
                 grounding: bool) -> list[dict[str, float | None]]:
    out = []
    for n, q in enumerate(rows, start=1):
        state = qp.retrieval_state(q["question"])
        out.append(gate.signals(q["question"], state["documents"], dense=state["dense"], bm25=state["bm25"],
                                grounding=grounding))
        if grounding and n % 20 == 0:
            print(f"  grounding signals {n}/{len(rows)}", flush=True)
    return out


def calibrate(preset: str, grounding: str, limit: int | None = None,
              overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit each language's gate on the tune halves (``limit``: a seeded sample of that many answerable
    questions per language, every unanswerable one); the ``abstention`` section for the preset."""
    cfg = PipelineConfig.load(preset).with_overrides({**(overrides or {}), "abstention.enabled": False})
    qp = QueryPipeline(cfg, load_knowledge_base(cfg, progress=False))
    a = cfg.abstention
    gate = AbstentionGate(qp.kb.store, gates={}, dense=qp.dense is not None, lexical=qp.bm25 is not None,
                          grounding_model=a.grounding_model if grounding == "llm" else None,
                          grounding_threads=a.grounding_threads)
    gate.warm_up()
    names = [s for s in SIGNALS if (s != "dense_top1" or qp.dense is not None)
             and (s != "bm25_per_token" or qp.bm25 is not None) and (s != "grounding" or grounding == "llm")]
    section: dict[str, Any] = {}
    test_rates: dict[str, Any] = {}
    for lang in ("en", "zh"):
        tune = [q for q in questions() if q["split"] == "tune" and q["lang"] == lang]
        rows = sample([q for q in tune if q["kind"] == "answerable"], limit) + [q for q in tune
                                                                             if q["kind"] != "answerable"]
        signals = gate_signals(qp, rows, gate, grounding == "llm")
        model = GateModel.fit(signals, [q["kind"] != "answerable" for q in rows], signals=names,
                              max_false_abstain=MAX_FALSE_ABSTAIN)
        section[lang] = model.to_config()
        tuned = gate_rates(model, signals, rows)
        print(f"{preset}/{lang}: tune recall {tuned['recall']['n']}/{tuned['recall']['of']}, false abstain "
              f"{tuned['false_abstain']['n']}/{tuned['false_abstain']['of']}: {json.dumps(section[lang])}", flush=True)
        # the test half, never read by the fit: the new gate beside the preset's shipped one, on the same signals
        test = [q for q in questions() if q["split"] == "test" and q["lang"] == lang]
        test_signals = gate_signals(qp, test, gate, grounding == "llm")
        shipped = a.retrieval_gate.get(lang)
        test_rates[lang] = {"fitted": gate_rates(model, test_signals, test)}
        if shipped:
            test_rates[lang]["shipped_retrieval_gate"] = gate_rates(
                GateModel(shipped.bias, dict(shipped.weights)), test_signals, test)
        for name, r in test_rates[lang].items():
            print(f"  test {name}: " + "  ".join(f"{k} {x['rate']:.3f} ({x['n']}/{x['of']})" for k, x in r.items()),
                  flush=True)
    key = "grounded_gate" if grounding == "llm" else "retrieval_gate"
    return {key: section, "signals": names, "max_false_abstain": MAX_FALSE_ABSTAIN, "limit": limit,
            "grounding_model": a.grounding_model if grounding == "llm" else None, "test": test_rates}


def gate_rates(model: GateModel, signals: list[dict[str, float | None]],
               rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall (all, in-domain, off-topic) and the false-abstain rate of ``model``'s decisions (logit > 0; a
    missing signal: no abstention) on ``rows``."""
    abstained = [(model.logit(s) or 0.0) > 0 for s in signals]
    pick = lambda kinds: [x for x, q in zip(abstained, rows, strict=True) if q["kind"] in kinds]  # noqa: E731
    return {name: ratio(sum(v), len(v)) for name, v in (
        ("recall", pick(("in_domain", "off_topic"))), ("recall_in_domain", pick(("in_domain",))),
        ("recall_off_topic", pick(("off_topic",))), ("false_abstain", pick(("answerable",))))}


def tune_dense(preset: str, weights: list[float], limit: int | None = None, split: str = "tune") -> dict[str, Any]:
    """``correct`` of the extractive answers on the answerable questions of ``split`` at each dense weight, and
    each weight's paired difference from the first weight's (bootstrap over questions)."""
    cfg = PipelineConfig.load(preset).with_overrides({"abstention.enabled": False})
    qp = QueryPipeline(cfg, load_knowledge_base(cfg, progress=False))
    if qp.kb.sentences is None or qp.query_embedder is None:
        raise SystemExit(f"{preset}: no dense embedder or no extractive generator: nothing to tune")
    tune = sample([q for q in questions() if q["split"] == split and q["kind"] == "answerable"], limit)
    answerers = {w: ExtractiveAnswerer(max_passages=cfg.prompt.max_passages, sentence_vectors=qp.kb.sentences,
                                       dense_weight=w) for w in weights}
    hits: dict[float, dict[str, list[bool]]] = {w: defaultdict(list) for w in weights}
    answer_ms: dict[float, list[float]] = defaultdict(list)
    request_ms: dict[float, list[float]] = defaultdict(list)
    for n, q in enumerate(tune):
        t0 = time.perf_counter_ns()
        state = qp.retrieval_state(q["question"])
        retrieval = (time.perf_counter_ns() - t0) / 1e6
        turn = n % len(weights)  # the first answer of a question fills the token caches: each weight goes first in turn
        for w in weights[turn:] + weights[:turn]:
            answerer = answerers[w]
            t1 = time.perf_counter_ns()
            answer, _ = answerer.answer(q["question"], state["documents"], query_embedding=state["embedding"])
            ms = (time.perf_counter_ns() - t1) / 1e6
            answer_ms[w].append(ms)
            request_ms[w].append(retrieval + ms)
            hits[w][q["lang"]].append(right(answer, q))
    out, paired = by_weight(preset, hits, {w: f"  answer ms {pcts(answer_ms[w])}  request ms {pcts(request_ms[w])}"
                                           for w in weights})
    return {"split": split, "correct": out, "paired_vs_first": paired, "limit": limit, "n": len(tune),
            "answer_ms": {str(w): pcts(answer_ms[w]) for w in weights},
            "request_ms": {str(w): pcts(request_ms[w]) for w in weights}}


def by_weight(preset: str, hits: dict[float, dict[str, list[bool]]],
              notes: dict[float, str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per weight and language, the rate of ``hits`` (Wilson interval) and each weight's paired difference from
    the first weight's (bootstrap over questions); printed."""
    weights = list(hits)
    out = {str(w): {lang: ratio(sum(v), len(v)) for lang, v in sorted(hits[w].items())} for w in weights}
    paired = {str(w): {lang: dict(zip(("mean", "low", "high"), (round(x, 4) for x in bootstrap_mean(
        [float(a) - float(b) for a, b in zip(v, hits[weights[0]][lang], strict=True)], seed=SEED)), strict=True))
        for lang, v in sorted(hits[w].items())} for w in weights[1:]}
    for w in weights:
        print(f"{preset} w={w}: " + "  ".join(f"{lang} {x['rate']:.3f} ({x['n']}/{x['of']})"
                                             for lang, x in out[str(w)].items()) + (notes or {}).get(w, ""), flush=True)
    for w, d in paired.items():
        print(f"  w={w} - w={weights[0]}, paired: " + "  ".join(f"{lang} {x['mean']:+.3f} [{x['low']:+.3f}, "
                                                               f"{x['high']:+.3f}]" for lang, x in d.items()))
    return out, paired


def _prompt_pipeline(preset: str, overrides: dict[str, Any] | None = None) -> tuple[PipelineConfig, QueryPipeline]:
    """The preset (with ``overrides``) with the gate off, over its knowledge base with the sentence vectors
    attached."""
    cfg = PipelineConfig.load(preset).with_overrides({**(overrides or {}), "abstention.enabled": False})
    if cfg.prompt.context != "sentences" or cfg.retriever.mode not in ("dense", "hybrid"):
        raise SystemExit(f"{preset}: its prompt has no sentence context or no dense embedder: nothing to tune")
    return cfg, QueryPipeline(cfg, load_knowledge_base(cfg, progress=False, sentence_vectors=True))


def prompt_gold(preset: str, weights: list[float], limit: int | None = None, split: str = "tune",
                key: str = PROMPT_KEYS[0], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Offline, no LLM: the share of the answerable questions of ``split`` whose prompt context holds a right
    sentence (one the matcher judges ``correct`` as an answer) at each value of the prompt setting ``key``
    (``prompt.sentence_dense_weight`` or ``prompt.max_sentences``), over the same passages and query embedding;
    ``sentences`` counts the ranked sentences only, ``context`` also the other-language passage the context
    adds; ``ceiling``: any sentence of the passages read."""
    cfg, qp = _prompt_pipeline(preset, overrides)
    rows = sample([q for q in questions() if q["split"] == split and q["kind"] == "answerable"], limit)
    p = cfg.prompt
    setting = {w: cfg.with_overrides({key: w}).prompt for w in weights}
    builders = {w: PromptBuilder(style=s.style, examples=s.examples, max_passages=s.max_passages,
                                 context=s.context, max_sentences=s.max_sentences, sentence_vectors=qp.kb.sentences,
                                 sentence_dense_weight=s.sentence_dense_weight) for w, s in setting.items()}
    sentences: dict[float, dict[str, list[bool]]] = {w: defaultdict(list) for w in weights}
    context: dict[float, dict[str, list[bool]]] = {w: defaultdict(list) for w in weights}
    ceiling: dict[str, list[bool]] = defaultdict(list)
    changed: dict[float, dict[str, list[bool]]] = {w: defaultdict(list) for w in weights}
    for q in rows:
        state = qp.retrieval_state(q["question"])
        lexical = None
        for w, builder in builders.items():
            texts = builder.context_texts(q["question"], state["documents"], query_embedding=state["embedding"])
            ranked = texts[: len(texts) - len(builder.other_language_texts(state["documents"]))]
            sentences[w][q["lang"]].append(any(right(t, q) for t in ranked))
            context[w][q["lang"]].append(any(right(t, q) for t in texts))
            lexical = ranked if lexical is None else lexical
            changed[w][q["lang"]].append(ranked != lexical)
        every = rank_sentences(q["question"], state["documents"], max_passages=p.max_passages)
        ceiling[q["lang"]].append(any(right(s.text, q) for s in every))
    print("right sentence among the prompt's ranked sentences:")
    out_s, paired_s = by_weight(preset, sentences)
    print("right entry anywhere in the prompt's context (ranked sentences + other-language passage):")
    out_c, paired_c = by_weight(preset, context)
    return {"split": split, "limit": limit, "n": len(rows), "key": key, "overrides": overrides or {},
            "max_sentences": p.max_sentences,
            "sentences": out_s, "sentences_paired_vs_first": paired_s,
            "context": out_c, "context_paired_vs_first": paired_c,
            "ceiling": {lang: ratio(sum(v), len(v)) for lang, v in sorted(ceiling.items())},
            "context_changed": {str(w): {lang: ratio(sum(v), len(v)) for lang, v in sorted(d.items())}
                                for w, d in changed.items()}}


def prompt_answers(preset: str, weights: list[float], limit: int | None = None, split: str = "test",
                   key: str = PROMPT_KEYS[0], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The preset's answers (gate off) at each value of the prompt setting ``key`` on the same questions (a
    seeded sample of ``limit`` per language of the answerable ``split``): ``correct``, EM and F1 per value and
    language, the paired difference from the first value, and the request's latency; one LLM shared by the
    values, which take turns going first on a question."""
    cfg, first = _prompt_pipeline(preset, overrides)
    pipes = {w: QueryPipeline(cfg.with_overrides({key: w}), first.kb) for w in weights}
    first.warm_up(fallbacks=False)
    for qp in pipes.values():
        qp.generator = first.generator  # one model in memory: the weights differ only in the prompt
        qp.warm_up(fallbacks=False)
    rows = sample([q for q in questions() if q["split"] == split and q["kind"] == "answerable"], limit)
    hits: dict[float, dict[str, list[bool]]] = {w: defaultdict(list) for w in weights}
    scores: dict[float, dict[str, dict[str, list[float]]]] = {w: defaultdict(lambda: defaultdict(list)) for w in weights}
    total_ms: dict[float, list[float]] = defaultdict(list)
    generate_ms: dict[float, list[float]] = defaultdict(list)
    prompt_ms: dict[float, list[float]] = defaultdict(list)
    records = []
    load = [round(os.getloadavg()[0], 1)]
    for n, q in enumerate(rows):
        turn = n % len(weights)
        record: dict[str, Any] = {"id": q["id"], "lang": q["lang"]}
        for w in weights[turn:] + weights[:turn]:
            r = pipes[w].run(q["question"])
            ok = right(r.answer, q)
            hits[w][q["lang"]].append(ok)
            s = answer_scores(r.answer, q["answers"], lang=q["lang"], question=q["question"])
            for k in ("em", "f1"):
                scores[w][q["lang"]][k].append(s[k])
            total_ms[w].append(r.timings_ms["total"])
            generate_ms[w].append(r.timings_ms.get("generate", 0.0))
            prompt_ms[w].append(r.timings_ms.get("prompt", 0.0))
            record[str(w)] = {"answer": r.answer, "correct": ok, "dense_prompt": pipes[w].prompt_builder.dense}
        records.append(record)
        if (n + 1) % 10 == 0:
            load.append(round(os.getloadavg()[0], 1))
            print(f"  {n + 1}/{len(rows)}  load {load[-1]}", flush=True)
    out, paired = by_weight(preset, hits, {w: f"  request ms {pcts(total_ms[w])}  generate ms {pcts(generate_ms[w])}"
                                           for w in weights})
    mean_ci = lambda v: dict(zip(("mean", "low", "high"), (round(x, 4) for x in bootstrap_mean(v, seed=SEED)),  # noqa: E731
                                 strict=True))
    return {"split": split, "limit": limit, "n": len(rows), "key": key, "overrides": overrides or {}, "gate": "off", "correct": out, "paired_vs_first": paired,
            "em_f1": {str(w): {lang: {k: mean_ci(v) for k, v in d.items()} for lang, d in sorted(scores[w].items())}
                      for w in weights},
            "request_ms": {str(w): pcts(total_ms[w]) for w in weights},
            "generate_ms": {str(w): pcts(generate_ms[w]) for w in weights},
            "prompt_ms": {str(w): pcts(prompt_ms[w]) for w in weights},
            "load_average_1min": load, "answers": records}


def reader_ceiling(preset: str, limit: int | None = 40, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the preset's reader gets right when its prompt is sure to hold a right sentence: on a seeded sample
    of ``limit`` same-language answerable test questions per language (gate off), each question is answered as
    served, and, when none of the prompt's ranked sentences is right, again with the last of them replaced by
    the best-ranked right sentence of a gold document in the question's language (everything else as served:
    the other sentences, the other-language passage, the worked examples). ``ceiling - served`` is what better
    sentence selection could gain at most; ``1 - ceiling`` is the reader's own share of the misses."""
    _, qp = _prompt_pipeline(preset, overrides)
    qp.warm_up(fallbacks=False)
    by_doc: dict[str, list[Any]] = defaultdict(list)
    for d in qp.kb.store.documents:
        by_doc[str(d.meta.get("doc_id", d.id))].append(d)
    rows = sample([q for q in questions() if q["split"] == "test" and q["kind"] == "answerable"
                   and not q["cross_lingual"]], limit)
    builder = qp.prompt_builder
    served: dict[str, list[bool]] = defaultdict(list)
    ceiling: dict[str, list[bool]] = defaultdict(list)
    had: dict[str, list[bool]] = defaultdict(list)
    records, load = [], [round(os.getloadavg()[0], 1)]
    for n, q in enumerate(rows):
        state = qp.retrieval_state(q["question"])
        texts = builder.context_texts(q["question"], state["documents"], query_embedding=state["embedding"])
        other = builder.other_language_texts(state["documents"])
        ranked = texts[: len(texts) - len(other)]
        r = qp.run(q["question"])
        ok = right(r.answer, q)
        present = any(right(t, q) for t in ranked)
        record = {"id": q["id"], "lang": q["lang"], "served": r.answer, "served_correct": ok,
                  "right_sentence_served": present}
        best = ok
        if not present:
            gold = [d for g in q["gold_doc_ids"] for d in by_doc.get(g, []) if d.meta.get("lang") == q["lang"]]
            right_ones = [s.text for s in rank_sentences(q["question"], gold, max_passages=len(gold)) if right(s.text, q)]
            if not right_ones:  # the matcher finds no sentence of the gold document right: not counted
                continue
            given = [*ranked[:-1], right_ones[0], *other]
            builder.context_texts = lambda *_a, _given=given, **_k: _given  # type: ignore[method-assign]  # one call
            try:
                again = qp.run(q["question"])
            finally:
                del builder.context_texts
            best = right(again.answer, q)
            record.update(given=right_ones[0], ceiling=again.answer)
        record["ceiling_correct"] = best
        served[q["lang"]].append(ok)
        ceiling[q["lang"]].append(best)
        had[q["lang"]].append(present)
        records.append(record)
        if (n + 1) % 10 == 0:
            load.append(round(os.getloadavg()[0], 1))
            print(f"  {n + 1}/{len(rows)}  load {load[-1]}", flush=True)
    print("served, then with a right sentence sure to be in the prompt:")
    out, paired = by_weight(preset, {0: served, 1: ceiling})
    return {"split": "test", "limit": limit, "n": len(records), "overrides": overrides or {}, "gate": "off",
            "served": out["0"], "ceiling": out["1"], "ceiling_minus_served": paired["1"],
            "right_sentence_served": {lang: ratio(sum(v), len(v)) for lang, v in sorted(had.items())},
            "ceiling_when_served_had_it": {lang: ratio(sum(c for c, h in zip(ceiling[lang], v, strict=True) if h),
                                                       sum(v)) for lang, v in sorted(had.items())},
            "load_average_1min": load, "answers": records}


def right(answer: str, q: dict[str, Any]) -> bool:
    """The headline ``correct``: the answer-type-aware matcher's verdict is ``correct``."""
    return match_answer(answer, q["answers"], question=q["question"]).verdict == "correct"


def quality(records: list[tuple[dict[str, Any], Any]]) -> dict[str, Any]:
    """EM, F1 (SQuAD rules for English, CMRC for Chinese: the question's language) and ``correct`` of the
    answers as served (an abstention scores 0), each the mean with its 95% percentile-bootstrap interval."""
    scores: dict[str, list[float]] = defaultdict(list)
    for q, r in records:
        s = answer_scores(r.answer, q["answers"], lang=q["lang"], question=q["question"])
        scores["em"].append(s["em"])
        scores["f1"].append(s["f1"])
        scores["correct"].append(float(right(r.answer, q)))
    return {k: dict(zip(("mean", "low", "high"), (round(x, 4) for x in bootstrap_mean(v, seed=SEED)), strict=True))
            for k, v in scores.items()}


def abstention(cfg: PipelineConfig, kb: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the preset on the test halves; abstention rates, answers lost and latency per language."""
    qp = QueryPipeline(cfg, kb)
    qp.warm_up(fallbacks=False)
    # "lost" compares with the preset without any abstention: no gate, and no not-found reply (prompt.not_found)
    plain = QueryPipeline(cfg.with_overrides({"abstention.enabled": False, "prompt.not_found": False}), kb) \
        if cfg.abstention.enabled or cfg.prompt.not_found else qp
    records = []
    for q in rows:
        r = qp.run(q["question"])
        lost = r.abstained and q["kind"] == "answerable" and right(plain.run(q["question"]).answer, q)
        records.append((q, r, lost))
    out: dict[str, Any] = {}
    for lang in ("en", "zh", "all"):
        group = [(q, r, lost) for q, r, lost in records if lang == "all" or q["lang"] == lang]
        by_kind: dict[str, list[bool]] = defaultdict(list)
        for q, r, _ in group:
            by_kind[q["kind"]].append(r.abstained)
        answerable = [(q, r, lost) for q, r, lost in group if q["kind"] == "answerable"]
        un = by_kind["in_domain"] + by_kind["off_topic"]
        caught, wrong = sum(un), sum(by_kind["answerable"])
        cross = [r.abstained for q, r, _ in answerable if q["cross_lingual"]]
        out[lang] = {
            "recall": ratio(caught, len(un)),
            "recall_in_domain": ratio(sum(by_kind["in_domain"]), len(by_kind["in_domain"])),
            "recall_off_topic": ratio(sum(by_kind["off_topic"]), len(by_kind["off_topic"])),
            "precision": ratio(caught, caught + wrong),
            "false_abstain": ratio(wrong, len(answerable)),
            "false_abstain_cross_lingual": ratio(sum(cross), len(cross)),
            "answers_lost": ratio(sum(lost for _, _, lost in answerable), len(answerable)),
            "answer_quality": quality([(q, r) for q, r, _ in answerable]),
            "latency_ms": pcts([r.timings_ms["total"] for _, r, _ in answerable]),
            "gate_ms": pcts([r.timings_ms["abstain"] for _, r, _ in answerable if "abstain" in r.timings_ms]),
            "other_language_search_ms": pcts([r.timings_ms["retrieve_other_language"] for _, r, _ in answerable
                                              if "retrieve_other_language" in r.timings_ms]),
        }
    return out


def evaluate(preset: str, limit: int | None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = PipelineConfig.load(preset).with_overrides(overrides or {})
    # the sentence vectors for a dense preset's prompt too (prompt.sentence_dense_weight), not only its extractive answers
    kb = load_knowledge_base(cfg, progress=False, sentence_vectors=True if cfg.retriever.mode in ("dense", "hybrid")
                             else None)
    qs = questions()
    t0 = time.perf_counter()
    answerable = sample([q for q in qs if q["kind"] == "answerable"], limit)
    result: dict[str, Any] = {"config_hash": cfg.hash, "cross_lingual": cfg.retriever.cross_lingual,
                              "abstention": cfg.abstention.enabled, "grounding": cfg.abstention.grounding,
                              "limit": limit, "overrides": overrides or {}, "hit_at_5": hit_at_5(QueryPipeline(cfg, kb), answerable)}
    test = sample([q for q in qs if q["split"] == "test" and q["kind"] == "answerable"], limit, seed=SEED + 1)
    test += [q for q in qs if q["split"] == "test" and q["kind"] != "answerable"]
    result["abstention_test"] = abstention(cfg, kb, test)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def show(preset: str, r: dict[str, Any]) -> None:
    h = r["hit_at_5"]
    fmt = lambda x: f"{x['rate']:.3f} ({x['n']}/{x['of']})" if x and x["of"] else "-"  # noqa: E731
    print(f"\n{preset}  (cross_lingual={r['cross_lingual']}, abstention={r['abstention']}, "
          f"grounding={r['grounding']}, limit={r['limit']})")
    print(f"{'lang':5} {'hit@5 same':>18} {'hit@5 cross':>16} {'abst. recall':>16} {'precision':>16} "
          f"{'false abstain':>16} {'lost':>14} {'p50 ms':>8} {'p95 ms':>8} {'gate p50/p95':>14}")
    for lang in ("en", "zh", "all"):
        a = r["abstention_test"][lang]
        same = h.get(f"same_{lang}", h.get("same")) if lang != "all" else h.get("same")
        cross = h.get(f"cross_{lang}") if lang != "all" else h.get("cross")
        g = a["gate_ms"]
        print(f"{lang:5} {fmt(same):>18} {fmt(cross):>16} {fmt(a['recall']):>16} {fmt(a['precision']):>16} "
              f"{fmt(a['false_abstain']):>16} {fmt(a['answers_lost']):>14} {a['latency_ms']['p50'] or 0:8.1f} "
              f"{a['latency_ms']['p95'] or 0:8.1f} {g['p50'] or 0:6.2f}/{g['p95'] or 0:<6.2f}")
    print("abstention on the test half, rate (n/of) [95% Wilson CI]:")
    for lang in ("en", "zh", "all"):
        a = r["abstention_test"][lang]
        print(f"  {lang:4} " + "  ".join(f"{k} {a[k]['rate']:.3f} ({a[k]['n']}/{a[k]['of']}) [{a[k]['ci'][0]:.3f}, "
                                         f"{a[k]['ci'][1]:.3f}]" for k in ("recall_in_domain", "recall_off_topic",
                                                                           "false_abstain") if a[k]["of"]))
    print("answerable test half, as served (abstentions score 0), mean [95% bootstrap CI]:")
    for lang in ("en", "zh", "all"):
        qa = r["abstention_test"][lang]["answer_quality"]
        print(f"  {lang:4} " + "  ".join(f"{k} {v['mean']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"
                                         for k, v in qa.items()))


def merge(path: Path, key: str, value: Any, extra: dict[str, Any]) -> None:
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data.setdefault("results", {})[key] = value
    data.update(extra)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", nargs="+", default=["fast", "default", "quality"])
    ap.add_argument("--limit", type=int, default=None, help="answerable questions per language (seeded sample)")
    ap.add_argument("--calibrate", action="store_true", help="fit the gates on the tune halves instead")
    ap.add_argument("--grounding", choices=["none", "llm"], default="none", help="--calibrate: with the model check")
    ap.add_argument("--tune-dense", action="store_true", help="pick generator.sentence_dense_weight on the tune halves")
    ap.add_argument("--tune-prompt", choices=["offline", "answers"], default=None,
                    help="prompt.sentence_dense_weight: right sentence in the prompt (offline, no LLM) or the answers")
    ap.add_argument("--weights", nargs="+", type=float, default=[0, 0.5, 1, 1.5, 2, 3],
                    help="--tune-dense / --tune-prompt: weights (the first is the paired baseline)")
    ap.add_argument("--prompt-key", choices=PROMPT_KEYS, default=PROMPT_KEYS[0],
                    help="--tune-prompt: the prompt setting the --weights are values of")
    ap.add_argument("--split", choices=["tune", "test"], default="tune",
                    help="--tune-dense / --tune-prompt: the half (pick on tune; test to report the chosen weight's effect)")
    ap.add_argument("--reader-ceiling", action="store_true",
                    help="an LLM preset's answers with a right sentence sure to be in its prompt (--limit, default 40)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override (the evaluation, --calibrate and --tune-prompt), e.g. generator.threads=1 on cores "
                         "shared with other work")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    from bench_overload import parse_sets  # this folder is on sys.path when a bench script runs

    sets = parse_sets(args.set)
    extra = {"machine": {"cpus": os.cpu_count(), "load_average": [round(x, 1) for x in os.getloadavg()],
                         "python": platform.python_version()},
             "percentiles": PERCENTILE_METHOD, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}
    # results of the dense weight keep their old keys; another setting's go under its own name
    knob = "" if args.prompt_key == PROMPT_KEYS[0] else f"/{args.prompt_key}"
    for preset in args.presets:
        if args.tune_prompt == "offline":
            merge(args.out or PROMPT_WEIGHT_OUT, f"{preset}/offline/{args.split}{knob}",
                  prompt_gold(preset, args.weights, args.limit, args.split, args.prompt_key, sets), extra)
        elif args.tune_prompt == "answers":
            merge(args.out or PROMPT_WEIGHT_OUT, f"{preset}/answers/{args.split}/limit{args.limit}{knob}",
                  prompt_answers(preset, args.weights, args.limit, args.split, args.prompt_key, sets), extra)
        elif args.reader_ceiling:
            limit = args.limit or 40
            merge(args.out or CEILING_OUT, f"{preset}/limit{limit}", reader_ceiling(preset, limit, sets), extra)
        elif args.tune_dense:
            merge(args.out or WEIGHT_OUT, f"{preset}/{args.split}", tune_dense(preset, args.weights, args.limit,
                                                                                args.split), extra)
        elif args.calibrate:
            merge(args.out or GATES_OUT, f"{preset}/{args.grounding}",
                  calibrate(preset, args.grounding, args.limit, sets), extra)
        else:
            result = evaluate(preset, args.limit, sets)
            result["command"] = extra["command"]  # the file's top-level command is the latest run's
            show(preset, result)
            merge(args.out or OUT, preset, result, extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
