"""One entry point for every dataset format, by a short spec string.

``meridian_bank`` (a project dataset name), ``beir:FOLDER[@split]``, ``squad:FILE``, ``jsonl:QUESTIONS[,DOCUMENTS]``,
``csv:QUESTIONS[,DOCUMENTS]``, ``zaragoza-faq[:lang]``, ``wiki-summaries[:limit]``::

    load_eval_dataset("beir:../shared/data/scifact@test")
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import DatasetError
from workbench.evaluation.data.records import EvalDataset

__all__ = ["load_eval_dataset"]


def load_eval_dataset(spec: str | Path) -> EvalDataset:
    """Load a dataset from a spec string (see the module docstring); a bare path is guessed by its suffix."""
    text = str(spec)
    kind, _, arg = text.partition(":") if ":" in text else ("", "", text)
    if kind == "beir":
        folder, _, split = arg.partition("@")
        return EvalDataset.from_beir(folder, split=split or "test")
    if kind == "squad":
        return EvalDataset.from_squad(arg)
    if kind in ("jsonl", "csv"):
        q, _, d = arg.partition(",")
        loader = EvalDataset.from_jsonl if kind == "jsonl" else EvalDataset.from_csv
        return loader(q, d or None)
    if kind == "zaragoza-faq" or text == "zaragoza-faq":
        from workbench.evaluation.data.packaged import load_zaragoza_faq

        return load_zaragoza_faq(lang=arg if kind else "en")
    if kind == "wiki-summaries" or text == "wiki-summaries":
        from workbench.evaluation.data.packaged import load_wiki_summaries

        return load_wiki_summaries(limit=int(arg) if kind and arg else None)
    if kind:
        raise DatasetError(f"unknown dataset kind {kind!r}; use beir:, squad:, jsonl:, csv:, zaragoza-faq, "
                           "wiki-summaries, or a project dataset name")
    path = Path(text)
    if path.is_dir() and (path / "corpus.jsonl").is_file():
        return EvalDataset.from_beir(path)
    if path.suffix == ".json":
        return EvalDataset.from_squad(path)
    if path.suffix == ".jsonl":
        return EvalDataset.from_jsonl(path)
    if path.suffix == ".csv":
        return EvalDataset.from_csv(path)
    return EvalDataset.from_workbench(text)
