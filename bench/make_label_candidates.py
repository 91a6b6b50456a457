"""Collect system answers to label by hand for the judge-validation set (issue 12, item 5).

    .venv/bin/python bench/make_label_candidates.py [--seed 12] [--per-lang 80] [--cross 16]
        [--unanswerable 30] [--systems fast default quality qwen-0.5b qwen-1.5b]
        [--limit quality=100 qwen-1.5b=60]

A seeded sample of bank questions (``--per-lang`` same-language answerable questions per language,
``--cross`` cross-lingual ones and ``--unanswerable`` ones from ``source/unanswerable``, both languages
about evenly, interleaved English/Chinese so that a ``--limit`` keeps the balance) is answered by several
systems through the public API (``build_query_pipeline(cfg).run(question)``):

* ``fast``, ``default``, ``quality``: the presets as shipped;
* ``default-sentence``: the ``default`` preset's supporting sentence (``RAGAnswer.generator_meta["support"]``,
  which the extractive answerer returns beside its short span) as the answer, so the set also holds long
  answers;
* ``qwen-0.5b``, ``qwen-1.5b``: the ``default`` preset with a Qwen2.5-Coder instruct generator
  (llama.cpp, 1 thread, the best-ranked sentences as context, no grounding guard), so the set also holds
  free-form generated answers, right and wrong, in both languages.

Every answer is appended to ``datasets/meridian_bank/labels/candidates.jsonl`` with the question, its gold
answers, the gold document ids, the document a labeller reads (``doc_id``, ``doc_text``) and the
retrieved sources. The run is resumable: (question id, system) pairs already in the file are skipped.

This script only collects answers. It decides nothing about them: the labels in ``judge_validation.jsonl``
are typed by a person reading the document (``labels/RULES.md``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import workbench  # noqa: F401  (offline switches)

__all__ = ["SYSTEMS", "SENTENCE_SYSTEMS", "ABSTAIN_TEXT", "answer_text", "label_document", "sample_questions", "system_config", "main"]

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "datasets" / "meridian_bank"
OUT = BANK / "labels" / "candidates.jsonl"

_QWEN = {"generator.kind": "llama-cpp", "generator.threads": 1, "generator.max_tokens": 64,
         "generator.grounding": "off", "prompt.context": "sentences", "prompt.max_sentences": 3}
SYSTEMS: dict[str, tuple[str, dict[str, Any]]] = {
    "fast": ("fast", {}),
    "default": ("default", {}),
    "quality": ("quality", {}),
    "default-sentence": ("default", {}),
    "qwen-0.5b": ("default", {**_QWEN, "generator.model": "qwen2.5-coder-0.5b"}),
    "qwen-1.5b": ("default", {**_QWEN, "generator.model": "qwen2.5-coder-1.5b"}),
}
"""System name → (preset, dotted overrides)."""

SENTENCE_SYSTEMS = frozenset({"default-sentence"})
"""Systems whose answer is the supporting sentence the extractive answerer returns beside its span."""

ABSTAIN_TEXT = {"en": "I couldn't find that in the knowledge base", "zh": "资料中没有找到相关内容"}
"""The gold answer recorded for an unanswerable question (abstaining is the right answer, RULES.md G7)."""


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def label_document(row: dict[str, Any], docs: dict[str, dict[str, Any]]) -> str | None:
    """The document a labeller reads for ``row``.

    :param row: a question (``gold_doc_ids``) or an unanswerable question (``near_doc_ids``).
    :param docs: documents by id.
    :returns: the first gold document in the question's language (for a cross-lingual question, the
        first gold document: only the other language's article answers it), or the first near document
        of an unanswerable question, or ``None`` (an off-topic question has none).
    """
    ids = row.get("gold_doc_ids") or row.get("near_doc_ids") or []
    if not ids:
        return None
    if row.get("cross_lingual"):
        return ids[0]
    same = [d for d in ids if docs[d]["lang"] == row["lang"]]
    return (same or ids)[0]


def sample_questions(seed: int, per_lang: int, cross: int, unanswerable: int) -> list[dict[str, Any]]:
    """The seeded sample, English and Chinese interleaved; unanswerable rows carry ``unanswerable: True``.

    :param seed: seed of the one random stream.
    :param per_lang: same-language answerable questions per language.
    :param cross: cross-lingual answerable questions (split evenly between the languages).
    :param unanswerable: unanswerable questions (split evenly between the languages; in-domain and
        off-topic in the file's proportion).
    :returns: question rows in answering order.
    """
    rng = random.Random(seed)
    questions = [q for q in _jsonl(BANK / "questions.jsonl") if q.get("answers")]
    unans_path = BANK / "source" / "unanswerable" / "unanswerable.jsonl"
    unans = _jsonl(unans_path) if unans_path.exists() else []
    per_lang_rows: dict[str, list[dict[str, Any]]] = {}
    for lang in ("en", "zh"):
        same = sorted((q for q in questions if q["lang"] == lang and not q.get("cross_lingual")), key=lambda q: q["id"])
        xl = sorted((q for q in questions if q["lang"] == lang and q.get("cross_lingual")), key=lambda q: q["id"])
        un = sorted((u for u in unans if u["lang"] == lang), key=lambda u: u["id"])
        picked = rng.sample(same, min(per_lang, len(same))) + rng.sample(xl, min(cross // 2, len(xl)))
        picked += [{**u, "unanswerable": True} for u in rng.sample(un, min(unanswerable // 2, len(un)))]
        rng.shuffle(picked)
        per_lang_rows[lang] = picked
    out: list[dict[str, Any]] = []
    for en, zh in zip(per_lang_rows["en"], per_lang_rows["zh"], strict=False):
        out += [en, zh]
    longer = max(per_lang_rows.values(), key=len)
    out += longer[len(out) // 2:]
    return out


def system_config(name: str) -> Any:
    """The ``PipelineConfig`` of a system in :data:`SYSTEMS`.

    :param name: a key of :data:`SYSTEMS`.
    :returns: the preset with its overrides applied.
    :raises KeyError: for an unknown system.
    """
    from workbench.config import PipelineConfig

    preset, overrides = SYSTEMS[name]
    cfg = PipelineConfig.load(preset)
    return cfg.with_overrides(overrides) if overrides else cfg


def answer_text(system: str, answer: Any) -> str:
    """The text a system answered.

    :param system: a key of :data:`SYSTEMS`.
    :param answer: the pipeline's ``RAGAnswer``.
    :returns: ``answer.answer``, or for :data:`SENTENCE_SYSTEMS` the supporting sentence when there is one.
    """
    if system in SENTENCE_SYSTEMS:
        return str(answer.generator_meta.get("support") or answer.answer)
    return str(answer.answer)


def _candidate(q: dict[str, Any], system: str, answer: Any, ms: float, docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    doc_id = label_document(q, docs)
    unans = bool(q.get("unanswerable"))
    return {
        "question_id": q["id"], "lang": q["lang"], "question": q["question"], "system": system,
        "preset": SYSTEMS[system][0], "system_answer": answer_text(system, answer),
        "gold": [ABSTAIN_TEXT[q["lang"]]] if unans else q["answers"],
        "gold_doc_ids": q.get("gold_doc_ids", []), "cross_lingual": bool(q.get("cross_lingual")),
        "unanswerable": unans, "unanswerable_kind": q.get("kind") if unans else None,
        "unanswerable_note": q.get("note") if unans else None,
        "doc_id": doc_id, "doc_text": docs[doc_id]["text"] if doc_id else None,
        "sources": [s.id for s in answer.sources],
        "ms": round(ms, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Answer the sample with every system and append the answers to ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--per-lang", type=int, default=80)
    ap.add_argument("--cross", type=int, default=16)
    ap.add_argument("--unanswerable", type=int, default=30)
    ap.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    ap.add_argument("--limit", nargs="*", default=["quality=100", "qwen-1.5b=60"],
                    help="SYSTEM=N: answer only the first N questions of the sample with SYSTEM")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    limits = {k: int(v) for k, v in (item.split("=", 1) for item in args.limit)}

    from workbench.pipelines import build_query_pipeline

    docs = {d["id"]: d for d in _jsonl(BANK / "documents.jsonl")}
    sample = sample_questions(args.seed, args.per_lang, args.cross, args.unanswerable)
    done = {(c["question_id"], c["system"]) for c in _jsonl(args.out)} if args.out.exists() else set()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(sample)} questions; {len(done)} answers already in {args.out}", flush=True)
    for system in args.systems:
        todo = [q for q in sample[:limits.get(system, len(sample))] if (q["id"], system) not in done]
        if not todo:
            continue
        t0 = time.perf_counter_ns()
        qp = build_query_pipeline(system_config(system), progress=False)
        print(f"[{system}] loaded in {(time.perf_counter_ns() - t0) / 1e9:.1f} s; {len(todo)} questions", flush=True)
        with args.out.open("a", encoding="utf-8") as fh:
            for i, q in enumerate(todo, 1):
                t0 = time.perf_counter_ns()
                answer = qp.run(q["question"])
                ms = (time.perf_counter_ns() - t0) / 1e6
                fh.write(json.dumps(_candidate(q, system, answer, ms, docs), ensure_ascii=False) + "\n")
                fh.flush()
                print(f"  [{system} {i}/{len(todo)}] {ms:7.0f} ms {q['lang']} {answer_text(system, answer)[:60]!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
