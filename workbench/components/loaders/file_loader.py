"""Load documents from files: ``.txt``, ``.md``, ``.jsonl``, ``.csv``, or folders of them."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from workbench.datasets.jsonl import read_jsonl
from workbench.errors import DatasetError
from workbench.text import detect_language

__all__ = ["FileLoader", "SUFFIXES"]

SUFFIXES = (".txt", ".md", ".jsonl", ".csv")
_TEXT_FIELDS = ("text", "content", "body", "answer")


def _doc(text: str, *, doc_id: str | None, title: str, source: str, extra: dict[str, Any]) -> Document:
    meta = {"title": title, "source": source, "lang": extra.pop("lang", None) or detect_language(text), **extra}
    meta["doc_id"] = doc_id or hashlib.sha256(f"{source}\n{text}".encode()).hexdigest()[:16]
    return Document(id=meta["doc_id"], content=text, meta=meta)


def _load_text(path: Path) -> list[Document]:
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        return []
    title = path.stem
    if path.suffix == ".md":
        for line in text.splitlines():
            if line.startswith("#"):
                title = line.lstrip("#").strip() or title
                break
    return [_doc(text, doc_id=None, title=title, source=str(path), extra={})]


def _record_to_doc(obj: dict[str, Any], path: Path, line: int) -> Document:
    field = next((f for f in _TEXT_FIELDS if isinstance(obj.get(f), str) and obj[f].strip()), None)
    if field is None:
        raise DatasetError(f"no text: one of {', '.join(_TEXT_FIELDS)} must be a non-empty string", path=str(path), line=line,
                           field="text")
    extra = {k: v for k, v in obj.items() if k not in (field, "id", "_id", "title") and v not in (None, "")}
    doc_id = obj.get("id") or obj.get("_id")
    return _doc(obj[field].strip(), doc_id=str(doc_id) if doc_id else None, title=str(obj.get("title") or ""),
                source=str(path), extra=extra)


def _load_jsonl(path: Path) -> list[Document]:
    return [_record_to_doc(obj, path, line) for line, obj in read_jsonl(path)]


def _load_csv(path: Path) -> list[Document]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not any(f in reader.fieldnames for f in _TEXT_FIELDS):
            raise DatasetError(f"the header needs a text column ({', '.join(_TEXT_FIELDS)}); found {reader.fieldnames}",
                               path=str(path), line=1)
        return [_record_to_doc(dict(row), path, number) for number, row in enumerate(reader, start=2)]


@component
class FileLoader:
    """Reads files (or folders of them) into Haystack Documents.

    ``.txt``/``.md``: one document per file (a Markdown title from its first heading); ``.jsonl``: one
    per line with a ``text`` (or ``content``) field and optional ``id``, ``title``, ``lang``, other fields
    as metadata; ``.csv``: the same with a header row.

    ```python
    docs = FileLoader().run(paths=["faq.md", "kb/"])["documents"]
    ```
    """

    def __init__(self, *, tenant: str = "default") -> None:
        self.tenant = tenant

    @component.output_types(documents=list[Document])
    def run(self, paths: list[str]) -> dict[str, list[Document]]:
        """Load every supported file under ``paths``; a malformed file raises :class:`DatasetError`."""
        files: list[Path] = []
        for raw in paths:
            p = Path(raw).expanduser()
            if p.is_dir():
                files.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in SUFFIXES and f.is_file()))
            elif p.is_file():
                if p.suffix.lower() not in SUFFIXES:
                    raise DatasetError(f"unsupported file type {p.suffix!r}; supported: {', '.join(SUFFIXES)}", path=str(p))
                files.append(p)
            else:
                raise DatasetError("no such file or folder", path=str(p))
        docs: list[Document] = []
        for f in files:
            suffix = f.suffix.lower()
            loaded = _load_jsonl(f) if suffix == ".jsonl" else _load_csv(f) if suffix == ".csv" else _load_text(f)
            docs.extend(loaded)
        for d in docs:
            d.meta.setdefault("tenant", self.tenant)
        return {"documents": docs}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, tenant=self.tenant)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileLoader:
        return default_from_dict(cls, data)
