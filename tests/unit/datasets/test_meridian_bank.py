import shutil
from pathlib import Path

from workbench.datasets import DATASETS_DIR, content_hash, load_dataset, validate_dataset
from workbench.datasets.build import build_dataset
from workbench.evaluation.personalized import dataset_problems


def test_dataset_passes_its_validator() -> None:
    ds = load_dataset("meridian_bank")
    assert validate_dataset(ds) == [] and dataset_problems(ds) == []  # data rules; data + tool rules
    assert len(ds.documents) >= 120 and len(ds.questions) >= 250
    assert {d.lang for d in ds.documents} == {"en", "zh"}
    assert any(q.cross_lingual for q in ds.questions)


def test_published_files_are_what_the_build_produces(tmp_path: Path) -> None:
    copy = tmp_path / "meridian_bank"
    shutil.copytree(DATASETS_DIR / "meridian_bank", copy)
    manifest = build_dataset(copy)
    assert manifest["content_hash"] == load_dataset("meridian_bank").manifest["content_hash"]
    assert content_hash(copy) == content_hash(DATASETS_DIR / "meridian_bank")


def test_validator_catches_a_broken_answer(tmp_path: Path) -> None:
    copy = tmp_path / "mb"
    shutil.copytree(DATASETS_DIR / "meridian_bank", copy)
    lines = (copy / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace('"answers": ["', '"answers": ["NOT IN ANY DOCUMENT ', 1)
    (copy / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = validate_dataset(load_dataset(copy))
    assert any("does not occur" in p for p in problems)
    assert any("stale" in p for p in problems), "the manifest hash no longer matches"


def test_validator_catches_missing_gold_documents_in_questions_and_conversations(tmp_path: Path) -> None:
    copy = tmp_path / "mb"
    shutil.copytree(DATASETS_DIR / "meridian_bank", copy)
    for name, old in (("questions.jsonl", '"gold_doc_ids": ["'), ("conversations.jsonl", '"gold_doc_ids": ["')):
        lines = (copy / name).read_text(encoding="utf-8").splitlines()
        assert old in lines[0]
        lines[0] = lines[0].replace(old, old + "no-such-doc-", 1)
        (copy / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = validate_dataset(load_dataset(copy))
    missing = [p for p in problems if "do not exist" in p]
    assert len(missing) == 2
    assert missing[0].startswith("question ") and missing[1].startswith("conversation ")
    assert not any("answers[0]" in p and "no-such-doc" in p for p in problems)  # no answer check without its document
