"""load_squad: linear in the file size (timed against json.loads on the same generated file, as a ratio),
errors that still point to the question, and question languages that come from the question or the dataset."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.datasets import load_squad
from workbench.datasets.squad import question_language
from workbench.errors import DatasetError


def _squad_text(articles: int, *, broken_last: bool = False) -> str:
    """A SQuAD file written the way the official files are (one article per line), with 3 questions per paragraph."""
    lines = ['{"version": "1.1", "data": [']
    for a in range(articles):
        qas = []
        for j in range(3):
            qa = {"id": f"q-{a}-{j}", "question": f"What is fact number {j} of article {a}?",
                  "answers": [{"text": f"value {a}.{j}", "answer_start": 10}]}
            if broken_last and a == articles - 1 and j == 2:
                del qa["question"]
            qas.append(qa)
        para = {"id": f"p-{a}", "context": f"Article {a} says: " + " ".join(f"fact {j} is value {a}.{j}." for j in range(3))
                * 4, "qas": qas}
        sep = "," if a < articles - 1 else ""
        lines.append(json.dumps({"title": f"Article {a}", "paragraphs": [para]}, ensure_ascii=False) + sep)
    lines.append("]}")
    return "\n".join(lines)


def _best_of(runs: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - t0)
    return best


def test_load_squad_is_linear_relative_to_json_loads(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    text = _squad_text(4000)                       # 12,000 questions, ~2.5 MB
    path.write_text(text, encoding="utf-8")
    parse = _best_of(3, lambda: json.loads(path.read_text(encoding="utf-8")))
    load = _best_of(3, lambda: load_squad(path))
    # the per-question line scan took ~200x json.loads on a file like this; one pass stays within a small factor
    assert load / parse < 30, f"load_squad took {load / parse:.1f}x json.loads"
    assert len(load_squad(path).questions) == 12000


def test_an_error_at_the_end_of_a_large_file_names_the_question_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(_squad_text(2000, broken_last=True), encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_squad(path)
    assert err.value.field == "data[1999].paragraphs[0].qas[2].question"
    assert err.value.line == 2001                   # line 1 is the header, article a is on line a + 2
    assert f"{path}:2001:" in str(err.value)


def test_question_language_comes_from_the_question_or_the_dataset(tmp_path: Path) -> None:
    doc = {"title": "China", "paragraphs": [{"id": "p", "context": "China (中国, Zhōngguó) is a country in East Asia.",
                                             "qas": [{"id": "en-alias", "question": "What is China called in Chinese?",
                                                      "answers": [{"text": "中国", "answer_start": 7},
                                                                  {"text": "Zhōngguó", "answer_start": 11}]}]}]}
    ja = {"title": "日本", "paragraphs": [{"id": "pj", "context": "日本の首都は東京です。",
                                          "qas": [{"id": "ja-1", "question": "日本の首都はどこですか",
                                                   "answers": [{"text": "東京", "answer_start": 6}]}]}]}
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"version": "1.1", "data": [doc, ja]}, ensure_ascii=False), encoding="utf-8")
    ds = load_squad(path)
    assert {q.id: q.lang for q in ds.questions} == {"en-alias": "en", "ja-1": "ja"}
    assert {q.lang for q in load_squad(path, lang="en").questions} == {"en"}
    assert question_language("金卡年费多少") == "zh" and question_language("gold card fee") == "en"
