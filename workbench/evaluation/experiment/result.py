"""The outcome of one experiment: per-question rows, a summary and a manifest, saved in one folder.

```python
result = Experiment(cfg, ds).run()
result.rows[["question_id", "ndcg@10", "f1"]]
result.summary["by_language"]["zh"]["f1"]
ExperimentResult.load(result.path)          # the same, from disk
```
Folder layout: ``rows.jsonl`` (one JSON object per question), ``summary.json``, ``manifest.json`` (written
last: a folder without it is an interrupted run and is never read as a cache hit).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import DatasetError
from workbench.evaluation.experiment.summary import flat_summary

__all__ = ["ExperimentResult", "is_result_dir", "jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` with NaN as ``None`` and numpy scalars as Python numbers (strict JSON can hold it)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return jsonable(value.item())
    return value


def is_result_dir(path: str | Path) -> bool:
    """True when ``path`` holds a complete saved experiment."""
    p = Path(path)
    return (p / "manifest.json").is_file() and (p / "rows.jsonl").is_file() and (p / "summary.json").is_file()


@dataclass
class ExperimentResult:
    """Per-question ``rows`` (a DataFrame), ``summary`` (overall and by language), ``manifest``."""

    rows: pd.DataFrame
    summary: dict[str, Any]
    manifest: dict[str, Any]
    path: Path | None = None
    from_cache: bool = False

    @property
    def name(self) -> str:
        """The config's name (``fast``, ``default[retriever.mode=bm25]``...)."""
        return str(self.manifest.get("config_name") or self.manifest.get("config_hash"))

    @property
    def config_hash(self) -> str:
        """The hash of the config that ran."""
        return str(self.manifest.get("config_hash"))

    def summary_row(self) -> dict[str, Any]:
        """One flat dict: config name/hash, dataset, every overall number (+ headline numbers per language), and the
        warm-up question's ``cold_start_ms`` (NaN for a run without warm-up)."""
        return {"config": self.name, "config_hash": self.config_hash,
                "dataset": self.manifest.get("dataset", {}).get("name"),
                "simulated": bool(self.manifest.get("labels", {}).get("simulated", False)),
                **flat_summary(self.summary),
                "cold_start_ms": (self.summary.get("warmup") or {}).get("cold_start_ms", math.nan)}

    def save(self, path: str | Path) -> Path:
        """Write the folder (manifest last)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").unlink(missing_ok=True)
        with (folder / "rows.jsonl").open("w", encoding="utf-8") as out:
            for record in self.rows.to_dict(orient="records"):
                out.write(json.dumps(jsonable(record), ensure_ascii=False) + "\n")
        (folder / "summary.json").write_text(json.dumps(jsonable(self.summary), ensure_ascii=False, indent=2),
                                             encoding="utf-8")
        (folder / "manifest.json").write_text(json.dumps(jsonable(self.manifest), ensure_ascii=False, indent=2),
                                              encoding="utf-8")
        self.path = folder
        return folder

    @classmethod
    def load(cls, path: str | Path) -> ExperimentResult:
        """Read a folder written by :meth:`save`."""
        folder = Path(path)
        if not is_result_dir(folder):
            raise DatasetError("not a saved experiment (needs rows.jsonl, summary.json, manifest.json)",
                               path=str(folder))
        records = []
        with (folder / "rows.jsonl").open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise DatasetError(f"not valid JSON: {exc.msg}", path=str(folder / "rows.jsonl"),
                                           line=number) from None
        rows = pd.DataFrame(records)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return cls(rows, _nan(summary), manifest, folder, from_cache=True)


def _nan(obj: Any) -> Any:
    if obj is None:
        return math.nan
    if isinstance(obj, dict):
        return {k: (_nan(v) if isinstance(v, dict | type(None)) else v) for k, v in obj.items()}
    return obj
