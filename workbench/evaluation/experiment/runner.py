"""An experiment: one :class:`~workbench.config.PipelineConfig` × one :class:`EvalDataset` (× an optional
load profile) → per-question rows, a summary and a manifest, cached on disk by hash.

```python
exp = Experiment(PipelineConfig.load("fast"), load_workbench_dataset("meridian_bank"), seed=0)
result = exp.run()                 # minutes the first time ...
result = exp.run()                 # ... instant afterwards: result.from_cache is True
result.summary["overall"]["ndcg@10"], result.summary["by_language"]["zh"]["f1"]
```

Per question: the pipeline's ranking at depth ``max(ks)`` (``QueryPipeline.retrieve``), turned into
document ids (a passage's ``meta["doc_id"]``, deduplicated in rank order), scored with the trec_eval
measures against the gold documents; then ``QueryPipeline.run`` answers the question (its own
``top_k``), and the answer is scored with EM/F1 (SQuAD for English, CMRC for Chinese) and ROUGE-L;
stage latencies (``time.perf_counter_ns`` inside the pipeline) and generated tokens are recorded. The
headline ``correct`` column is the answer-type-aware matcher's verdict (the measure that agreed best with
the hand labels, see ``bench/bench_judge_agreement.py``); EM/F1 stay beside it.

With ``reader_only=True`` nothing is retrieved or indexed: the config's reader (prompt builder +
generator, see :class:`~workbench.evaluation.reader.Reader`) answers from each question's gold passages
(SQuAD/CMRC JSON carry them), so the rows hold answer scores and reader latencies only.

Before the timed pass, one **warm-up** question (the first question with a ``warm-up:`` prefix, so no cache
of the pipeline can serve the real one) loads models and fills lazy state; its time is reported apart as
``summary["warmup"]["cold_start_ms"]`` and counted in no latency percentile (``warmup=False`` measures cold).

The cache key covers the config hash, the dataset hash, the seed, the metrics' code version, ``ks``,
``generate``, ``reader_only``, ``warmup`` and the load profile; results live in ``<cache_dir>/<key>/`` (default
``.workbench/experiments``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from workbench.config import PipelineConfig
from workbench.datasets import EvalDataset, EvalQuestion, load_eval_dataset
from workbench.evaluation.experiment.manifest import build_manifest
from workbench.evaluation.experiment.result import ExperimentResult, is_result_dir
from workbench.evaluation.experiment.summary import summarize
from workbench.evaluation.metrics import METRICS_VERSION, answer_scores, dedupe, match_answer, retrieval_scores

__all__ = ["DEFAULT_CACHE_DIR", "Experiment", "LoadProfileLike", "effective_config", "knowledge_base_for",
           "seed_everything"]

#: Where experiment results are cached unless told otherwise.
DEFAULT_CACHE_DIR = ".workbench/experiments"


@runtime_checkable
class LoadProfileLike(Protocol):
    """What an experiment needs from a load profile: a name and a JSON description (for the key and the
    manifest). If it also has ``run(pipeline) -> dict``, the experiment runs it after the quality pass and
    stores the returned numbers under ``summary["load"]``."""

    name: str

    def to_dict(self) -> dict[str, Any]: ...


def seed_everything(seed: int) -> None:
    """Seed Python's and NumPy's global streams, and torch's when it is loaded."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def effective_config(config: PipelineConfig, dataset: EvalDataset, corpus_dir: str | Path) -> PipelineConfig:
    """The config that indexes ``dataset``'s corpus: its project dataset when it has one, otherwise the
    corpus written as JSONL under ``corpus_dir/<dataset hash>/``."""
    if dataset.knowledge_base:
        if config.knowledge_base.dataset == dataset.knowledge_base and not config.knowledge_base.paths:
            return config
        return config.with_overrides({"knowledge_base.dataset": dataset.knowledge_base, "knowledge_base.paths": []})
    if not dataset.documents:
        from workbench.errors import DatasetError

        raise DatasetError(f"dataset {dataset.name!r} has no documents to index; load it with a documents file",
                           field="documents")
    corpus_hash = hashlib.sha256("\n".join(f"{d.id}\t{d.title}\t{d.text}" for d in dataset.documents).encode())
    path = Path(corpus_dir) / corpus_hash.hexdigest()[:16] / "documents.jsonl"
    if not path.is_file():
        dataset.write_corpus_jsonl(path)
    return config.with_overrides({"knowledge_base.dataset": None, "knowledge_base.paths": [str(path.resolve())],
                                  "knowledge_base.languages": None})


