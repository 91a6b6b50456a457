"""Questions (and optionally documents) as CSV files with a header row.

```python
ds = load_csv("questions.csv", "documents.csv")
# questions.csv header: id,question,answers,gold_doc_ids,lang   (lists: "a|b" or a JSON list)
# documents.csv header: id,title,text
```
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from workbench.datasets.fields import dataset_from_records
from workbench.datasets.records import EvalDataset
from workbench.errors import DatasetError

__all__ = ["load_csv", "read_csv_rows"]


def read_csv_rows(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) for each data row; a row with the wrong number of cells raises :class:`DatasetError`."""
    p = Path(path)
    try:
        handle = p.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror}", path=str(p)) from None
    rows = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DatasetError("empty file: a header row is needed", path=str(p), line=1) from None
        except csv.Error as exc:
            raise DatasetError(f"not valid CSV: {exc}", path=str(p), line=1) from None
        header = [h.strip().lstrip("\ufeff") for h in header]
        try:
            for cells in reader:
                number = reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise DatasetError(f"{len(cells)} cells for {len(header)} columns ({', '.join(header)})",
                                       path=str(p), line=number, field=header[min(len(cells), len(header)) - 1])
                rows.append((number, dict(zip(header, cells, strict=True))))
        except csv.Error as exc:
            raise DatasetError(f"not valid CSV: {exc}", path=str(p), line=reader.line_num) from None
    return rows


def load_csv(questions: str | Path, documents: str | Path | None = None, *, name: str | None = None) -> EvalDataset:
    """Read the CSV files (field aliases as in :mod:`workbench.datasets.fields`)."""
    return dataset_from_records(questions, documents, read_csv_rows, fmt="csv", name=name, tabular=True)
