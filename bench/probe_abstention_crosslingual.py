"""Probe for issue 12 items 3 and 4: can retrieval scores gate abstention, and which fix makes
cross-lingual retrieval work? Data and measurement only; nothing here is used by the pipeline.

    .venv/bin/python bench/probe_abstention_crosslingual.py [--config default] [--translate auto|on|off]
        [--translator qwen2.5-coder-0.5b,qwen2.5-coder-1.5b] [--same-sample 60] [--limit N]

(a) Abstention. Every answerable question of ``datasets/meridian_bank/questions.jsonl`` and every
    unanswerable one of ``source/unanswerable/unanswerable.jsonl`` is retrieved with the preset's
    knowledge base. Signals: the dense top-1 cosine, the BM25 top-1 score (raw, and divided by the
    number of query tokens), the fused (RRF) top-1 score of the hybrid retriever, and two lexical
    grounding signals: the share of the question's IDF mass whose tokens occur anywhere in the corpus
    (``in_vocab_share``) and in the top-3 hybrid passages (``coverage_top3``). For each signal and
    language: ROC AUC, then thresholds picked on the ``tune`` half and reported on the ``test`` half
    (unanswerable: the authored ``split`` field; answerable: a seeded half split per language). Two
    operating points: the best balanced accuracy (Youden's J) and "the most unanswerable abstained while
    at most 5% of answerable ones are" (the issue's targets are >= 0.90 and <= 0.05). Positive class =
    should abstain; a question is abstained when its score is below the threshold. Pairs of signals:
    abstain when either is below its threshold.
(b) Cross-lingual. hit@1/3/5 (document level: passages ranked, deduplicated by ``doc_id``) on the
    questions marked ``cross_lingual: true`` and on the same-language rest, for today's dense, BM25 and
    hybrid retrievers and for candidate fixes built from outside the pipeline:
      * ``*_part_w{w}``  -- dense search in each language partition of the store (``lang`` metadata
        filter), the passage lists fused by weighted RRF (other-language weight ``w``), +BM25 for hybrid;
      * ``dense_part_doc``, ``hybrid_lang_interleave*`` -- the same at document level: each partition's
        dense (and BM25) lists collapsed to documents and fused within the partition, then the two
        partitions fused with equal weight (which interleaves the languages);
      * ``*_offset_{delta}`` -- one dense search, other-language passages' cosines raised by ``delta``;
      * ``*_trans[model]`` -- the question translated by a local Qwen2.5 instruct model (glossary of the
        bilingual topic titles in the system prompt); the original and translated queries retrieved
        and the two document lists fused by RRF. Translation is slow on 2 shared cores, so it runs on
        every cross-lingual question and a seeded sample of same-language ones (``--same-sample``);
        the table gives today's hybrid on the same questions beside it. ``interleave_trans[model]`` fuses
        the same-language hybrid list, the other partition's dense list and the translated query's list.
Writes ``bench/results/probe_abstention_crosslingual.json`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "datasets" / "meridian_bank"
OUT = ROOT / "bench" / "results" / "probe_abstention_crosslingual.json"
SEED = 20260615
DEPTH = 10          # passages retrieved per question (as the experiment runner: max(ks) = 10)
CANDIDATES = 20     # per ranked list before fusion (the default preset's retriever.candidates)
MAX_FALSE_ABSTAIN = 0.05
PART_WEIGHTS = (0.5, 0.75, 1.0)
OFFSETS = (0.02, 0.04, 0.06, 0.08)
TRANSLATORS = ("qwen2.5-0.5b", "qwen2.5-coder-0.5b")  # the first bundled one is used


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_items() -> list[dict[str, Any]]:
    """Answerable and unanswerable questions as one list of dicts with ``kind`` and ``split``
    (``workbench.evaluation.answerability``, the halves ``bench/bench_answers.py`` uses)."""
    from workbench.evaluation.answerability import answerability_questions

    return [{"id": q["id"], "lang": q["lang"], "question": q["question"], "kind": q["kind"],
             "gold": list(q["gold_doc_ids"]), "cross_lingual": bool(q["cross_lingual"]), "split": q["split"]}
            for q in answerability_questions(DATA, seed=SEED)]


# ---------------------------------------------------------------------------------------------
# the pipeline's public API (retried: other people may be changing it while this runs)
# ---------------------------------------------------------------------------------------------
def with_retry(what: str, fn: Callable[[], Any], attempts: int = 4, wait_s: float = 180.0) -> Any:
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (ImportError, AttributeError, TypeError, NameError) as exc:
            if attempt == attempts:
                raise
            print(f"[{what}] failed ({type(exc).__name__}: {exc}); retrying in {wait_s:.0f} s", flush=True)
            time.sleep(wait_s)
    raise AssertionError("unreachable")


def build_pipelines(config: str) -> dict[str, Any]:
    from workbench.config import PipelineConfig
    from workbench.pipelines import build_query_pipeline

    cfg = PipelineConfig.load(config)
    # "today" = the retrievers without any cross-lingual handling the preset may have gained since
    plain = {"retriever.cross_lingual": "none"} if getattr(cfg.retriever, "cross_lingual", "none") != "none" else {}
    hybrid = build_query_pipeline(cfg.with_overrides({**plain, "retriever.mode": "hybrid"}), progress=False)
    dense = build_query_pipeline(cfg.with_overrides({**plain, "retriever.mode": "dense"}), kb=hybrid.kb, progress=False)
    bm25 = build_query_pipeline(cfg.with_overrides({**plain, "retriever.mode": "bm25"}), kb=hybrid.kb, progress=False)
    out = {"cfg": cfg, "hybrid": hybrid, "dense": dense, "bm25": bm25, "kb": hybrid.kb}
    if plain:  # the preset as configured, to compare its built-in cross-lingual retrieval with the probes
        out["preset"] = build_query_pipeline(cfg, kb=hybrid.kb, progress=False)
    return out


def doc_ranking(docs: Sequence[Any]) -> list[str]:
    """Document ids in rank order, each once (a passage's ``meta['doc_id']``)."""
    return [d.id for d in collapse(docs)]


def first_hit(ranking: Sequence[str], gold: Sequence[str]) -> int:
    """Rank (from 1) of the first gold document in the top 5, 0 when none is there."""
    return next((i for i, d in enumerate(ranking[:5], start=1) if d in gold), 0)


def collapse(docs: Sequence[Any]) -> list[Any]:
    """A passage list as a document list: each document once, at its best passage's rank, keyed by doc id
    (so that fusion adds up the lists' votes per document, not per passage)."""
    from haystack import Document

    seen: set[str] = set()
    out = []
    for d in docs:
        doc_id = str(d.meta.get("doc_id", d.id))
        if doc_id not in seen:
            seen.add(doc_id)
            out.append(Document(id=doc_id, content=d.content, meta=dict(d.meta), score=d.score))
    return out


# ---------------------------------------------------------------------------------------------
# abstention statistics
# ---------------------------------------------------------------------------------------------
def auc(pos_low: Sequence[float], neg_high: Sequence[float]) -> float:
    """P(an answerable score > an unanswerable score), ties count half (Mann-Whitney)."""
    a = np.asarray(neg_high, dtype=float)[:, None]
    u = np.asarray(pos_low, dtype=float)[None, :]
    if a.size == 0 or u.size == 0:
        return float("nan")
    return float(((a > u).sum() + 0.5 * (a == u).sum()) / (a.size * u.size))


def rates(threshold: float, ans: np.ndarray, unans: np.ndarray) -> dict[str, float]:
    """Abstain when score < threshold. recall = unanswerable abstained; false_abstain = answerable abstained."""
    tp = int((unans < threshold).sum())
    fp = int((ans < threshold).sum())
    recall = tp / len(unans) if len(unans) else float("nan")
    false_abstain = fp / len(ans) if len(ans) else float("nan")
    precision = tp / (tp + fp) if tp + fp else float("nan")
    return {"threshold": float(threshold), "recall": recall, "false_abstain": false_abstain, "precision": precision,
            "abstained_unanswerable": tp, "abstained_answerable": fp, "n_unanswerable": len(unans),
            "n_answerable": len(ans)}


def candidate_thresholds(values: np.ndarray) -> np.ndarray:
    v = np.unique(values)
    mids = (v[:-1] + v[1:]) / 2 if len(v) > 1 else v
    return np.concatenate([[v[0] - 1e-9], mids, [v[-1] + 1e-9]])


def pick_thresholds(ans: np.ndarray, unans: np.ndarray) -> dict[str, float]:
    """Thresholds picked on one half: best Youden J, and best recall with false_abstain <= 5%."""
    best_j, t_j = -2.0, 0.0
    best_r, t_r = -1.0, float(np.min(np.concatenate([ans, unans]))) - 1e-9
    for t in candidate_thresholds(np.concatenate([ans, unans])):
        r = (unans < t).mean()
        f = (ans < t).mean()
        if r - f > best_j:
            best_j, t_j = r - f, t
        if f <= MAX_FALSE_ABSTAIN and r > best_r:
            best_r, t_r = r, t
    return {"youden": float(t_j), "fa05": float(t_r)}


def pick_pair(ans: np.ndarray, unans: np.ndarray) -> tuple[float, float]:
    """Two signals (columns), abstain when either is below its threshold: best recall at <= 5% false abstain."""
    qs = np.linspace(0.0, 0.5, 51)
    grid0 = np.quantile(np.concatenate([ans[:, 0], unans[:, 0]]), qs)
    grid1 = np.quantile(np.concatenate([ans[:, 1], unans[:, 1]]), qs)
    best = (-1.0, 0.0, 0.0, 0.0)
    for t0 in grid0:
        for t1 in grid1:
            f = ((ans[:, 0] < t0) | (ans[:, 1] < t1)).mean()
            if f > MAX_FALSE_ABSTAIN:
                continue
            r = ((unans[:, 0] < t0) | (unans[:, 1] < t1)).mean()
            if r > best[0] or (r == best[0] and f < best[3]):
                best = (r, float(t0), float(t1), f)
    return best[1], best[2]


def pair_rates(t: tuple[float, float], ans: np.ndarray, unans: np.ndarray) -> dict[str, float]:
    a = (ans[:, 0] < t[0]) | (ans[:, 1] < t[1])
    u = (unans[:, 0] < t[0]) | (unans[:, 1] < t[1])
    tp, fp = int(u.sum()), int(a.sum())
    return {"thresholds": [t[0], t[1]], "recall": tp / len(unans), "false_abstain": fp / len(ans),
            "precision": tp / (tp + fp) if tp + fp else float("nan"), "abstained_unanswerable": tp,
            "abstained_answerable": fp, "n_unanswerable": len(unans), "n_answerable": len(ans)}


def summary_stats(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {"n": 0, "min": float("nan"), "p10": float("nan"), "median": float("nan"), "p90": float("nan"),
                "max": float("nan")}
    return {"n": int(v.size), "min": float(v.min()), "p10": float(np.quantile(v, 0.1)),
            "median": float(np.median(v)), "p90": float(np.quantile(v, 0.9)), "max": float(v.max())}


# ---------------------------------------------------------------------------------------------
# query translation (only when the bundled Qwen model exists)
# ---------------------------------------------------------------------------------------------
def glossary() -> list[tuple[str, str]]:
    """(English title, Chinese title) of every topic written in both languages: the bank's own terms."""
    titles: dict[str, dict[str, str]] = {}
    for d in read_jsonl(DATA / "documents.jsonl"):
        titles.setdefault(d["topic"], {})[d["lang"]] = d["title"]
    return sorted((t["en"], t["zh"]) for t in titles.values() if "en" in t and "zh" in t)


class Translator:
    """Translates a customer question zh<->en with a local chat model through llama-cpp. The system prompt
    carries a glossary (the titles of the topics written in both languages); llama.cpp keeps its KV cache
    between calls, so the shared prefix is processed once."""

    def __init__(self, name: str) -> None:
        import hashlib

        from llama_cpp import Llama

        from workbench.models import resolve_gguf

        self.name = name
        self.system = ("You translate Meridian Bank customer questions between English and Simplified Chinese. "
                       "Use the bank's own terms from this glossary of help-centre titles:\n"
                       + "\n".join(f"{en} = {zh}" for en, zh in glossary())
                       + "\nReply with the translation only, one line.")
        self.prompt_sha = hashlib.sha256(self.system.encode()).hexdigest()[:8]
        self.llm = Llama(model_path=str(resolve_gguf(name)), n_ctx=4096, n_threads=2, seed=SEED, verbose=False)

    def __call__(self, text: str, source: str) -> str:
        target = "English" if source == "zh" else "Simplified Chinese"
        out = self.llm.create_chat_completion(
            messages=[{"role": "system", "content": self.system},
                      {"role": "user", "content": f"Translate into {target}: {text}"}],
            max_tokens=48, temperature=0.0, seed=SEED)
        reply = str(out["choices"][0]["message"]["content"] or "").strip().splitlines()
        return reply[0].strip() if reply else ""


def translate_subset(name: str, items: list[dict[str, Any]], same_sample: int, sample_size: int) -> dict[str, Any]:
    """Translations by model ``name`` of every cross-lingual question and of a seeded sample of same-language
    ones, cached in ``.workbench/bench/`` (a small model on 2 shared cores takes seconds per question)."""
    translator = Translator(name)
    cache = ROOT / ".workbench" / "bench" / f"translations-{name}-{translator.prompt_sha}.json"
    done: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    answerable = [it for it in items if it["kind"] == "answerable"]
    same = sorted((it for it in answerable if not it["cross_lingual"]), key=lambda it: it["id"])
    chosen = [it for it in answerable if it["cross_lingual"]]
    # one seeded sample for every model; a model given a smaller size takes its first ``sample_size``
    chosen += random.Random(SEED).sample(same, min(same_sample, len(same)))[:sample_size]
    t0 = time.perf_counter_ns()
    for n, it in enumerate(chosen, start=1):
        if it["id"] not in done:
            t = time.perf_counter_ns()
            text = translator(it["question"], it["lang"])
            done[it["id"]] = {"text": text, "ms": round((time.perf_counter_ns() - t) / 1e6, 1)}
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(done, ensure_ascii=False, indent=0), encoding="utf-8")
        if n % 10 == 0:
            print(f"  {name}: translated {n}/{len(chosen)} ({(time.perf_counter_ns() - t0) / 1e9:.0f} s)", flush=True)
    del translator
    return {it["id"]: done[it["id"]] for it in chosen}


def bundled_translator(names: Sequence[str]) -> str | None:
    """The first of ``names`` that ``workbench.models`` bundles, or None."""
    try:
        import workbench.models as models
    except ImportError:
        return None
    bundled = getattr(models, "BUNDLED_GENERATORS", {})
    return next((n for n in names if n in bundled), None)


# ---------------------------------------------------------------------------------------------
# the probe
# ---------------------------------------------------------------------------------------------
def run(config: str, translate: str, translator_names: str | None, same_sample: int,
        limit: int | None = None) -> dict[str, Any]:
    from workbench.components.retrievers.rank_fusion import reciprocal_rank_fusion
    from workbench.models import load_embedding_model
    from workbench.text import detect_language, tokenize

    items = load_items()
    if limit is not None:  # a smoke run: every cross-lingual question plus a seeded sample of the rest
        rest = [it for it in items if not it["cross_lingual"]]
        keep = {it["id"] for it in random.Random(SEED).sample(rest, min(limit, len(rest)))}
        items = [it for it in items if it["cross_lingual"] or it["id"] in keep]
    p = with_retry("build", lambda: build_pipelines(config))
    cfg, kb = p["cfg"], p["kb"]
    tenant = cfg.knowledge_base.tenant
    langs = sorted({str(d.meta.get("lang")) for d in kb.store.documents})
    print(f"knowledge base {kb.version}: {kb.store.count} passages, languages {langs}; {len(items)} questions",
          flush=True)
    embedder = load_embedding_model(cfg.embedder.model, threads=cfg.embedder.threads)
    t0 = time.perf_counter_ns()
    vectors = embedder.embed_queries([it["question"] for it in items])
    embed_s = (time.perf_counter_ns() - t0) / 1e9

    rrf_k = cfg.retriever.rrf_k

    def fuse(lists: dict[str, list[Any]], weights: dict[str, float] | None = None) -> list[Any]:
        return reciprocal_rank_fusion(lists, weights=weights, k=rrf_k, top_k=None)

    def search_lang(vec: np.ndarray, query: str, lang: str) -> tuple[list[Any], list[Any]]:
        """Dense and BM25 passages of one language partition (the stores' metadata filter)."""
        flt = {"tenant": tenant, "lang": lang}
        return (kb.store.search(vec, top_k=CANDIDATES, filters=flt),
                kb.bm25.search(query, top_k=CANDIDATES, filters=flt))

    # lexical grounding signals: how much of the question's IDF mass the corpus / the top passages cover
    tokenizer = cfg.retriever.bm25_tokenizer
    passage_tokens = {d.id: set(tokenize(d.content or "", tokenizer)) for d in kb.store.documents}
    df: dict[str, int] = {}
    for toks in passage_tokens.values():
        for t in toks:
            df[t] = df.get(t, 0) + 1
    n_pass = len(passage_tokens)

    def idf(t: str) -> float:
        return float(np.log(1.0 + (n_pass - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)))

    specs = [n for n in (translator_names or "").split(",") if n] or \
        ([bundled] if (bundled := bundled_translator(TRANSLATORS)) else [])
    sizes = {spec.partition(":")[0]: int(spec.partition(":")[2] or same_sample) for spec in specs}
    names = list(sizes)
    translations: dict[str, dict[str, Any]] = {}
    if translate == "on" and not names:
        raise SystemExit(f"none of {', '.join(TRANSLATORS)} is a bundled model; give --translator")
    if translate != "off":
        for name in names:
            print(f"translating questions with {name}", flush=True)
            translations[name] = translate_subset(name, items, same_sample, min(sizes[name], same_sample))
    elif translate == "auto":
        print(f"none of {', '.join(TRANSLATORS)} is a bundled model yet: the translation fix is skipped", flush=True)
    rows = []
    check_dense = []
    t_start = time.perf_counter_ns()
    for n, (it, vec) in enumerate(zip(items, vectors, strict=True), start=1):
        q = it["question"]
        qlang = detect_language(q)
        olang = "en" if qlang == "zh" else "zh"
        dense_docs = p["dense"].retrieve(q, top_k=CANDIDATES)
        bm25_docs = p["bm25"].retrieve(q, top_k=CANDIDATES)
        hybrid_docs = p["hybrid"].retrieve(q, top_k=DEPTH)
        q_tokens = tokenize(q, tokenizer)
        weights_q = {t: idf(t) for t in set(q_tokens)}
        total = sum(weights_q.values()) or 1.0
        top3: set[str] = set().union(*(passage_tokens.get(d.id, set()) for d in hybrid_docs[:3])) \
            if hybrid_docs else set()
        row: dict[str, Any] = {
            "id": it["id"], "lang": it["lang"], "detected_lang": qlang, "kind": it["kind"], "split": it["split"],
            "cross_lingual": it["cross_lingual"],
            "dense_top1": float(dense_docs[0].score) if dense_docs else 0.0,
            "bm25_top1": float(bm25_docs[0].score) if bm25_docs else 0.0,
            "fused_top1": float(hybrid_docs[0].score) if hybrid_docs else 0.0,
            "bm25_top1_per_token": (float(bm25_docs[0].score) if bm25_docs else 0.0) / max(1, len(q_tokens)),
            "in_vocab_share": (sum(w for t, w in weights_q.items() if t in df) / total) if weights_q else 1.0,
            "coverage_top3": (sum(w for t, w in weights_q.items() if t in top3) / total) if weights_q else 1.0,
        }
        rankings: dict[str, list[str]] = {
            "dense": doc_ranking(dense_docs[:DEPTH]),
            "bm25": doc_ranking(bm25_docs[:DEPTH]),
            "hybrid": doc_ranking(hybrid_docs),
        }
        if "preset" in p:
            rankings[f"preset_{config}_as_configured"] = doc_ranking(p["preset"].retrieve(q, top_k=DEPTH))
        d_same, b_same = search_lang(vec, q, qlang)
        d_other, b_other = search_lang(vec, q, olang)
        merged = sorted(d_same + d_other, key=lambda d: -float(d.score or 0.0))
        check_dense.append(abs(float(merged[0].score) - row["dense_top1"]) if merged and dense_docs else 0.0)
        # passage-level weighted RRF of the two partitions' dense lists (and BM25)
        for w in PART_WEIGHTS:
            rankings[f"dense_part_w{w}"] = doc_ranking(fuse({"same": d_same, "other": d_other},
                                                            {"same": 1.0, "other": w})[:DEPTH])
            rankings[f"hybrid_part_w{w}"] = doc_ranking(fuse({"same": d_same, "other": d_other, "bm25": bm25_docs},
                                                             {"same": 1.0, "other": w, "bm25": 1.0})[:DEPTH])
        # document-level: each list collapsed to documents before fusing
        rankings["dense_part_doc"] = doc_ranking(fuse({"same": collapse(d_same), "other": collapse(d_other)}))
        same_h = collapse(fuse({"dense": collapse(d_same), "bm25": collapse(b_same)}))
        other_h = collapse(fuse({"dense": collapse(d_other), "bm25": collapse(b_other)}))
        rankings["hybrid_lang_interleave"] = doc_ranking(fuse({"same": same_h, "other": other_h}))
        rankings["hybrid_lang_interleave_dense_other"] = doc_ranking(fuse({"same": same_h, "other": collapse(d_other)}))
        for delta in OFFSETS:
            shifted = sorted(merged, key=lambda d: -(float(d.score or 0.0) + (delta if d.meta.get("lang") != qlang
                                                                               else 0.0)))
            rankings[f"dense_offset_{delta}"] = doc_ranking(shifted[:DEPTH])
            rankings[f"hybrid_offset_{delta}"] = doc_ranking(fuse(
                {"dense": shifted[:CANDIDATES], "bm25": bm25_docs}, dict(cfg.retriever.weights))[:DEPTH])
        for name, done in translations.items():
            if it["id"] not in done:
                continue
            tq = done[it["id"]]["text"]
            row.setdefault("translation", {})[name] = done[it["id"]]
            t_dense = p["dense"].retrieve(tq, top_k=CANDIDATES) if tq else []
            t_hybrid = p["hybrid"].retrieve(tq, top_k=DEPTH) if tq else []
            rankings[f"dense_trans[{name}]"] = doc_ranking(fuse({"orig": collapse(dense_docs),
                                                                 "trans": collapse(t_dense)}))
            rankings[f"hybrid_trans[{name}]"] = doc_ranking(fuse({"orig": collapse(hybrid_docs),
                                                                  "trans": collapse(t_hybrid)}))
            rankings[f"interleave_trans[{name}]"] = doc_ranking(fuse({"same": same_h, "other": collapse(d_other),
                                                                      "trans": collapse(t_hybrid)}))
        if it["kind"] == "answerable":
            row["hit"] = {name: first_hit(r, it["gold"]) for name, r in rankings.items()}
            row["top_docs"] = {name: rankings[name][:5] for name in ("dense", "bm25", "hybrid", "hybrid_lang_interleave")}
        else:
            row["top_docs"] = {"hybrid": rankings["hybrid"][:3]}
        rows.append(row)
        if n % 100 == 0:
            print(f"  {n}/{len(items)} questions", flush=True)
    loop_s = (time.perf_counter_ns() - t_start) / 1e9

    result: dict[str, Any] = {
        "config": config, "config_hash": cfg.hash,
        "preset_retriever": cfg.retriever.model_dump(mode="json"), "kb_version": kb.version, "passages": kb.store.count,
        "seed": SEED, "depth": DEPTH, "candidates": CANDIDATES, "rrf_k": cfg.retriever.rrf_k,
        "embed_s": round(embed_s, 2), "loop_s": round(loop_s, 2),
        "dense_top1_check_max_abs_diff": float(max(check_dense)) if check_dense else 0.0,
        "translators": {name: {"questions": len(done),
                               "ms_median": float(np.median([v["ms"] for v in done.values()])) if done else None}
                        for name, done in translations.items()},
        "counts": {
            "answerable": sum(r["kind"] == "answerable" for r in rows),
            "cross_lingual": sum(r["cross_lingual"] for r in rows),
            "unanswerable_in_domain": sum(r["kind"] == "in_domain" for r in rows),
            "unanswerable_off_topic": sum(r["kind"] == "off_topic" for r in rows),
            "language_detection_disagrees": sum(r["lang"] != r["detected_lang"] for r in rows),
        },
    }
    result["crosslingual"] = crosslingual_table(rows)
    result["abstention"] = abstention_tables(rows)
    result["rows"] = rows
    return result


def crosslingual_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["kind"] == "answerable"]
    methods: list[str] = []
    for r in ans:
        methods += [m for m in r["hit"] if m not in methods]
    table: dict[str, Any] = {}
    for m in methods:
        entry: dict[str, Any] = {}
        for name, subset in (("cross", [r for r in ans if r["cross_lingual"]]),
                             ("same", [r for r in ans if not r["cross_lingual"]])):
            have = [r for r in subset if m in r["hit"]]
            if not have:
                continue
            hits = [r["hit"][m] for r in have]
            entry[name] = {"hit5": sum(h > 0 for h in hits) / len(have), "hits": sum(h > 0 for h in hits),
                           "hit3": sum(0 < h <= 3 for h in hits) / len(have), "hit1": sum(h == 1 for h in hits) / len(have),
                           "n": len(have),
                           "hybrid_on_same_questions": sum(r["hit"]["hybrid"] > 0 for r in have) / len(have)}
            for lang in ("en", "zh"):
                sub = [r["hit"][m] for r in have if r["lang"] == lang]
                if sub:
                    entry[f"{name}_{lang}"] = {"hit5": sum(h > 0 for h in sub) / len(sub), "n": len(sub)}
        table[m] = entry
    return table


