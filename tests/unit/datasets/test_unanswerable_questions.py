"""The authored unanswerable questions (datasets/meridian_bank/source/unanswerable/, AUTHORING.md)."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from workbench.text import detect_language

DATA = Path(__file__).resolve().parents[3] / "datasets" / "meridian_bank"
SOURCE = DATA / "source" / "unanswerable" / "unanswerable.jsonl"
FIELDS = {"id", "lang", "question", "kind", "near_doc_ids", "note", "split"}


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return _records(SOURCE)


def test_enough_questions_in_both_languages_and_kinds(records: list[dict]) -> None:
    assert len(records) >= 100  # issue 12 asks for at least 80; the rest makes a tune/test split possible
    by = Counter((r["lang"], r["kind"]) for r in records)
    assert set(by) == {("en", "in_domain"), ("en", "off_topic"), ("zh", "in_domain"), ("zh", "off_topic")}
    assert all(n >= 20 for n in by.values()), by
    assert sum(r["kind"] == "in_domain" for r in records) > len(records) / 2


def test_records_are_well_formed(records: list[dict]) -> None:
    ids = Counter(r["id"] for r in records)
    assert not [i for i, n in ids.items() if n > 1]
    questions = Counter(r["question"] for r in records)
    assert not [q for q, n in questions.items() if n > 1]
    for r in records:
        assert set(r) == FIELDS, r["id"]
        assert re.fullmatch(rf"unanswerable-{r['lang']}-\d{{3}}", r["id"]), r["id"]
        assert detect_language(r["question"]) == r["lang"], r["id"]
        assert r["kind"] in {"in_domain", "off_topic"} and r["split"] in {"tune", "test"}
        assert r["note"].strip(), r["id"]
        if r["kind"] == "off_topic":
            assert r["near_doc_ids"] == [], r["id"]


def test_near_documents_exist(records: list[dict]) -> None:
    doc_ids = {d["id"] for d in _records(DATA / "documents.jsonl")}
    missing = {r["id"]: d for r in records for d in r["near_doc_ids"] if d not in doc_ids}
    assert not missing


def test_not_asked_as_answerable_questions(records: list[dict]) -> None:
    answerable = {q["question"].strip().lower() for q in _records(DATA / "questions.jsonl")}
    assert not [r["id"] for r in records if r["question"].strip().lower() in answerable]


def test_split_is_balanced_within_each_stratum(records: list[dict]) -> None:
    for stratum in {(r["lang"], r["kind"]) for r in records}:
        splits = Counter(r["split"] for r in records if (r["lang"], r["kind"]) == stratum)
        assert abs(splits["tune"] - splits["test"]) <= 1, (stratum, splits)
