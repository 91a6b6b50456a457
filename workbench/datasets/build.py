"""Merge a dataset's authored source parts into its published files and manifest.

``python -m workbench.datasets.build [NAME]`` reads ``datasets/NAME/source/*/`` (one folder per
authored topic family), writes ``documents.jsonl``, ``questions.jsonl``, ``paraphrases.jsonl``,
``near_misses.jsonl``, ``conversations.jsonl``, ``personalized.jsonl`` sorted by id, and
``manifest.json`` (counts per language and a content hash).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from workbench.datasets.bank import content_hash
from workbench.datasets.catalog import dataset_dir
from workbench.datasets.jsonl import read_records
from workbench.datasets.schema import (
    Conversation,
    KBDocument,
    KBQuestion,
    NearMissPair,
    ParaphraseGroup,
    PersonalizedQuestion,
)

__all__ = ["build_dataset"]

_PARTS = {
    "documents.jsonl": (KBDocument, lambda r: r.id),
    "questions.jsonl": (KBQuestion, lambda r: r.id),
    "paraphrases.jsonl": (ParaphraseGroup, lambda r: (r.intent, r.lang, r.paraphrases[0])),
    "near_misses.jsonl": (NearMissPair, lambda r: r.id),
    "conversations.jsonl": (Conversation, lambda r: r.id),
    "personalized.jsonl": (PersonalizedQuestion, lambda r: r.id),
}


def _merge_intent_gold(questions: list[KBQuestion], documents: list[KBDocument]) -> list[KBQuestion]:
    """Questions that share an intent ask the same thing, so they share their gold documents.

    Parts were authored separately and may each list only their own documents for a shared intent;
    the union is taken here. A question's original first gold document stays first (its first answer
    occurs there); added documents follow, those in the question's language first; ``cross_lingual``
    is recomputed.
    """
    lang = {d.id: d.lang for d in documents}
    union: dict[str, list[str]] = {}
    for q in questions:
        bucket = union.setdefault(q.intent, [])
        bucket.extend(g for g in q.gold_doc_ids if g not in bucket)
    out = []
    for q in questions:
        extra = [g for g in union[q.intent] if g not in q.gold_doc_ids]
        extra.sort(key=lambda g: lang.get(g) != q.lang)
        gold = (*q.gold_doc_ids, *extra)
        cross = not any(lang.get(g) == q.lang for g in gold)
        out.append(q.model_copy(update={"gold_doc_ids": gold, "cross_lingual": cross}))
    return out


def build_dataset(name_or_path: str | Path = "meridian_bank") -> dict:
    """Merge ``source/*/`` into the published files; returns the manifest written."""
    root = dataset_dir(name_or_path)
    parts = sorted(p for p in (root / "source").iterdir() if p.is_dir())
    counts: dict[str, object] = {}
    for filename, (model, key) in _PARTS.items():
        records = []
        for part in parts:
            if (part / filename).is_file():
                records.extend(read_records(part / filename, model))
        records.sort(key=key)
        if model is KBQuestion:
            docs = [d for part in parts if (part / "documents.jsonl").is_file()
                    for d in read_records(part / "documents.jsonl", KBDocument)]
            records = _merge_intent_gold(records, docs)
        with (root / filename).open("w", encoding="utf-8") as out:
            for r in records:
                out.write(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n")
        counts[filename.removesuffix(".jsonl")] = len(records)
        counts[filename.removesuffix(".jsonl") + "_by_lang"] = dict(sorted(Counter(r.lang for r in records).items()))
    questions = read_records(root / "questions.jsonl", KBQuestion)
    documents = read_records(root / "documents.jsonl", KBDocument)
    manifest = {
        "name": root.name,
        "description": "Meridian Bank (fictional) bilingual customer-service help centre, authored by the project",
        "parts": [p.name for p in parts],
        "counts": {
            "documents": counts["documents"],
            "topics": len({d.topic for d in documents}),
            "questions": counts["questions"],
            "intents": len({q.intent for q in questions}),
            "cross_lingual_questions": sum(q.cross_lingual for q in questions),
            "paraphrase_groups": counts["paraphrases"],
            "near_misses": counts["near_misses"],
            "conversations": counts["conversations"],
            "conversation_turns": sum(len(c.turns) for c in read_records(root / "conversations.jsonl", Conversation)),
            "personalized_questions": counts["personalized"],
        },
        "by_lang": {k.removesuffix("_by_lang"): v for k, v in counts.items() if k.endswith("_by_lang")},
        "content_hash": content_hash(root),
        "license": "CC-BY-4.0 (authored by the RAG Serving Workbench project)",
    }
    (root / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """Build the published files of a dataset and print its manifest."""
    args = list(sys.argv[1:] if argv is None else argv)
    manifest = build_dataset(args[0] if args else "meridian_bank")
    print(json.dumps(manifest, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
