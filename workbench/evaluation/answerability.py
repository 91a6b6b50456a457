"""The bank dataset's answerable and unanswerable questions, with the halves abstention gates are fit and
reported on.

Answerable: ``datasets/meridian_bank/questions.jsonl`` (``cross_lingual: true`` marks the 33 whose only
answer is an article in the other language). Unanswerable: ``source/unanswerable/unanswerable.jsonl``
(``kind``: ``in_domain`` or ``off_topic``; its ``split`` field is its half). The answerable questions are
split per language by a seeded shuffle (sorted by id, even positions ``tune``, odd ``test``). Gates are fit
on ``tune`` (``bench/bench_answers.py --calibrate``); every reported abstention figure is on ``test``.

```python
rows = answerability_questions()
test = [r for r in rows if r["split"] == "test"]       # kind: answerable / in_domain / off_topic
```
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

__all__ = ["BANK_DATA", "SPLIT_SEED", "answerability_questions"]

#: The bank dataset's folder.
BANK_DATA = Path(__file__).resolve().parents[2] / "datasets" / "meridian_bank"
#: The seed of the answerable questions' tune/test shuffle.
SPLIT_SEED = 20260615


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def answerability_questions(data: Path = BANK_DATA, *, seed: int = SPLIT_SEED) -> list[dict[str, Any]]:
    """Answerable and unanswerable questions in one list.

    :param data: the dataset folder.
    :param seed: the answerable questions' shuffle seed.
    :returns: the question records, each with ``kind`` (``answerable`` / ``in_domain`` / ``off_topic``),
        ``split`` (``tune`` / ``test``), ``gold_doc_ids``, ``answers`` and ``cross_lingual`` (empty and false
        for unanswerable ones).
    """
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    answerable = _jsonl(data / "questions.jsonl")
    for lang in ("en", "zh"):
        group = sorted((q for q in answerable if q["lang"] == lang), key=lambda q: q["id"])
        rng.shuffle(group)
        out += [{**q, "kind": "answerable", "split": "tune" if k % 2 == 0 else "test"} for k, q in enumerate(group)]
    out += [{**u, "gold_doc_ids": [], "answers": [], "cross_lingual": False}
            for u in _jsonl(data / "source" / "unanswerable" / "unanswerable.jsonl")]
    return out
