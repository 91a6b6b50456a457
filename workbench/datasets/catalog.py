"""Finding a dataset: the project's own by name (``meridian_bank``), and one entry point for every format
by a short spec string.

Specs: a project dataset name, ``beir:FOLDER[@split]``, ``squad:FILE``, ``jsonl:QUESTIONS[,DOCUMENTS]``,
``csv:QUESTIONS[,DOCUMENTS]``, ``zaragoza-faq[:lang]``, ``wiki-summaries[:limit]``; a bare path is
guessed by its suffix::

    load_dataset("meridian_bank")                           # BankDataset: every part of our dataset
    load_eval_dataset("meridian_bank")                      # EvalDataset: documents + questions
    load_eval_dataset("beir:../shared/data/scifact@test")
    load_eval_dataset("squad:../shared/data/cmrc2018/cmrc2018_dev.json")
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from workbench.datasets.bank import FILES, BankDataset
from workbench.datasets.beir import load_beir
from workbench.datasets.jsonl import load_jsonl
from workbench.datasets.packaged import load_wiki_summaries, load_zaragoza_faq
from workbench.datasets.records import EvalDataset
from workbench.datasets.squad import load_squad
from workbench.datasets.tabular import load_csv
from workbench.errors import DatasetError

__all__ = ["DATASETS_DIR", "dataset_dir", "load_dataset", "load_eval_dataset", "load_workbench_dataset"]

#: Where the project's datasets live: this package's folder, one subfolder per dataset, shipped as package
#: data (in a source checkout ``meridian_bank`` is a link to the repository's ``datasets/meridian_bank``).
DATASETS_DIR = Path(__file__).resolve().parent


def dataset_dir(name_or_path: str | Path) -> Path:
    """The folder of a dataset given by name (under :data:`DATASETS_DIR`) or by path."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    candidate = DATASETS_DIR / str(name_or_path)
    if candidate.is_dir():
        return candidate
    names = sorted(p.name for p in DATASETS_DIR.iterdir() if (p / "documents.jsonl").is_file()) \
        if DATASETS_DIR.is_dir() else []
    raise DatasetError(f"no dataset {str(name_or_path)!r}; known datasets: {', '.join(names) or 'none'}")


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


def load_workbench_dataset(name: str | Path = "meridian_bank") -> EvalDataset:
    """A project dataset's documents and questions as an :class:`EvalDataset` (see
    :meth:`BankDataset.to_eval_dataset`)."""
    return load_dataset(name).to_eval_dataset()


def load_eval_dataset(spec: str | Path) -> EvalDataset:
    """Load a dataset from a spec string (see the module docstring); a bare path is guessed by its suffix."""
    text = str(spec)
    kind, _, arg = text.partition(":") if ":" in text else ("", "", text)
    if kind == "beir":
        folder, _, split = arg.partition("@")
        return load_beir(folder, split=split or "test")
    if kind == "squad":
        return load_squad(arg)
    if kind in ("jsonl", "csv"):
        q, _, d = arg.partition(",")
        loader = load_jsonl if kind == "jsonl" else load_csv
        return loader(q, d or None)
    if kind == "zaragoza-faq" or text == "zaragoza-faq":
        return load_zaragoza_faq(lang=arg if kind else "en")
    if kind == "wiki-summaries" or text == "wiki-summaries":
        return load_wiki_summaries(limit=int(arg) if kind and arg else None)
    if kind:
        raise DatasetError(f"unknown dataset kind {kind!r}; use beir:, squad:, jsonl:, csv:, zaragoza-faq, "
                           "wiki-summaries, or a project dataset name")
    path = Path(text)
    if path.is_dir() and (path / "corpus.jsonl").is_file():
        return load_beir(path)
    if path.suffix == ".json":
        return load_squad(path)
    if path.suffix == ".jsonl":
        return load_jsonl(path)
    if path.suffix == ".csv":
        return load_csv(path)
    return load_workbench_dataset(text)
