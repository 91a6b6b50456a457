"""The dataset's personalized labels checked against the bundled tools: valid as shipped, wrong labels caught."""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.datasets import DATASETS_DIR, load_dataset
from workbench.evaluation.personalized import dataset_problems, tool_answer_problems


def test_the_shipped_labels_match_the_tools() -> None:
    ds = load_dataset("meridian_bank")
    assert len(ds.personalized) >= 30
    assert tool_answer_problems(ds) == []


def test_a_wrong_expected_value_and_an_unknown_tool_are_caught(tmp_path: Path) -> None:
    copy = tmp_path / "mb"
    shutil.copytree(DATASETS_DIR / "meridian_bank", copy)
    path = copy / "personalized.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert '"credit_limit": 85000' in lines[0] and '"tool": "get_credit_limit"' in lines[1]
    lines[0] = lines[0].replace('"credit_limit": 85000', '"credit_limit": 85001', 1)
    lines[1] = lines[1].replace('"tool": "get_credit_limit"', '"tool": "no_such_tool"', 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ds = load_dataset(copy)
    problems = tool_answer_problems(ds)
    assert any("dialogue-pq-en-001" in p and "85001" in p and "85000" in p for p in problems)
    assert any("dialogue-pq-en-002" in p and "no_such_tool" in p for p in problems)
    assert len(problems) == 2
    everything = dataset_problems(ds)
    assert set(problems) <= set(everything) and any("stale" in p for p in everything)  # the data rules too
