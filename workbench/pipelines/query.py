"""The query path of a config: embed → retrieve (dense | BM25 | hybrid) → rerank? → prompt → generate.

:class:`QueryPipeline` calls its Haystack components directly, in order, timing each stage: the hot
path pays no per-request deep copies of inputs. :meth:`QueryPipeline.to_haystack` returns the same
components wired as a ``haystack.Pipeline`` (for ``to_dict``, drawing, or ``Pipeline.run``), and
``bench/`` measures what that costs against the direct calls::

    qp = build_query_pipeline(PipelineConfig.load("fast"))
    result = qp.run("what's the gold card annual fee?")
    result.answer, result.sources[0].title, result.timings_ms
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from haystack import Document, Pipeline

from workbench.components import (
    BM25Retriever,
    CrossEncoderReranker,
    EmbeddingReranker,
    ExtractiveAnswerer,
    FaissRetriever,
    GroundingGuard,
    LlamaCppGenerator,
    OpenAICompatibleGenerator,
    PromptBuilder,
    QueryEmbedder,
    RankFusion,
    TransformersGenerator,
)
from workbench.config import GeneratorConfig, PipelineConfig
from workbench.errors import InputError
from workbench.pipelines.knowledge_base import KnowledgeBase, load_knowledge_base
from workbench.text import detect_language, tokenize

__all__ = ["QueryPipeline", "RAGAnswer", "Source", "build_query_pipeline", "make_generator", "validate_question"]


@dataclass
class Source:
    """A passage the answer was drawn from."""

    id: str
    """The document id (a passage's parent document)."""
    passage_id: str
    title: str
    text: str
    score: float


@dataclass
class RAGAnswer:
    """One answered question: the answer, its sources, per-stage timings and token counts."""

    question: str
    answer: str
    sources: list[Source]
    timings_ms: dict[str, float]
    tokens: int
    language: str
    config_hash: str
    kb_version: str
    generator_meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (the fields of the HTTP response that the pipeline knows)."""
        d = asdict(self)
        d["generator_meta"] = {k: v for k, v in self.generator_meta.items() if k != "raw"}
        return d


def validate_question(question: Any, max_chars: int) -> str:
    """The question, stripped; raises :class:`InputError` when it is not a non-empty string within the limit."""
    if not isinstance(question, str):
        raise InputError(f"question must be a string, got {type(question).__name__}")
    text = question.strip()
    if not text:
        raise InputError("question is empty: ask something, e.g. 'what is the gold card annual fee?'")
    if len(text) > max_chars:
        raise InputError(f"question is {len(text)} characters long; the limit is {max_chars} "
                         "(limits.max_question_chars)")
    return text


def make_generator(g: GeneratorConfig, *, max_passages: int = 3) -> Any:
    """The generator component a :class:`GeneratorConfig` describes (not yet warmed up)."""
    if g.kind == "extractive":
        return ExtractiveAnswerer(max_passages=max_passages)
    if g.kind == "llama-cpp":
        return LlamaCppGenerator(g.model or "gemma-3-270m", max_tokens=g.max_tokens, temperature=g.temperature,
                                 threads=g.threads, context_window=g.context_window, stop=list(g.stop), chat=g.chat)
    if g.kind == "transformers":
        return TransformersGenerator(g.model or "smollm2-135m", max_tokens=g.max_tokens, temperature=g.temperature,
                                     threads=g.threads, stop=list(g.stop), chat=g.chat)
    assert g.base_url is not None
    return OpenAICompatibleGenerator(base_url=g.base_url, model=g.model or "default", api_key=g.api_key,
                                     max_tokens=g.max_tokens, temperature=g.temperature, timeout_s=g.timeout_s,
                                     retries=g.retries, stop=list(g.stop), chat=bool(g.chat))


class QueryPipeline:
    """The query path of one :class:`PipelineConfig` over one :class:`KnowledgeBase`."""

    def __init__(self, cfg: PipelineConfig, kb: KnowledgeBase) -> None:
        self.cfg = cfg
        self.kb = kb
        r = cfg.retriever
        self.mode = r.mode
        reranking = cfg.reranker.kind != "none"
        first_k = r.candidates if (reranking or r.mode == "hybrid") else r.top_k
        self.first_k = max(first_k, r.top_k)
        self.query_embedder = QueryEmbedder(cfg.embedder.model, threads=cfg.embedder.threads) \
            if r.mode in ("dense", "hybrid") else None
        self.dense = FaissRetriever(kb.store, top_k=self.first_k) if self.query_embedder else None
        self.bm25 = BM25Retriever(kb.bm25, top_k=self.first_k) if r.mode in ("bm25", "hybrid") else None
        self.fusion = RankFusion(weights=dict(r.weights), k=r.rrf_k, top_k=r.candidates if reranking else r.top_k) \
            if r.mode == "hybrid" else None
        rr = cfg.reranker
        self.reranker: EmbeddingReranker | CrossEncoderReranker | None = None
        if rr.kind == "embedding":
            self.reranker = EmbeddingReranker(rr.model or "minilm", top_k=rr.top_k, blend=rr.blend)
        elif rr.kind == "cross-encoder":
            assert rr.model is not None
            self.reranker = CrossEncoderReranker(rr.model, top_k=rr.top_k)
        p = cfg.prompt
        self.prompt_builder = PromptBuilder(style=p.style, examples=p.examples, max_passages=p.max_passages,
                                            max_context_chars=p.max_context_chars, context=p.context,
                                            max_sentences=p.max_sentences)
        self.generator = make_generator(cfg.generator, max_passages=p.max_passages)
        self.guard = GroundingGuard(max_passages=p.max_passages) \
            if cfg.generator.grounding == "extractive" and cfg.generator.kind != "extractive" else None
        self._warm = False

    def warm_up(self) -> None:
        """Load every model of the path (once)."""
        if self._warm:
            return
        for comp in (self.query_embedder, self.reranker, self.generator):
            if comp is not None and hasattr(comp, "warm_up"):
                comp.warm_up()
        tokenize("预热 warm-up", "auto")  # jieba loads its dictionary (~0.5 s) on first use: not on a request
        self._warm = True

    # -- stages -------------------------------------------------------------------------------
    def retrieve(self, question: str, *, tenant: str | None = None, top_k: int | None = None,
                 timings: dict[str, float] | None = None) -> list[Document]:
        """The passages the generator would see (after fusion and reranking)."""
        timings = timings if timings is not None else {}
        filters = {"tenant": tenant or self.cfg.knowledge_base.tenant}
        depth = max(self.first_k, top_k or 0)
        dense_docs: list[Document] = []
        bm25_docs: list[Document] = []
        if self.query_embedder is not None and self.dense is not None:
            t = time.perf_counter_ns()
            vec = self.query_embedder.run(text=question)["embedding"]
            timings["embed"] = (time.perf_counter_ns() - t) / 1e6
            t = time.perf_counter_ns()
            dense_docs = self.dense.run(query_embedding=vec, top_k=depth, filters=filters)["documents"]
            timings["retrieve_dense"] = (time.perf_counter_ns() - t) / 1e6
        if self.bm25 is not None:
            t = time.perf_counter_ns()
            bm25_docs = self.bm25.run(query=question, top_k=depth, filters=filters)["documents"]
            timings["retrieve_bm25"] = (time.perf_counter_ns() - t) / 1e6
        if self.fusion is not None:
            t = time.perf_counter_ns()
            docs = self.fusion.run(dense=dense_docs, bm25=bm25_docs, top_k=max(self.fusion.top_k, top_k or 0))["documents"]
            timings["fuse"] = (time.perf_counter_ns() - t) / 1e6
        else:
            docs = dense_docs or bm25_docs
        k = top_k or self.cfg.retriever.top_k
        if self.reranker is not None:
            t = time.perf_counter_ns()
            docs = self.reranker.run(query=question, documents=docs, top_k=max(k, self.cfg.reranker.top_k))["documents"]
            timings["rerank"] = (time.perf_counter_ns() - t) / 1e6
            k = min(k, self.cfg.reranker.top_k) if top_k is None else k
        return docs[:k]

    def run(self, question: str, *, tenant: str | None = None, top_k: int | None = None,
            streaming_callback: Callable[[str], None] | None = None) -> RAGAnswer:
        """Answer one question (validated first), timing every stage in milliseconds."""
        question = validate_question(question, self.cfg.limits.max_question_chars)
        self.warm_up()
        start = time.perf_counter_ns()
        timings: dict[str, float] = {}
        docs = self.retrieve(question, tenant=tenant, top_k=top_k, timings=timings)
        t = time.perf_counter_ns()
        built = self.prompt_builder.run(question=question, documents=docs)
        timings["prompt"] = (time.perf_counter_ns() - t) / 1e6
        t = time.perf_counter_ns()
        out = self.generator.run(prompt=built["prompt"], messages=built["messages"], question=question, documents=docs,
                                 streaming_callback=streaming_callback)
        timings["generate"] = (time.perf_counter_ns() - t) / 1e6
        if self.guard is not None:
            t = time.perf_counter_ns()
            out = self.guard.run(replies=out["replies"], meta=out.get("meta"), question=question, documents=docs,
                                 context=built["context"])
            timings["guard"] = (time.perf_counter_ns() - t) / 1e6
        timings["total"] = (time.perf_counter_ns() - start) / 1e6
        meta = out["meta"][0] if out.get("meta") else {}
        return RAGAnswer(
            question=question,
            answer=out["replies"][0] if out["replies"] else "",
            sources=[Source(id=d.meta.get("doc_id", d.id), passage_id=d.id, title=d.meta.get("title", ""),
                            text=d.content or "", score=float(d.score or 0.0)) for d in docs],
            timings_ms={k: round(v, 3) for k, v in timings.items()},
            tokens=int(meta.get("completion_tokens") or 0),
            language=detect_language(question),
            config_hash=self.cfg.hash,
            kb_version=self.kb.version,
            generator_meta=meta,
        )

    # -- the same path as a Haystack Pipeline -------------------------------------------------
    def to_haystack(self) -> Pipeline:
        """The same (shared, warmed) components wired as a ``haystack.Pipeline``.

        Inputs: ``{"query_embedder": {"text": q}, "bm25": {"query": q}, "prompt_builder": {"question": q},
        "generator": {"question": q}}`` (whichever exist); see :meth:`run_haystack`.
        """
        self.warm_up()
        p = Pipeline()
        head: str | None = None
        if self.query_embedder is not None:
            p.add_component("query_embedder", self.query_embedder)
            p.add_component("dense", self.dense)
            p.connect("query_embedder.embedding", "dense.query_embedding")
            head = "dense"
        if self.bm25 is not None:
            p.add_component("bm25", self.bm25)
            head = "bm25" if head is None else head
        if self.fusion is not None:
            p.add_component("fusion", self.fusion)
            p.connect("dense.documents", "fusion.dense")
            p.connect("bm25.documents", "fusion.bm25")
            head = "fusion"
        if self.reranker is not None:
            p.add_component("reranker", self.reranker)
            p.connect(f"{head}.documents", "reranker.documents")
            head = "reranker"
        p.add_component("prompt_builder", self.prompt_builder)
        p.add_component("generator", self.generator)
        p.connect(f"{head}.documents", "prompt_builder.documents")
        p.connect(f"{head}.documents", "generator.documents")
        p.connect("prompt_builder.prompt", "generator.prompt")
        p.connect("prompt_builder.messages", "generator.messages")
        if self.guard is not None:
            p.add_component("guard", self.guard)
            p.connect("generator.replies", "guard.replies")
            p.connect("generator.meta", "guard.meta")
            p.connect("prompt_builder.context", "guard.context")
            p.connect(f"{head}.documents", "guard.documents")
        return p

    def haystack_inputs(self, question: str, tenant: str | None = None) -> dict[str, dict[str, Any]]:
        """The ``Pipeline.run`` data for one question."""
        filters = {"tenant": tenant or self.cfg.knowledge_base.tenant}
        data: dict[str, dict[str, Any]] = {"prompt_builder": {"question": question}, "generator": {"question": question}}
        if self.query_embedder is not None:
            data["query_embedder"] = {"text": question}
            data["dense"] = {"filters": filters}
        if self.bm25 is not None:
            data["bm25"] = {"query": question, "filters": filters}
        if self.reranker is not None:
            data["reranker"] = {"query": question}
        if self.guard is not None:
            data["guard"] = {"question": question}
        return data


def build_query_pipeline(cfg: PipelineConfig, *, kb: KnowledgeBase | None = None, progress: bool = True,
                         warm_up: bool = True) -> QueryPipeline:
    """Load (or build) the knowledge base of ``cfg`` and return its warmed query pipeline."""
    qp = QueryPipeline(cfg, kb or load_knowledge_base(cfg, progress=progress))
    if warm_up:
        qp.warm_up()
    return qp
