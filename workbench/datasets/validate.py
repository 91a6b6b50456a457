"""The dataset validator: every rule of ``AUTHORING.md`` marked [checked].

``python -m workbench.datasets.validate [NAME]`` prints the problems and exits 1 when there are any.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Sequence

from workbench.datasets.catalog import BankDataset, content_hash, load_dataset
from workbench.datasets.schema import INTENT_RE

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
    """All rule violations of ``ds`` as readable lines (empty when the dataset is valid)."""
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
        missing = [g for g in q.gold_doc_ids if g not in docs]
        if missing:
            problems.append(f"question {q.id}: gold documents {missing} do not exist")
            continue
        first = docs[q.gold_doc_ids[0]]
        if q.answers[0] not in first.text:
            problems.append(f"question {q.id}: answers[0] {q.answers[0]!r} does not occur in {first.id}")
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
            missing = [g for g in t.gold_doc_ids if g not in docs]
            if missing:
                problems.append(f"{where}: gold documents {missing} do not exist")
                continue
            if t.answers[0] not in docs[t.gold_doc_ids[0]].text:
                problems.append(f"{where}: answers[0] {t.answers[0]!r} does not occur in {t.gold_doc_ids[0]}")
            if n > 1 and not t.standalone:
                problems.append(f"{where}: a follow-up needs its reference 'standalone' question")
    if ds.conversations and {c.lang for c in ds.conversations} != {"en", "zh"}:
        problems.append("conversations: both languages expected")
    return problems


def _personalized_problems(ds: BankDataset) -> list[str]:
    """Tool exists, arguments validate, and ``expected`` matches the tool's output on the seeded fixture."""
    if not ds.personalized:
        return []
    import os
    import tempfile
    from pathlib import Path

    from workbench.tools.bank_fixture import build_bank_fixture
    from workbench.tools.errors import WorkbenchError
    from workbench.tools.registry import ToolRegistry

    problems: list[str] = []
    ids = Counter(p.id for p in ds.personalized)
    problems += [f"duplicate personalized question id {i}" for i, n in ids.items() if n > 1]
    registry = ToolRegistry.from_folder(check_interval_s=float("inf"))
    previous = os.environ.get("WB_BANK_DB")
    with tempfile.TemporaryDirectory(prefix="wb-validate-") as tmp:
        os.environ["WB_BANK_DB"] = str(build_bank_fixture(Path(tmp) / "bank.sqlite3"))
        try:
            for p in ds.personalized:
                where = f"personalized {p.id}"
                if p.tool not in registry.names():
                    problems.append(f"{where}: tool {p.tool!r} is not a bundled plugin")
                    continue
                spec = registry.get(p.tool)
                try:
                    args = spec.validate(p.arguments)
                    context = {"user": p.user, "tenant": p.tenant}
                    output = spec.fn(**args, **{k: context[k] for k in spec.context})
                except WorkbenchError as exc:
                    problems.append(f"{where}: the tool call fails on the fixture: {exc}")
                    continue
                for key, value in p.expected.items():
                    if output.get(key) != value:
                        problems.append(f"{where}: expected {key}={value!r}, the fixture gives {output.get(key)!r}")
                template = spec.answer.get(p.lang, "")
                rendered = template.format(**output) if template else ""
                for ans in p.answers:
                    if ans not in rendered:
                        problems.append(f"{where}: answer {ans!r} is not in the tool's rendered answer {rendered!r}")
        finally:
            if previous is None:
                os.environ.pop("WB_BANK_DB", None)
            else:
                os.environ["WB_BANK_DB"] = previous
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Validate a dataset and print its problems."""
    args = list(sys.argv[1:] if argv is None else argv)
    ds = load_dataset(args[0] if args else "meridian_bank")
    problems = validate_dataset(ds)
    for line in problems:
        print(line)
    print(f"{ds!r}: {'OK' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
