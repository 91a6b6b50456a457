"""Finding and reading the project's own datasets (``datasets/<name>/``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from workbench.datasets.schema import (
    Conversation,
    KBDocument,
    KBQuestion,
    NearMissPair,
    ParaphraseGroup,
    PersonalizedQuestion,
)
from workbench.errors import DatasetError

__all__ = [
    "BankDataset",
    "DATASETS_DIR",
    "dataset_dir",
    "load_dataset",
    "read_jsonl",
    "read_records",
]

#: The repository's ``datasets/`` folder.
DATASETS_DIR = Path(__file__).resolve().parent.parent.parent / "datasets"
FILES = ("documents.jsonl", "questions.jsonl", "paraphrases.jsonl", "near_misses.jsonl", "conversations.jsonl",
         "personalized.jsonl")

R = TypeVar("R", bound=BaseModel)


def dataset_dir(name_or_path: str | Path) -> Path:
    """The folder of a dataset given by name (under ``datasets/``) or by path."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    candidate = DATASETS_DIR / str(name_or_path)
    if candidate.is_dir():
        return candidate
    names = sorted(p.name for p in DATASETS_DIR.iterdir() if (p / "documents.jsonl").is_file()) \
        if DATASETS_DIR.is_dir() else []
    raise DatasetError(f"no dataset {str(name_or_path)!r}; known datasets: {', '.join(names) or 'none'}")


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; a bad line raises :class:`DatasetError` naming it."""
    p = Path(path)
    try:
        handle = p.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror}", path=str(p)) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"not valid JSON: {exc.msg} at column {exc.colno}", path=str(p),
                                   line=number) from None
            if not isinstance(obj, dict):
                raise DatasetError(f"expected a JSON object, got {type(obj).__name__}", path=str(p), line=number)
            yield number, obj


def read_records(path: str | Path, model: type[R]) -> list[R]:
    """Validated records of ``model`` from a JSONL file."""
    out = []
    for number, obj in read_jsonl(path):
        try:
            out.append(model.model_validate(obj))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            raise DatasetError(err["msg"], path=str(path), line=number, field=field) from None
    return out


class BankDataset:
    """A project dataset: documents, questions, paraphrase groups, near-miss pairs, multi-turn conversations,
    personalized questions and its manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = root.name
        self.documents = read_records(root / "documents.jsonl", KBDocument)
        q = root / "questions.jsonl"
        self.questions = read_records(q, KBQuestion) if q.is_file() else []
        p = root / "paraphrases.jsonl"
        self.paraphrases = read_records(p, ParaphraseGroup) if p.is_file() else []
        n = root / "near_misses.jsonl"
        self.near_misses = read_records(n, NearMissPair) if n.is_file() else []
        c = root / "conversations.jsonl"
        self.conversations = read_records(c, Conversation) if c.is_file() else []
        pq = root / "personalized.jsonl"
        self.personalized = read_records(pq, PersonalizedQuestion) if pq.is_file() else []
        m = root / "manifest.json"
        self.manifest: dict[str, Any] = json.loads(m.read_text(encoding="utf-8")) if m.is_file() else {}
        self.doc_by_id = {d.id: d for d in self.documents}

    @property
    def content_hash(self) -> str:
        """sha256 over the dataset's files (what the manifest records)."""
        return content_hash(self.root)

    def __repr__(self) -> str:
        return (f"BankDataset({self.name!r}, documents={len(self.documents)}, questions={len(self.questions)}, "
                f"paraphrase_groups={len(self.paraphrases)}, near_misses={len(self.near_misses)}, "
                f"conversations={len(self.conversations)}, personalized={len(self.personalized)})")


def content_hash(root: Path) -> str:
    """sha256 over the dataset's data files, in a fixed order."""
    digest = hashlib.sha256()
    for name in FILES:
        path = root / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=8)
def _load(root: str, mtime: float) -> BankDataset:
    return BankDataset(Path(root))


def load_dataset(name_or_path: str | Path = "meridian_bank") -> BankDataset:
    """Load a project dataset by name or path (cached until its files change)."""
    root = dataset_dir(name_or_path)
    if not (root / "documents.jsonl").is_file():
        raise DatasetError("no documents.jsonl; build it with `python -m workbench.datasets.build`", path=str(root))
    mtime = max((root / f).stat().st_mtime for f in FILES if (root / f).exists())
    return _load(str(root.resolve()), mtime)
