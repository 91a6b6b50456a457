"""Memory on vs off: answer accuracy on the later turns of the dataset's multi-turn conversations.

For every conversation the turns are asked in order through a real query pipeline. Three arms per
later turn: ``off`` (the follow-up as typed), ``on`` (rewritten from :class:`ConversationMemory` by a
rewriter, default :func:`rewrite_followup`) and ``reference`` (the dataset's standalone question:
the ceiling a perfect rewriter reaches)::

    qp = build_query_pipeline(PipelineConfig.load("fast"))
    report = evaluate_followups(qp, load_dataset().conversations)
    report.summary()        # {'on': {'accuracy': ..., 'hit@k': ...}, 'off': {...}, 'reference': {...}}

``python -m workbench.evaluation.followups [PRESET]`` prints the table. A turn is correct when a gold
answer occurs in the answer (case-, space- and comma-insensitive); ``hit@k`` is whether a gold
document is among the sources.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.config import PipelineConfig
from workbench.datasets import load_dataset
from workbench.memory.conversation import ConversationMemory
from workbench.memory.rewrite import META_STANDALONE, FollowupRewriter, rewrite_followup
from workbench.memory.stores.inprocess import InProcessSessionStore

__all__ = ["FollowupEval", "FollowupRow", "answer_matches", "evaluate_followups"]


def _norm(text: str) -> str:
    return re.sub(r"[\s,，]", "", text.lower())


def answer_matches(answer: str, gold: Sequence[str]) -> bool:
    """A gold answer occurs in ``answer`` (ignoring case, spaces and thousands separators)."""
    a = _norm(answer)
    return any(_norm(g) in a for g in gold if g)


@dataclass
class FollowupRow:
    """One later turn under one arm."""

    conversation: str
    lang: str
    turn: int
    arm: str
    question: str
    asked: str
    correct: bool
    hit: bool


@dataclass
class FollowupEval:
    """All rows, and their summary per arm (and language)."""

    rows: list[FollowupRow] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Accuracy and hit@k per arm, overall and per language."""
        out: dict[str, dict[str, Any]] = {}
        for arm in sorted({r.arm for r in self.rows}):
            rows = [r for r in self.rows if r.arm == arm]
            entry: dict[str, Any] = {"n": len(rows), "accuracy": _mean([r.correct for r in rows]),
                                     "hit@k": _mean([r.hit for r in rows])}
            for lang in ("en", "zh"):
                sub = [r for r in rows if r.lang == lang]
                entry[f"accuracy_{lang}"] = _mean([r.correct for r in sub])
            out[arm] = entry
        return out

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as dicts (``pandas.DataFrame(report.to_records())``)."""
        return [asdict(r) for r in self.rows]


def _mean(xs: Sequence[bool]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else float("nan")


def evaluate_followups(qp: Any, conversations: Sequence[Any], *, rewriter: FollowupRewriter | None = None,
                       tenant: str | None = None, window_turns: int = 5) -> FollowupEval:
    """Run every conversation through ``qp`` (a :class:`~workbench.pipelines.query.QueryPipeline`) three ways."""
    report = FollowupEval()
    memory = ConversationMemory(InProcessSessionStore(), window_turns=window_turns)
    for conv in conversations:
        session = conv.id
        for n, turn in enumerate(conv.turns, start=1):
            view = memory.load("eval", session)
            standalone = rewrite_followup(view, turn.question, rewriter) if n > 1 else turn.question
            on = qp.run(standalone, tenant=tenant)
            memory.append("eval", session, turn.question, on.answer, {META_STANDALONE: standalone})
            if n == 1:
                continue
            arms = {"on": (standalone, on), "off": (turn.question, qp.run(turn.question, tenant=tenant))}
            if turn.standalone:
                arms["reference"] = (turn.standalone, qp.run(turn.standalone, tenant=tenant))
            for arm, (asked, res) in arms.items():
                hit = any(s.id in turn.gold_doc_ids for s in res.sources)
                report.rows.append(FollowupRow(conv.id, conv.lang, n, arm, turn.question, asked,
                                               answer_matches(res.answer, turn.answers), hit))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Print memory on/off/reference accuracy for a preset (default ``fast``)."""
    from workbench.pipelines.query import build_query_pipeline

    args = list(sys.argv[1:] if argv is None else argv)
    cfg = PipelineConfig.load(args[0] if args else "fast")
    qp = build_query_pipeline(cfg, progress=False)
    report = evaluate_followups(qp, load_dataset().conversations)
    print(json.dumps({"preset": cfg.name, "config_hash": cfg.hash, **report.summary()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
