"""The dataset validator: every rule of ``AUTHORING.md`` marked [checked] that the data alone decides.

The rules that need the bundled tools (a personalized question's tool call gives its expected values)
are checked by :mod:`workbench.evaluation.personalized`; ``workbench dataset validate`` runs both.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from workbench.datasets.bank import BankDataset, content_hash
from workbench.datasets.schema import INTENT_RE, KBDocument

__all__ = ["MIN_COUNTS", "validate_dataset"]

_CJK = re.compile(r"[\u3400-\u9fff]")
#: The dataset's required sizes (issue: at least 120 documents and 250 questions, both languages).
MIN_COUNTS = {"documents": 120, "questions": 250, "paraphrase_groups": 60, "near_misses": 80,
              "conversations": 20, "personalized": 30}


def _length_problem(lang: str, text: str) -> str | None:
    if lang == "en":
        words = len(text.split())
        return None if 80 <= words <= 400 else f"{words} words (80-400 expected)"
    chars = len(_CJK.findall(text))
    return None if 150 <= chars <= 800 else f"{chars} Chinese characters (150-800 expected)"


def validate_dataset(ds: BankDataset, *, min_counts: dict[str, int] | None = None) -> list[str]:
    """The data rules ``ds`` breaks, as readable lines (empty when it keeps them all)."""
    problems: list[str] = []
    docs = ds.doc_by_id
    if len(docs) != len(ds.documents):
        dup = [i for i, n in Counter(d.id for d in ds.documents).items() if n > 1]
        problems.append(f"duplicate document ids: {dup}")
    for d in ds.documents:
        if not d.id.endswith(f"-{d.lang}"):
            problems.append(f"document {d.id}: id must end in -{d.lang}")
        if (msg := _length_problem(d.lang, d.text)) is not None:
            problems.append(f"document {d.id}: {msg}")
    qids = Counter(q.id for q in ds.questions)
    problems += [f"duplicate question id {i}" for i, n in qids.items() if n > 1]
    intents = set()
    for q in ds.questions:
        intents.add(q.intent)
        if not INTENT_RE.match(q.intent):
            problems.append(f"question {q.id}: intent {q.intent!r} is not a dotted id like 'cards.gold.annual_fee'")
        problems += _gold_problems(f"question {q.id}", q.gold_doc_ids, q.answers, docs)
        if any(g not in docs for g in q.gold_doc_ids):
            continue
        for ans in q.answers[1:]:
            if not any(ans in docs[g].text for g in q.gold_doc_ids):
                problems.append(f"question {q.id}: answer {ans!r} occurs in none of its gold documents")
        has_own_lang = any(docs[g].lang == q.lang for g in q.gold_doc_ids)
        if q.cross_lingual == has_own_lang:
            problems.append(f"question {q.id}: cross_lingual={q.cross_lingual} but a gold document in {q.lang} "
                            f"{'exists' if has_own_lang else 'does not exist'}")
    for g in ds.paraphrases:
        if g.intent not in intents:
            problems.append(f"paraphrase group {g.intent}: intent not used by any question")
    nm_ids = Counter(p.id for p in ds.near_misses)
    problems += [f"duplicate near-miss id {i}" for i, n in nm_ids.items() if n > 1]
    for p in ds.near_misses:
        if p.intent_a == p.intent_b:
            problems.append(f"near miss {p.id}: both sides have intent {p.intent_a}")
        for side in (p.intent_a, p.intent_b):
            if side not in intents:
                problems.append(f"near miss {p.id}: intent {side!r} not used by any question")
    problems += _conversation_problems(ds)
    problems += _personalized_problems(ds)
    langs = {d.lang for d in ds.documents} | {q.lang for q in ds.questions}
    if langs != {"en", "zh"} and ds.documents:
        problems.append(f"both languages expected, found {sorted(langs)}")
    counts = {"documents": len(ds.documents), "questions": len(ds.questions),
              "paraphrase_groups": len(ds.paraphrases), "near_misses": len(ds.near_misses),
              "conversations": len(ds.conversations), "personalized": len(ds.personalized)}
    for key, minimum in (min_counts if min_counts is not None else MIN_COUNTS).items():
        if counts[key] < minimum:
            problems.append(f"{counts[key]} {key}, at least {minimum} expected")
    if ds.manifest:
        if ds.manifest.get("content_hash") != content_hash(ds.root):
            problems.append("manifest.json content_hash is stale: rebuild with `python -m workbench.datasets.build`")
        if ds.manifest.get("counts", {}).get("documents") != counts["documents"]:
            problems.append("manifest.json counts are stale")
    else:
        problems.append("no manifest.json: build with `python -m workbench.datasets.build`")
    return problems


def _gold_problems(where: str, gold_doc_ids: Sequence[str], answers: Sequence[str],
                   docs: Mapping[str, KBDocument]) -> list[str]:
    """Every gold document exists, and the first answer occurs verbatim in the first gold document."""
    missing = [g for g in gold_doc_ids if g not in docs]
    if missing:
        return [f"{where}: gold documents {missing} do not exist"]
    if answers[0] not in docs[gold_doc_ids[0]].text:
        return [f"{where}: answers[0] {answers[0]!r} does not occur in {gold_doc_ids[0]}"]
    return []


def _conversation_problems(ds: BankDataset) -> list[str]:
    problems: list[str] = []
    docs = ds.doc_by_id
    ids = Counter(c.id for c in ds.conversations)
    problems += [f"duplicate conversation id {i}" for i, n in ids.items() if n > 1]
    for c in ds.conversations:
        for n, t in enumerate(c.turns, start=1):
            where = f"conversation {c.id} turn {n}"
            if not INTENT_RE.match(t.intent):
                problems.append(f"{where}: intent {t.intent!r} is not a dotted id")
            problems += _gold_problems(where, t.gold_doc_ids, t.answers, docs)
            if any(g not in docs for g in t.gold_doc_ids):
                continue
            if n > 1 and not t.standalone:
                problems.append(f"{where}: a follow-up needs its reference 'standalone' question")
    if ds.conversations and {c.lang for c in ds.conversations} != {"en", "zh"}:
        problems.append("conversations: both languages expected")
    return problems


def _personalized_problems(ds: BankDataset) -> list[str]:
    """Unique ids. Whether each question's tool call gives its ``expected`` values needs the bundled tools:
    :func:`workbench.evaluation.personalized.tool_answer_problems` checks that."""
    ids = Counter(p.id for p in ds.personalized)
    return [f"duplicate personalized question id {i}" for i, n in ids.items() if n > 1]