def knowledge_base_for(cfg: PipelineConfig) -> Any:
    """The knowledge base of ``cfg``: :func:`~workbench.pipelines.load_knowledge_base` for project datasets;
    for a config that indexes files only (``knowledge_base.paths``), the same indexing pipeline run here
    with the paths as its input (``load_knowledge_base`` runs the pipeline without inputs, which the file
    loader rejects), kept in memory."""
    from workbench.pipelines import KnowledgeBase, build_indexing_pipeline, load_knowledge_base

    if cfg.knowledge_base.dataset:
        return load_knowledge_base(cfg, progress=False)
    from workbench.models import load_embedding_model
    from workbench.pipelines.knowledge_base import data_hash
    from workbench.stores import BM25Index, FaissDocumentStore

    ix, r = cfg.index, cfg.retriever
    dim = load_embedding_model(cfg.embedder.model, threads=cfg.embedder.threads).dim
    store = FaissDocumentStore(dim=dim, kind=ix.kind, metric=ix.metric, hnsw_m=ix.hnsw_m,
                               hnsw_ef_construction=ix.hnsw_ef_construction, hnsw_ef_search=ix.hnsw_ef_search,
                               ivf_nlist=ix.ivf_nlist, ivf_nprobe=ix.ivf_nprobe)
    bm25 = BM25Index(tokenizer=r.bm25_tokenizer, k1=r.bm25_k1, b=r.bm25_b)
    paths = list(cfg.knowledge_base.paths)
    build_indexing_pipeline(cfg, store, bm25, progress=False).run({"file_loader": {"paths": paths}})
    return KnowledgeBase(store, bm25, f"{cfg.index_hash}-{data_hash(cfg)}", None, {"passages": store.count})


