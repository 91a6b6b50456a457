"""A BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) as an :class:`EvalDataset`.

Only queries that have judgments in the split are kept (as BEIR's ``GenericDataLoader`` does); the
qrels keep their graded levels (nDCG uses them as gains); a level ≤ 0 is not relevant::

    ds = load_beir("../shared/data/scifact", split="test")   # 5,183 documents, 300 questions
"""

from __future__ import annotations

import csv
from pathlib import Path

from workbench.datasets.jsonl import read_jsonl
from workbench.datasets.records import EvalDataset, EvalDocument, EvalQuestion
from workbench.errors import DatasetError
from workbench.text import detect_language

__all__ = ["load_beir", "read_qrels_tsv"]


def _text(obj: dict, key: str, path: Path, line: int, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and key != "title" and not value.strip()):
        got = "missing" if value is None else f"{type(value).__name__} {str(value)[:30]!r}"
        raise DatasetError(f"expected a non-empty string, got {got}", path=str(path), line=line, field=key)
    return value


def read_qrels_tsv(path: str | Path) -> dict[str, dict[str, int]]:
    """``query-id  corpus-id  score`` (tab-separated, a header row, CRLF or LF) → {query: {doc: level}}."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError("no qrels file (expected qrels/<split>.tsv)", path=str(p))
    qrels: dict[str, dict[str, int]] = {}
    with p.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        for number, row in enumerate(rows, start=1):
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            if number == 1 and cells and not cells[-1].lstrip("-").isdigit():
                continue  # the header row
            if len(cells) != 3:
                raise DatasetError(f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(cells)}",
                                   path=str(p), line=number, field="score" if len(cells) == 2 else None)
            qid, did, score = cells
            try:
                level = int(score)
            except ValueError:
                raise DatasetError(f"score must be an integer, got {score!r}", path=str(p), line=number,
                                   field="score") from None
            if not qid or not did:
                raise DatasetError("empty id", path=str(p), line=number, field="query-id" if not qid else "corpus-id")
            qrels.setdefault(qid, {})[did] = level
    return qrels


def load_beir(folder: str | Path, *, split: str = "test", name: str | None = None) -> EvalDataset:
    """Read a BEIR dataset folder; a judged query or document that is missing raises :class:`DatasetError`."""
    root = Path(folder)
    corpus_path, queries_path = root / "corpus.jsonl", root / "queries.jsonl"
    documents: list[EvalDocument] = []
    seen: set[str] = set()
    for line, obj in read_jsonl(corpus_path):
        did = obj.get("_id")
        if not isinstance(did, str | int) or str(did) == "":
            raise DatasetError("missing document id", path=str(corpus_path), line=line, field="_id")
        if str(did) in seen:
            raise DatasetError(f"duplicate document id {did!r}", path=str(corpus_path), line=line, field="_id")
        seen.add(str(did))
        documents.append(EvalDocument(str(did), _text(obj, "text", corpus_path, line),
                                      title=_text(obj, "title", corpus_path, line, required=False)))
    queries: dict[str, str] = {}
    for line, obj in read_jsonl(queries_path):
        qid = obj.get("_id")
        if not isinstance(qid, str | int) or str(qid) == "":
            raise DatasetError("missing query id", path=str(queries_path), line=line, field="_id")
        queries[str(qid)] = _text(obj, "text", queries_path, line)
    qrels_path = root / "qrels" / f"{split}.tsv"
    qrels = read_qrels_tsv(qrels_path)
    questions = []
    for qid, levels in qrels.items():
        if qid not in queries:
            raise DatasetError(f"query {qid!r} is judged but not in queries.jsonl", path=str(qrels_path),
                               field="query-id")
        missing = [d for d in levels if d not in seen]
        if missing:
            raise DatasetError(f"judged documents {missing[:3]} are not in corpus.jsonl", path=str(qrels_path),
                               field="corpus-id")
        gold = tuple(d for d, lvl in sorted(levels.items(), key=lambda kv: -kv[1]) if lvl > 0)
        questions.append(EvalQuestion(qid, queries[qid], gold_doc_ids=gold, lang=detect_language(queries[qid]),
                                      relevance=dict(levels)))
    return EvalDataset(name or root.name, documents, questions, source=str(root),
                       meta={"format": "beir", "split": split})
