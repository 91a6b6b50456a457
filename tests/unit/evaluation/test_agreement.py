"""Agreement statistics (accuracy, Cohen's kappa, bootstrap intervals) and the judge-validation set loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from workbench.errors import DatasetError
from workbench.evaluation.agreement import agreement, agreement_table, binary, cohen_kappa
from workbench.evaluation.labels import label_frame, load_label_set

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "evaluation"


def test_kappa_matches_scikit_learn_on_random_labels() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = list(rng.choice(["correct", "partly", "wrong"], size=50))
        b = [x if rng.random() < 0.6 else str(rng.choice(["correct", "partly", "wrong"])) for x in a]
        assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert cohen_kappa(["y", "y"], ["y", "y"]) == 1.0
    with pytest.raises(ValueError):
        cohen_kappa(["y"], ["y", "n"])


def test_agreement_counts_missing_verdicts_and_brackets_the_estimate() -> None:
    labels = ["correct"] * 30 + ["wrong"] * 30
    verdicts: list[str | None] = ["correct"] * 27 + ["wrong"] * 3 + ["wrong"] * 25 + ["correct"] * 3 + [None, None]
    got = agreement(labels, verdicts, resamples=500, seed=1)
    assert got.n == 58 and got.missing == 2
    assert got.accuracy == pytest.approx(52 / 58)
    assert got.accuracy_low <= got.accuracy <= got.accuracy_high
    assert got.kappa_low <= got.kappa <= got.kappa_high < 1.0
    assert agreement(labels, [None] * 60).n == 0


def test_agreement_table_per_language_on_both_scales() -> None:
    frame = pd.DataFrame({"lang": ["en", "en", "zh", "zh"], "label": ["correct", "partly", "wrong", "correct"],
                          "m": ["correct", "wrong", "wrong", "partly"]})
    binary_table = agreement_table(frame, ["m"], resamples=100)
    assert list(binary_table["group"]) == ["all", "en", "zh"]
    assert binary_table.set_index("group").loc["en", "accuracy"] == 1.0      # partly and wrong both "not-correct"
    three = agreement_table(frame, ["m"], scale="three", resamples=100).set_index("group")
    assert three.loc["en", "accuracy"] == 0.5 and three.loc["all", "accuracy"] == 0.5
    assert binary("partly") == "not-correct" and binary(None) is None


def test_label_set_reads_both_spellings_and_names_bad_lines(tmp_path: Path) -> None:
    items = load_label_set(FIX / "judge_labels.jsonl")
    assert items[0].references == ("4 free visits per card year",) and items[0].rules == ("C1",)
    assert label_frame(items).shape[0] == 20
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "a", "question": "q", "gold_answer": "RMB 600", "system_answer": "600",
                                 "label": "correct", "doc_id": "d1", "note": "why"}) + "\n", encoding="utf-8")
    (item,) = load_label_set(other)
    assert item.references == ("RMB 600",) and item.doc_ids == ("d1",) and item.reason == "why"
    other.write_text(other.read_text(encoding="utf-8") + json.dumps({"id": "b", "question": "q",
                     "system_answer": "x", "label": "maybe"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_label_set(other)
    assert err.value.line == 2 and err.value.field == "label"
    with pytest.raises(DatasetError):
        load_label_set(tmp_path / "missing.jsonl")
