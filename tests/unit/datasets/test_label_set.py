"""The hand-labelled judge-validation set (issue 12, item 5): every item labelled by a written rule,
documents that resolve, enough items in each language, no duplicate (question, system answer) pairs."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

BANK = Path(__file__).resolve().parents[3] / "datasets" / "meridian_bank"
LABELS = BANK / "labels"
LABEL_VALUES = ("correct", "partly", "wrong")
RULE_ID = re.compile(r"\b([GATCDYMLP]\d{1,2})\b")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _rule_ids() -> set[str]:
    """The rule ids RULES.md defines (each rule is a bold ``- **X1 ...`` bullet)."""
    text = (LABELS / "RULES.md").read_text(encoding="utf-8")
    return set(re.findall(r"^- \*\*([GATCDYMLP]\d{1,2})\b", text, flags=re.MULTILINE))


def _questions() -> dict[str, dict[str, Any]]:
    rows = _jsonl(BANK / "questions.jsonl")
    unans = BANK / "source" / "unanswerable" / "unanswerable.jsonl"
    rows += [{**u, "unanswerable": True} for u in (_jsonl(unans) if unans.exists() else [])]
    return {r["id"]: r for r in rows}


def problems(items: list[dict[str, Any]], rules: set[str], doc_ids: set[str],
             questions: dict[str, dict[str, Any]]) -> list[str]:
    """Everything wrong with a label set, one message per defect (empty when it is valid)."""
    out: list[str] = []
    pairs: Counter[tuple[str, str]] = Counter()
    ids: Counter[str] = Counter()
    for it in items:
        iid = it.get("id", "?")
        ids[iid] += 1
        if it.get("label") not in LABEL_VALUES:
            out.append(f"{iid}: label {it.get('label')!r}")
        if it.get("lang") not in ("en", "zh"):
            out.append(f"{iid}: lang {it.get('lang')!r}")
        for key in ("question", "gold_answer", "preset", "reason"):
            if not str(it.get(key) or "").strip():
                out.append(f"{iid}: empty {key}")
        if not isinstance(it.get("system_answer"), str):
            out.append(f"{iid}: system_answer missing")
        elif not it["system_answer"].strip() and (it.get("label") != "wrong" or "G8" not in (it.get("rule") or [])):
            out.append(f"{iid}: an empty system answer is wrong by G8")
        cited = set(RULE_ID.findall(it.get("reason") or ""))
        if not cited:
            out.append(f"{iid}: reason cites no rule")
        listed = set(it.get("rule") or [])
        if not listed or not listed <= rules or not cited <= rules:
            out.append(f"{iid}: rule ids {sorted(listed | cited)} not all in RULES.md")
        if it.get("label") == "partly" and not str(it.get("note") or "").strip():
            out.append(f"{iid}: a partly label without a note")
        q = questions.get(it.get("question_id", ""))
        if q is None or q["question"] != it.get("question") or q["lang"] != it.get("lang"):
            out.append(f"{iid}: question_id does not match the dataset")
        elif bool(q.get("unanswerable")) != bool(it.get("unanswerable")):
            out.append(f"{iid}: unanswerable flag differs from the dataset")
        doc = it.get("doc_id")
        if doc is None:
            if not (q and q.get("unanswerable") and not q.get("near_doc_ids")):
                out.append(f"{iid}: no doc_id (only unanswerable questions without a near document have none)")
        elif doc not in doc_ids:
            out.append(f"{iid}: doc_id {doc!r} not in documents.jsonl")
        elif q is not None and not q.get("unanswerable") and doc not in q.get("gold_doc_ids", []):
            out.append(f"{iid}: doc_id {doc!r} is not a gold document of {q['id']}")
        pairs[(it.get("question", ""), (it.get("system_answer") or "").strip())] += 1
    out += [f"duplicate (question, system_answer): {p}" for p, n in pairs.items() if n > 1]
    out += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    return out


@pytest.fixture(scope="module")
def label_set() -> list[dict[str, Any]]:
    return _jsonl(LABELS / "judge_validation.jsonl")


@pytest.fixture(scope="module")
def context() -> tuple[set[str], set[str], dict[str, dict[str, Any]]]:
    docs = {d["id"] for d in _jsonl(BANK / "documents.jsonl")}
    return _rule_ids(), docs, _questions()


def test_rules_file_defines_the_rule_families() -> None:
    rules = _rule_ids()
    assert {r[0] for r in rules} == set("GATCDYMLP")
    assert {"G1", "G7", "A2", "Y2", "M2", "L2"} <= rules


def test_every_item_is_valid(label_set: list[dict[str, Any]], context: Any) -> None:
    found = problems(label_set, *context)
    assert found == [], found[:20]


def test_size_and_languages(label_set: list[dict[str, Any]]) -> None:
    langs = Counter(it["lang"] for it in label_set)
    assert len(label_set) >= 300
    assert langs["en"] >= 130 and langs["zh"] >= 130, langs


def test_labels_are_mixed_per_language_and_several_systems(label_set: list[dict[str, Any]]) -> None:
    for lang in ("en", "zh"):
        counts = Counter(it["label"] for it in label_set if it["lang"] == lang)
        total = sum(counts.values())
        assert all(counts[v] >= 0.1 * total for v in ("correct", "wrong")), (lang, counts)
        assert counts["partly"] >= 10, (lang, counts)
    assert len({it["preset"] for it in label_set}) >= 3


def test_validator_catches_broken_items(label_set: list[dict[str, Any]], context: Any) -> None:
    broken = copy.deepcopy(label_set[:3])
    broken[0]["label"] = "mostly"
    broken[1]["reason"] = "looks fine"
    broken[1]["rule"] = ["Z9"]
    broken[2]["doc_id"] = "no-such-doc"
    broken[2]["system_answer"] = ""
    broken[2]["label"] = "correct"
    broken.append(copy.deepcopy(label_set[3]))
    broken.append(copy.deepcopy(label_set[3]))
    found = problems(broken, *context)
    assert any("label 'mostly'" in p for p in found)
    assert any("cites no rule" in p for p in found)
    assert any("not all in RULES.md" in p for p in found)
    assert any("not in documents.jsonl" in p for p in found)
    assert any("empty system answer" in p for p in found)
    assert any(p.startswith("duplicate (question") for p in found)
