import json
from pathlib import Path

import pytest

from workbench.components import DatasetLoader, FileLoader, SentenceSplitter
from workbench.errors import DatasetError


def test_file_loader_formats(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Plain text about card fees.", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Transfers\nTransfers arrive within 2 hours.", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "x1", "title": "金卡", "text": "金卡年费600元。", "lang": "zh"},
                                                 ensure_ascii=False) + "\n\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text("id,title,content\nr1,Limits,Daily limit is RMB 20000\n", encoding="utf-8")
    (tmp_path / "ignored.bin").write_bytes(b"\x00")
    docs = FileLoader(tenant="bank-a").run(paths=[str(tmp_path)])["documents"]
    by_title = {d.meta["title"]: d for d in docs}
    assert set(by_title) == {"a", "Transfers", "金卡", "Limits"}
    assert by_title["金卡"].id == "x1" and by_title["金卡"].meta["lang"] == "zh"
    assert by_title["Limits"].content == "Daily limit is RMB 20000"
    assert all(d.meta["tenant"] == "bank-a" for d in docs)


def test_malformed_jsonl_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "kb.jsonl"
    f.write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"kb.jsonl:2: not valid JSON"):
        FileLoader().run(paths=[str(f)])


def test_missing_text_field_names_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "kb.jsonl"
    f.write_text('{"text": "ok"}\n{"title": "no body"}\n', encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        FileLoader().run(paths=[str(f)])
    assert info.value.line == 2 and info.value.field == "text"


def test_csv_without_text_column(tmp_path: Path) -> None:
    f = tmp_path / "kb.csv"
    f.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="text column"):
        FileLoader().run(paths=[str(f)])


def test_unsupported_and_missing_paths(tmp_path: Path) -> None:
    f = tmp_path / "kb.pdf"
    f.write_bytes(b"%PDF")
    with pytest.raises(DatasetError, match="unsupported file type"):
        FileLoader().run(paths=[str(f)])
    with pytest.raises(DatasetError, match="no such file"):
        FileLoader().run(paths=[str(tmp_path / "nope")])


def test_dataset_loader_filters_languages() -> None:
    zh = DatasetLoader("meridian_bank", languages=["zh"]).run()["documents"]
    assert zh and all(d.meta["lang"] == "zh" for d in zh)
    assert all(d.id == d.meta["doc_id"] for d in zh)


def test_splitter_keeps_sentences_whole_with_overlap() -> None:
    from haystack import Document

    text = " ".join(f"Sentence number {i} says something useful." for i in range(20))
    out = SentenceSplitter(max_chars=200, overlap_sentences=1).run(
        documents=[Document(id="d1", content=text, meta={"doc_id": "d1", "title": "T"})])["documents"]
    assert len(out) > 3
    bodies = [d.content.split("\n", 1)[1] for d in out]
    assert all(b.endswith(".") for b in bodies), "passages end on sentence boundaries"
    assert all(len(b) <= 200 + 45 for b in bodies)
    first_last = bodies[0].split(". ")[-1]
    assert bodies[1].startswith(first_last.rstrip(".")), "one sentence of overlap"
    assert [d.meta["passage"] for d in out] == list(range(len(out)))
    assert all(d.content.startswith("T\n") and d.id == f"d1#{d.meta['passage']}" for d in out)


def test_splitter_chinese() -> None:
    from haystack import Document

    text = "第一句话说明年费。" * 30
    out = SentenceSplitter(max_chars=100, overlap_sentences=0, prefix_title=False).run(
        documents=[Document(id="z", content=text)])["documents"]
    assert all(len(d.content) <= 100 for d in out) and "".join(d.content for d in out) == text


def test_splitter_validates() -> None:
    with pytest.raises(ValueError):
        SentenceSplitter(max_chars=10)