SIGNALS = ("dense_top1", "bm25_top1", "bm25_top1_per_token", "fused_top1", "in_vocab_share", "coverage_top3")


def abstention_tables(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"distributions": {}, "signals": {}, "pairs": {}}
    for lang in ("en", "zh", "all"):
        sel = [r for r in rows if lang == "all" or r["lang"] == lang]
        for s in SIGNALS:
            dist = {kind: summary_stats([r[s] for r in sel if r["kind"] == kind])
                    for kind in ("answerable", "in_domain", "off_topic")}
            out["distributions"][f"{s}/{lang}"] = dist
            ans = np.array([r[s] for r in sel if r["kind"] == "answerable"])
            un = np.array([r[s] for r in sel if r["kind"] != "answerable"])
            entry: dict[str, Any] = {"auc_all": auc(un, ans)}
            tune_a = np.array([r[s] for r in sel if r["kind"] == "answerable" and r["split"] == "tune"])
            tune_u = np.array([r[s] for r in sel if r["kind"] != "answerable" and r["split"] == "tune"])
            test_a = np.array([r[s] for r in sel if r["kind"] == "answerable" and r["split"] == "test"])
            test_u = np.array([r[s] for r in sel if r["kind"] != "answerable" and r["split"] == "test"])
            test_in = np.array([r[s] for r in sel if r["kind"] == "in_domain" and r["split"] == "test"])
            test_off = np.array([r[s] for r in sel if r["kind"] == "off_topic" and r["split"] == "test"])
            cross = np.array([r[s] for r in sel if r["cross_lingual"]])
            if min(tune_a.size, tune_u.size, test_a.size, test_u.size, test_in.size, test_off.size) == 0:
                continue  # a smoke run (--limit) can leave a group empty
            picked = pick_thresholds(tune_a, tune_u)
            for point, t in picked.items():
                entry[point] = {"tune": rates(t, tune_a, tune_u), "test": rates(t, test_a, test_u),
                                "test_recall_in_domain": float((test_in < t).mean()),
                                "test_recall_off_topic": float((test_off < t).mean()),
                                "false_abstain_cross_lingual_both_halves": float((cross < t).mean()) if cross.size
                                else None}
            out["signals"][f"{s}/{lang}"] = entry
        for pair in (("dense_top1", "bm25_top1_per_token"), ("dense_top1", "fused_top1"),
                     ("dense_top1", "bm25_top1"), ("dense_top1", "in_vocab_share"), ("dense_top1", "coverage_top3")):
            def matrix(kind_ok: Callable[[str], bool], split: str, sel: list[dict[str, Any]] = sel,
                       pair: tuple[str, str] = pair) -> np.ndarray:
                return np.array([[r[pair[0]], r[pair[1]]] for r in sel if kind_ok(r["kind"]) and r["split"] == split]
                                ).reshape(-1, 2)

            is_ans = "answerable".__eq__

            def is_un(k: str) -> bool:
                return k != "answerable"

            test_in = matrix("in_domain".__eq__, "test")
            test_off = matrix("off_topic".__eq__, "test")
            if min(len(matrix(is_ans, "tune")), len(matrix(is_un, "tune")), len(test_in), len(test_off)) == 0:
                continue
            t = pick_pair(matrix(is_ans, "tune"), matrix(is_un, "tune"))
            out["pairs"][f"{pair[0]}|{pair[1]}/{lang}"] = {
                "rule": "abstain if either signal is below its threshold",
                "tune": pair_rates(t, matrix(is_ans, "tune"), matrix(is_un, "tune")),
                "test": pair_rates(t, matrix(is_ans, "test"), matrix(is_un, "test")),
                "test_recall_in_domain": float(((test_in[:, 0] < t[0]) | (test_in[:, 1] < t[1])).mean()),
                "test_recall_off_topic": float(((test_off[:, 0] < t[0]) | (test_off[:, 1] < t[1])).mean()),
            }
    return out


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------
def print_tables(res: dict[str, Any]) -> None:
    c = res["counts"]
    print(f"\n{c['answerable']} answerable ({c['cross_lingual']} cross-lingual), "
          f"{c['unanswerable_in_domain']} in-domain + {c['unanswerable_off_topic']} off-topic unanswerable; "
          f"kb {res['kb_version']}, {res['passages']} passages")
    print("\n(b) hit@5, document level (depth 10 passages)")
    print(f"{'method':<36}{'cross':>14}{'cross en':>10}{'cross zh':>10}{'same':>14}{'same en':>10}{'same zh':>10}"
          f"{'hybrid, same questions':>24}{'hit@1/@3 cross':>18}{'hit@1/@3 same':>16}")
    nan = float("nan")
    for m, e in res["crosslingual"].items():
        if "cross" not in e or "same" not in e:
            continue
        print(f"{m:<36}{e['cross']['hits']:>4}/{e['cross']['n']:<3} {e['cross']['hit5']:.3f}"
              f"{e.get('cross_en', {}).get('hit5', nan):>10.3f}{e.get('cross_zh', {}).get('hit5', nan):>10.3f}"
              f"{e['same']['hits']:>4}/{e['same']['n']:<3} {e['same']['hit5']:.3f}"
              f"{e.get('same_en', {}).get('hit5', nan):>10.3f}{e.get('same_zh', {}).get('hit5', nan):>10.3f}"
              f"{e['cross']['hybrid_on_same_questions']:>12.3f}{e['same']['hybrid_on_same_questions']:>12.3f}"
              f"{e['cross']['hit1']:>10.3f}/{e['cross']['hit3']:.3f}{e['same']['hit1']:>10.3f}/{e['same']['hit3']:.3f}")
    print("\n(a) score distributions: median [p10, p90]")
    print(f"{'signal/lang':<28}{'answerable':>24}{'in-domain':>24}{'off-topic':>24}")
    for key, dist in res["abstention"]["distributions"].items():
        cells = "".join(f"{d['median']:>10.4f} [{d['p10']:.3f},{d['p90']:.3f}]" for d in dist.values())
        print(f"{key:<28}{cells}")
    print("\n(a) abstention by one threshold (picked on tune, reported on test)")
    print(f"{'signal/lang':<28}{'AUC':>6}  {'point':<7}{'thresh':>9}{'recall':>8}{'false-ab':>9}{'prec':>7}"
          f"{'rec in':>8}{'rec off':>8}{'xl-fa':>8}")
    for key, e in res["abstention"]["signals"].items():
        for point in ("youden", "fa05"):
            t = e[point]["test"]
            xl = e[point]["false_abstain_cross_lingual_both_halves"]
            print(f"{key:<28}{e['auc_all']:>6.3f}  {point:<7}{t['threshold']:>9.4f}{t['recall']:>8.3f}"
                  f"{t['false_abstain']:>9.3f}{t['precision']:>7.3f}{e[point]['test_recall_in_domain']:>8.3f}"
                  f"{e[point]['test_recall_off_topic']:>8.3f}{xl if xl is not None else float('nan'):>8.3f}")
    print("\n(a) two signals, abstain if either is low (picked on tune for <= 5% false abstain, reported on test)")
    for key, e in res["abstention"]["pairs"].items():
        t = e["test"]
        print(f"{key:<44} thresholds {t['thresholds'][0]:.4f}, {t['thresholds'][1]:.4f}  recall {t['recall']:.3f}"
              f"  false-abstain {t['false_abstain']:.3f}  precision {t['precision']:.3f}"
              f"  (in {e['test_recall_in_domain']:.3f}, off {e['test_recall_off_topic']:.3f})")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="default")
    ap.add_argument("--translate", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--translator", default=None,
                    help="bundled generators, comma-separated, each optionally NAME:N to translate only the first N "
                         f"of the same-language sample (default: the first bundled of {TRANSLATORS})")
    ap.add_argument("--same-sample", type=int, default=100,
                    help="same-language questions translated (seeded sample; all cross-lingual ones always are)")
    ap.add_argument("--limit", type=int, default=None, help="smoke run: cross-lingual questions + N others")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    t0 = time.perf_counter_ns()
    res = run(args.config, args.translate, args.translator, args.same_sample, args.limit)
    res["wall_s"] = round((time.perf_counter_ns() - t0) / 1e9, 1)
    res["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                      "loadavg": list(os.getloadavg())}
    res["command"] = "bench/probe_abstention_crosslingual.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print_tables(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
