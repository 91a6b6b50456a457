"""Reader-only evaluation: a config's reader (prompt builder + generator or extractor, and its grounding
guard) answering from the gold passages a dataset carries (SQuAD v1.1, CMRC 2018), with no retrieval.

It separates "did the reader answer well" from "did retrieval find the passage", so generators can be
compared on public reading-comprehension benchmarks::

    reader = Reader(PipelineConfig.load("quality"))
    out = reader.read("金卡年费多少", [Document(content="金卡年费为人民币200元。")])
    out.answer, out.timings_ms, out.gold_in_context(["人民币200元"])

:class:`~workbench.evaluation.experiment.Experiment` with ``reader_only=True`` runs it over a dataset and
saves the same result folders as full-pipeline runs (``workbench eval CONFIG --dataset squad:PATH --reader-only``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from haystack import Document

from workbench.components import GroundingGuard, PromptBuilder
from workbench.config import PipelineConfig
from workbench.datasets import EvalDataset, EvalQuestion
from workbench.errors import DatasetError

__all__ = ["Reader", "ReaderAnswer", "gold_passages"]

_NS = time.perf_counter_ns


@dataclass
class ReaderAnswer:
    """One answer of the reader: the text, the context the prompt showed, timings and tokens."""

    answer: str
    context: list[str]
    """The context entries of the prompt (passages or best sentences); an extractor reads the passages."""
    timings_ms: dict[str, float]
    """``prompt``, ``generate``, ``guard`` (when configured) and ``total``."""
    tokens: int
    meta: dict[str, Any] = field(default_factory=dict)
    """The generator's (and guard's) meta, without the raw model output."""

    def gold_in_context(self, references: Sequence[str]) -> bool:
        """True when some reference occurs verbatim in the context the reader was shown."""
        text = " ".join(self.context)
        return any(r and r in text for r in references)


def gold_passages(dataset: EvalDataset, question: EvalQuestion) -> list[Document]:
    """The question's gold documents as passages (its ``gold_doc_ids``, in order).

    :raises DatasetError: the question has no gold document, or one is missing from the corpus.
    """
    if not question.gold_doc_ids:
        raise DatasetError("reader-only evaluation needs a gold passage per question (SQuAD/CMRC JSON carry them)",
                           field=f"{question.id}.gold_doc_ids")
    by_id = dataset.doc_by_id
    docs = []
    for doc_id in question.gold_doc_ids:
        doc = by_id.get(doc_id)
        if doc is None:
            raise DatasetError(f"gold document {doc_id!r} is not in the corpus", field=f"{question.id}.gold_doc_ids")
        docs.append(Document(id=doc.id, content=doc.text, meta={"doc_id": doc.id, "title": doc.title,
                                                                 "lang": doc.lang}, score=1.0))
    return docs


class Reader:
    """The reader stages of ``config``: its prompt builder, generator (or extractor) and grounding guard,
    built with the public pipeline API (:func:`~workbench.pipelines.make_generator`), run on given passages.

    :param config: the pipeline config whose ``prompt`` and ``generator`` sections describe the reader.
    """

    def __init__(self, config: PipelineConfig) -> None:
        from workbench.pipelines import make_generator

        if not isinstance(config, PipelineConfig):
            raise TypeError(f"config must be a PipelineConfig, got {type(config).__name__}")
        p, g = config.prompt, config.generator
        self.config = config
        self.prompt_builder = PromptBuilder(style=p.style, examples=p.examples, max_passages=p.max_passages,
                                            max_context_chars=p.max_context_chars, context=p.context,
                                            max_sentences=p.max_sentences)
        self.generator = make_generator(g, max_passages=p.max_passages)
        self.guard = GroundingGuard(max_passages=p.max_passages) \
            if g.grounding == "extractive" and g.kind != "extractive" else None

    def __repr__(self) -> str:
        return f"Reader({self.config.name!r}, generator={self.config.generator.kind}:{self.config.generator.model})"

    def warm_up(self) -> None:
        """Load the generator's model (once)."""
        if hasattr(self.generator, "warm_up"):
            self.generator.warm_up()

    def close(self) -> None:
        """Release the generator's worker thread or HTTP client."""
        if hasattr(self.generator, "close"):
            self.generator.close()

    def read(self, question: str, passages: list[Document]) -> ReaderAnswer:
        """Answer ``question`` from ``passages`` (blocking), timing each stage in milliseconds.

        :param question: the question.
        :param passages: the passages to read (the gold passages in reader-only evaluation).
        :returns: the answer with its context, timings, tokens and meta.
        :raises GeneratorError: the generator failed.
        """
        self.warm_up()
        timings: dict[str, float] = {}
        t0 = _NS()
        built = self.prompt_builder.run(question=question, documents=passages)
        t1 = _NS()
        timings["prompt"] = (t1 - t0) / 1e6
        out = self.generator.run(prompt=built["prompt"], messages=built["messages"], question=question,
                                 documents=passages)
        t2 = _NS()
        timings["generate"] = (t2 - t1) / 1e6
        if self.guard is not None:
            out = self.guard.run(replies=out["replies"], meta=out["meta"], question=question, documents=passages,
                                 context=built["context"])
            timings["guard"] = (_NS() - t2) / 1e6
        timings["total"] = (_NS() - t0) / 1e6
        meta = dict(out["meta"][0]) if out.get("meta") else {}
        meta.pop("raw", None)
        answer = out["replies"][0] if out.get("replies") else ""
        return ReaderAnswer(answer, list(built["context"]), {k: round(v, 3) for k, v in timings.items()},
                            int(meta.get("completion_tokens") or 0), meta)