class Experiment:
    """A config evaluated on a dataset; see the module docstring.

    ``kb``/``pipeline``: reuse an already loaded knowledge base or query pipeline (a :class:`Sweep` does).
    ``limit``: evaluate a seeded sample of that many questions. ``warmup``: answer one warm-up question before
    the timed pass (see the module docstring). ``labels``: free-form tags stored in the
    manifest (e.g. ``{"simulated": True}`` for runs against the simulated LLM). ``reader_only``: evaluate
    the reader on the gold passages, with no retrieval (``pipeline`` may then be a ready
    :class:`~workbench.evaluation.reader.Reader`).
    """

    def __init__(self, config: PipelineConfig, dataset: EvalDataset | str, *, load_profile: Any = None, seed: int = 0,
                 ks: Sequence[int] = (1, 3, 5, 10), generate: bool = True, limit: int | None = None,
                 cache_dir: str | Path = DEFAULT_CACHE_DIR, labels: Mapping[str, Any] | None = None,
                 kb: Any = None, pipeline: Any = None, reader_only: bool = False, warmup: bool = True) -> None:
        if not isinstance(config, PipelineConfig):
            raise TypeError(f"config must be a PipelineConfig, got {type(config).__name__}")
        ks = tuple(sorted({int(k) for k in ks}))
        if not ks or ks[0] < 1:
            raise ValueError("ks must be positive cut-offs, e.g. (1, 3, 5, 10)")
        if load_profile is not None and not isinstance(load_profile, LoadProfileLike):
            raise TypeError("load_profile needs a .name and .to_dict() (see LoadProfileLike)")
        if reader_only and (load_profile is not None or not generate):
            raise ValueError("reader_only evaluates generated answers: it takes no load_profile and needs generate=True")
        ds = load_eval_dataset(dataset) if isinstance(dataset, str) else dataset
        self.dataset = ds.sample(limit, seed=seed) if limit is not None else ds
        self.config = config
        self.load_profile = load_profile
        self.seed, self.ks, self.generate, self.reader_only = seed, ks, generate, reader_only
        self.warmup = warmup
        self.cache_dir = Path(cache_dir)
        self.labels = dict(labels or {})
        self._kb, self._pipeline = kb, pipeline

    # -- identity --------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """The cache key (16 hex)."""
        parts = {
            "config": self.config.hash, "dataset": self.dataset.hash, "seed": self.seed, "metrics": METRICS_VERSION,
            "ks": list(self.ks), "generate": self.generate, "reader_only": self.reader_only, "warmup": self.warmup,
            "load_profile": self.load_profile.to_dict() if self.load_profile is not None else None,
            "labels": self.labels,
        }
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def path(self) -> Path:
        """The result folder of this experiment."""
        return self.cache_dir / self.key

    def pipeline_config(self) -> PipelineConfig:
        """The config that actually runs (indexing this dataset's corpus; as given when ``reader_only``)."""
        if self.reader_only:
            return self.config
        return effective_config(self.config, self.dataset, self.cache_dir / "corpora")

    # -- running ---------------------------------------------------------------------------------
    def run(self, *, force: bool = False, progress: Callable[[int, int], None] | None = None) -> ExperimentResult:
        """The cached result when there is one (``force=False``), else evaluate every question and save."""
        if not force and is_result_dir(self.path):
            cached = ExperimentResult.load(self.path)
            # the same run saved under another name (names are not in the key): shown under the name asked for
            cached.manifest["config_name"] = self.config.name
            return cached
        seed_everything(self.seed)
        cfg = self.pipeline_config()
        pipeline = self._pipeline or self._build_pipeline(cfg)
        cold_start_ms = self._warm_up(pipeline) if self.warmup and self.dataset.questions else None
        started = time.perf_counter_ns()
        rows = []
        for i, q in enumerate(self.dataset.questions):
            rows.append(self._evaluate(pipeline, q))
            if progress is not None:
                progress(i + 1, len(self.dataset.questions))
        frame = pd.DataFrame(rows)
        summary = summarize(frame)
        if cold_start_ms is not None:
            summary["warmup"] = {"cold_start_ms": cold_start_ms, "questions": 1}
        if self.load_profile is not None and callable(getattr(self.load_profile, "run", None)):
            summary["load"] = dict(self.load_profile.run(pipeline))
        duration_s = (time.perf_counter_ns() - started) / 1e9
        manifest = build_manifest(config=self.config, dataset=self.dataset, seed=self.seed, extra={
            "experiment_key": self.key,
            "effective_config_hash": cfg.hash,
            "kb_version": getattr(getattr(pipeline, "kb", None), "version", None),
            "ks": list(self.ks),
            "generate": self.generate,
            "reader_only": self.reader_only,
            "load_profile": self.load_profile.to_dict() if self.load_profile is not None else None,
            "labels": self.labels,
            "warmup": self.warmup,
            "duration_s": round(duration_s, 3),
            "retrieval_unit": None if self.reader_only else "document (passage meta['doc_id'], deduplicated in rank order)",
        })
        result = ExperimentResult(frame, summary, manifest)
        result.save(self.path)
        return result

    def _warm_up(self, pipeline: Any) -> float:
        """Answer one warm-up question untimed by the results; its wall time in ms (the cold start)."""
        first = self.dataset.questions[0]
        t0 = time.perf_counter_ns()
        self._evaluate(pipeline, dataclasses.replace(first, id=f"warm-up:{first.id}",
                                                     question=f"warm-up: {first.question}"))
        return (time.perf_counter_ns() - t0) / 1e6

    def _build_pipeline(self, cfg: PipelineConfig) -> Any:
        if self.reader_only:
            from workbench.evaluation.reader import Reader

            return Reader(cfg)
        from workbench.pipelines import build_query_pipeline

        kb = self._kb or knowledge_base_for(cfg)
        return build_query_pipeline(cfg, kb=kb, progress=False)

    def _evaluate(self, pipeline: Any, q: EvalQuestion) -> dict[str, Any]:
        row: dict[str, Any] = {"question_id": q.id, "question": q.question, "lang": q.lang or "unknown",
                               "intent": q.meta.get("intent"), "n_gold": len(q.gold_doc_ids), "error": None}
        try:
            if self.reader_only:
                self._read(pipeline, q, row)
            else:
                self._retrieve_and_answer(pipeline, q, row)
        except Exception as exc:  # one failing question is recorded, not hidden, and does not stop the run
            row["error"] = f"{type(exc).__name__}: {exc}"[:500]
        return row

    def _retrieve_and_answer(self, pipeline: Any, q: EvalQuestion, row: dict[str, Any]) -> None:
        timings: dict[str, float] = {}
        t0 = time.perf_counter_ns()
        docs = pipeline.retrieve(q.question, top_k=max(self.ks), timings=timings)
        retrieval_ms = (time.perf_counter_ns() - t0) / 1e6
        ranked = dedupe(str(d.meta.get("doc_id", d.id)) for d in docs)
        row["retrieved_doc_ids"] = ranked
        row["retrieved_passages"] = len(docs)
        if q.qrels:
            row.update(retrieval_scores(ranked, q.qrels, self.ks))
        if self.generate:
            answer = pipeline.run(q.question)
            _answer_fields(row, q, answer.answer, answer.tokens, answer.timings_ms)
        else:
            _answer_fields(row, q, None, None, {**timings, "total": retrieval_ms})

    def _read(self, reader: Any, q: EvalQuestion, row: dict[str, Any]) -> None:
        from workbench.evaluation.reader import gold_passages

        out = reader.read(q.question, gold_passages(self.dataset, q))
        _answer_fields(row, q, out.answer, out.tokens, out.timings_ms)
        if q.answers:
            row["gold_in_context"] = out.gold_in_context(q.answers)


def _answer_fields(row: dict[str, Any], q: EvalQuestion, answer: str | None, tokens: int | None,
                   timings_ms: Mapping[str, float]) -> None:
    """Stage latencies, and when there is an answer: the answer, its tokens, its EM/F1/ROUGE-L against the
    references, and the headline ``correct`` (1/0), ``verdict`` (correct/partly/wrong) and ``correct_rule`` of
    the answer-type-aware matcher (:func:`~workbench.evaluation.metrics.answer.match_answer`; on an
    unanswerable question only an abstention is correct)."""
    for stage, ms in timings_ms.items():
        row[f"latency_{stage}_ms"] = float(ms)
    if answer is None:
        return
    row["answer"] = answer
    row["tokens"] = int(tokens or 0)
    if q.answers:
        row["references"] = list(q.answers)
        row.update(answer_scores(answer, q.answers, lang=q.lang, question=q.question))
    if q.answers or q.meta.get("unanswerable"):
        match = match_answer(answer, q.answers, question=q.question)
        row.update(correct=match.score, verdict=match.verdict, correct_rule=match.rule)
