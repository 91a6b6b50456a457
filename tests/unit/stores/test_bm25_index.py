from pathlib import Path

import pytest
from haystack import Document

from workbench.errors import IndexNotBuiltError
from workbench.stores import BM25Index

DOCS = [
    Document(id="en-gold", content="Gold Card annual fee: RMB 600 per year.", meta={"tenant": "a"}),
    Document(id="en-plat", content="Platinum Card annual fee: RMB 2,000 per year. Lounge access.", meta={"tenant": "a"}),
    Document(id="zh-gold", content="金卡主卡年费600元/年。", meta={"tenant": "a"}),
    Document(id="zh-loan", content="个人消费贷款年利率3.6%起。", meta={"tenant": "b"}),
]


def test_chinese_needs_segmentation() -> None:
    seg = BM25Index(tokenizer="auto")
    seg.write(DOCS)
    assert seg.search("金卡年费多少", top_k=1)[0].id == "zh-gold"
    naive = BM25Index(tokenizer="whitespace")
    naive.write(DOCS)
    assert naive.search("金卡年费多少", top_k=1) == [], "whitespace tokens never match an unsegmented Chinese query"


def test_english_ranking_and_filters() -> None:
    idx = BM25Index()
    idx.write(DOCS)
    assert idx.search("platinum lounge", top_k=2)[0].id == "en-plat"
    assert idx.search("贷款利率", filters={"tenant": "a"}) == []
    assert idx.search("贷款利率", filters={"tenant": "b"})[0].id == "zh-loan"


def test_save_load(tmp_path: Path) -> None:
    idx = BM25Index(tokenizer="bigram", k1=1.2, b=0.7)
    idx.write(DOCS)
    idx.save(tmp_path)
    again = BM25Index.load(tmp_path)
    assert (again.tokenizer, again.k1, again.b) == ("bigram", 1.2, 0.7)
    assert [d.id for d in again.search("金卡年费")] == [d.id for d in idx.search("金卡年费")]


def test_empty_index_errors() -> None:
    with pytest.raises(IndexNotBuiltError):
        BM25Index().search("x")
