"""The query path of a config: embed → retrieve (dense | BM25 | hybrid, + other-language partition?) → rerank?
→ cross-lingual slots? → abstain? → prompt → generate → guard?

:class:`QueryPipeline` owns the stages: one stage list (:mod:`workbench.pipelines.stages`) from which its
three surfaces are built, so they are equal by construction:

* :meth:`QueryPipeline.run`: blocking, components called directly in order (no per-request deep copies);
* :meth:`QueryPipeline.astream` / :meth:`QueryPipeline.arun`: on the event loop, each model on its
  component's worker thread (``run_async``), text pieces streamed as they are generated;
* :meth:`QueryPipeline.to_haystack`: the same components wired as a ``haystack.Pipeline`` (``to_dict``,
  drawing, ``Pipeline.run``; ``bench/`` measures what that costs against the direct calls).

Each call takes a :class:`~workbench.pipelines.plan.QueryPlan` (default: full service)::

    qp = build_query_pipeline(PipelineConfig.load("fast"))
    result = qp.run("what's the gold card annual fee?")
    result.answer, result.sources[0].title, result.timings_ms
    async for piece in qp.astream("lost my card", plan=QueryPlan(rerank=False)):
        print(piece)                                  # text pieces, then the RAGAnswer
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np
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
from workbench.components.generators.language_routed import LanguageRoutedGenerator
from workbench.components.generators.protocol import Generator
from workbench.components.generators.reply import is_not_found
from workbench.components.generators.sentence_vectors import SentenceVectors
from workbench.config import GeneratorConfig, PipelineConfig
from workbench.errors import InputError
from workbench.pipelines.abstention import AbstentionGate, abstain_answer
from workbench.pipelines.crosslingual import CrossLingualSlots, only_elsewhere
from workbench.pipelines.knowledge_base import KnowledgeBase, load_knowledge_base
from workbench.pipelines.plan import FULL_PLAN, GeneratorChoice, QueryPlan
from workbench.pipelines.stages import Stage, arun_stages, haystack_wiring, run_stages
from workbench.text import detect_language, tokenize

__all__ = ["EmbeddingBatcher", "QueryPipeline", "RAGAnswer", "Source", "build_query_pipeline", "make_generator",
           "validate_question"]

_NS = time.perf_counter_ns
_END = object()


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
    abstained: bool = False
    """The pipeline found no answer in the knowledge base: ``answer`` says so in the question's language, and
    there are no sources (:mod:`workbench.pipelines.abstention`)."""
    abstention: dict[str, Any] = field(default_factory=dict)
    """The gate's decision: ``abstained``, ``score`` (its logit), ``reason``, ``signals`` (empty without a gate)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (the fields of the HTTP response that the pipeline knows)."""
        d = asdict(self)
        d["generator_meta"] = {k: v for k, v in self.generator_meta.items() if k != "raw"}
        return d


class EmbeddingBatcher(Protocol):
    """Embeds one query together with concurrent ones (the serving engine's ``MicroBatcher``)."""

    async def embed(self, text: str) -> np.ndarray:
        """The query's embedding, shape ``(dim,)``."""
        ...


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


def make_generator(g: GeneratorConfig, *, max_passages: int = 3,
                   sentence_vectors: SentenceVectors | None = None) -> Generator:
    """The generator component a :class:`GeneratorConfig` describes (not yet warmed up); with
    ``generator.by_language``, a :class:`LanguageRoutedGenerator` over one generator per language.
    ``sentence_vectors``: an extractive answerer's dense signal (weighted by ``g.sentence_dense_weight``)."""
    if g.by_language:
        return LanguageRoutedGenerator.from_config(
            g, lambda one: make_generator(one, max_passages=max_passages, sentence_vectors=sentence_vectors))
    if g.kind == "extractive":
        return ExtractiveAnswerer(max_passages=max_passages, sentence_vectors=sentence_vectors,  # type: ignore[return-value]
                                  dense_weight=g.sentence_dense_weight)
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


def _with_history(kwargs: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """The conversation's earlier turns go before the prompt's messages (chat generators read them)."""
    if state["history"]:
        kwargs["messages"] = [*state["history"], *kwargs["messages"]]
    return kwargs


def _takes_embedding(comp: Any) -> bool:
    """Whether a generator's ``run`` accepts the question's ``query_embedding`` (the extractive answerer)."""
    return "query_embedding" in inspect.signature(comp.run).parameters


class QueryPipeline:
    """The query path of one :class:`PipelineConfig` over one :class:`KnowledgeBase` (see the module docstring).

    ``batcher``: an :class:`EmbeddingBatcher` the async path embeds through (the serving engine passes
    its micro-batcher; the blocking path always calls the embedder directly).
    """

    def __init__(self, cfg: PipelineConfig, kb: KnowledgeBase, *, batcher: EmbeddingBatcher | None = None) -> None:
        self.cfg = cfg
        self.kb = kb
        self.batcher = batcher
        r = cfg.retriever
        self.mode = r.mode
        self.hybrid = r.mode == "hybrid"
        self.query_embedder = QueryEmbedder(cfg.embedder.model, threads=cfg.embedder.threads) \
            if r.mode in ("dense", "hybrid") else None
        self.dense = FaissRetriever(kb.store, top_k=r.candidates) if self.query_embedder else None
        self.bm25 = BM25Retriever(kb.bm25, top_k=r.candidates) if r.mode in ("bm25", "hybrid") else None
        self.fusion = RankFusion(weights=dict(r.weights), k=r.rrf_k, top_k=r.top_k) if self.hybrid else None
        self.cross_lingual = CrossLingualSlots(slots=r.cross_lingual_slots, rank=r.cross_lingual_rank) \
            if r.cross_lingual == "partition" and self.dense is not None else None
        """Reserves ranks for documents that exist only in another language (``retriever.cross_lingual``)."""
        self.dense_other = FaissRetriever(kb.store, top_k=r.candidates) if self.cross_lingual else None
        """Dense search of the other-language partition (the documents without a version in the question's)."""
        self._elsewhere: tuple[object, dict[str, list[str]]] | None = None
        a = cfg.abstention
        self.gate: AbstentionGate | None = None
        """The abstention stage of full service (with the grounding model when ``abstention.grounding: llm``)."""
        self.retrieval_gate: AbstentionGate | None = None
        """The abstention stage of a plan without grounding (retrieval signals only)."""
        if a.enabled:
            common: dict[str, Any] = {"threshold": a.threshold, "dense": self.dense is not None,
                                      "lexical": self.bm25 is not None}
            self.retrieval_gate = AbstentionGate(kb.store, gates={k: g.model_dump() for k, g in a.retrieval_gate.items()},
                                                 **common)
            self.gate = self.retrieval_gate if a.grounding == "none" else AbstentionGate(
                kb.store, gates={k: g.model_dump() for k, g in a.grounded_gate.items()},
                grounding_model=a.grounding_model, grounding_threads=a.grounding_threads, **common)
        rr = cfg.reranker
        self.reranker: EmbeddingReranker | CrossEncoderReranker | None = None
        if rr.kind == "embedding":
            self.reranker = EmbeddingReranker(rr.model or "minilm", top_k=rr.top_k, blend=rr.blend)
        elif rr.kind == "cross-encoder":
            assert rr.model is not None
            self.reranker = CrossEncoderReranker(rr.model, top_k=rr.top_k)
        p = cfg.prompt
        # the dense sentence signal (extractive answers, the prompt's sentences): the knowledge base's sentence
        # vectors, by the query model
        vectors = kb.sentences if self.query_embedder is not None and kb.sentences is not None \
            and kb.sentences.model == cfg.embedder.model else None
        self.prompt_builder = PromptBuilder(style=p.style, examples=p.examples, max_passages=p.max_passages,
                                            max_context_chars=p.max_context_chars, context=p.context,
                                            max_sentences=p.max_sentences, sentence_vectors=vectors,
                                            sentence_dense_weight=p.sentence_dense_weight,
                                            not_found=p.not_found)
        self.generator = make_generator(cfg.generator, max_passages=p.max_passages, sentence_vectors=vectors)
        small = cfg.serving.degradation.small_generator
        self.small_generator = make_generator(small, max_passages=p.max_passages, sentence_vectors=vectors) \
            if small is not None else None
        """The generator of :attr:`GeneratorChoice.SMALL` (``None``: that choice answers extractively)."""
        self.extractive = ExtractiveAnswerer(max_passages=p.max_passages, sentence_vectors=vectors,
                                             dense_weight=cfg.generator.sentence_dense_weight)
        self.guard = GroundingGuard(max_passages=p.max_passages) \
            if cfg.generator.grounding == "extractive" and cfg.generator.kind != "extractive" else None
        gens = (self.generator, self.small_generator or self.extractive, self.extractive)
        self.dense_answers = bool(getattr(self.generator, "dense", False)) and all(_takes_embedding(g) for g in gens)
        """Whether the generator stage gets the question's embedding (decided once: the request path only reads it)."""
        self.config_hash = cfg.hash
        """The config's content hash (computed once: it serializes the whole config)."""
        self.stages = self._stage_list()
        self._haystack: tuple[Pipeline, dict[str, dict[str, str]], dict[str, str]] | None = None
        self._warm = 0
        """0: cold; 1: the full-service path is loaded; 2: the fallback generators too."""

    def __repr__(self) -> str:
        return f"QueryPipeline({self.cfg.name!r}, stages={[s.name for s in self.stages]})"

    def _stage_list(self) -> tuple[Stage, ...]:
        """The one list of stages; components are looked up when a request runs (so they can be swapped)."""
        to_dense = "dense" if self.hybrid else ("dense", "documents")
        to_bm25 = "bm25" if self.hybrid else ("bm25", "documents")
        return (
            Stage("query_embedder", "embed", {"text": "question"}, {"embedding": "embedding"},
                  lambda plan: self.query_embedder if "dense" in plan.retrievers else None, acall=self._aembed,
                  given="embedding"),
            Stage("dense", "retrieve_dense", {"query_embedding": "embedding", "top_k": "depth", "filters": "filters"},
                  {"documents": to_dense}, lambda plan: self.dense if "dense" in plan.retrievers else None),
            Stage("dense_other", "retrieve_other_language",
                  {"query_embedding": "embedding", "top_k": "depth", "filters": "other_filters"},
                  {"documents": "other"}, lambda plan: self.dense_other if "dense" in plan.retrievers else None),
            Stage("bm25", "retrieve_bm25", {"query": "question", "top_k": "depth", "filters": "filters"},
                  {"documents": to_bm25}, lambda plan: self.bm25 if "bm25" in plan.retrievers else None),
            Stage("fusion", "fuse", {"dense": "dense", "bm25": "bm25", "top_k": "fuse_k"}, {"documents": "documents"},
                  lambda plan: self.fusion),
            Stage("reranker", "rerank", {"query": "question", "documents": "documents", "top_k": "top_k"},
                  {"documents": "documents"}, lambda plan: self.reranker if plan.rerank else None),
            Stage("cross_lingual", "cross_lingual", {"documents": "documents", "other": "other"},
                  {"documents": "documents"}, lambda plan: self.cross_lingual),
            Stage("abstention", "abstain", {"question": "question", "documents": "documents", "dense": "dense",
                                            "bm25": "bm25"},
                  {"question": "question", "documents": "documents", "abstention": "abstention"},
                  lambda plan: self.gate if plan.grounding else self.retrieval_gate),
            Stage("prompt_builder", "prompt", {"question": "question", "documents": "documents"},
                  {"prompt": "prompt", "messages": "messages", "context": "context"}, lambda plan: self.prompt_builder,
                  prepare=self._prompt_inputs),
            Stage("generator", "generate", {"prompt": "prompt", "messages": "messages", "question": "question",
                                            "documents": "documents"},
                  {"replies": "replies", "meta": "meta"}, self.generator_for, streams=True, prepare=self._generator_inputs),
            Stage("guard", "guard", {"replies": "replies", "meta": "meta", "question": "question",
                                     "documents": "documents", "context": "context"},
                  {"replies": "replies", "meta": "meta"},
                  lambda plan: self.guard if plan.generator is GeneratorChoice.MAIN else None),
        )

    def _prompt_inputs(self, kwargs: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        """The prompt builder's inputs: with the question's embedding (computed for dense retrieval, reused)
        when its sentence ranking weighs the question-sentence cosine (``prompt.sentence_dense_weight``)."""
        if self.prompt_builder.dense and state.get("embedding") is not None:
            kwargs["query_embedding"] = state["embedding"]
        return kwargs

    def _generator_inputs(self, kwargs: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        """The generator's inputs: the history first, and the question's embedding (computed for dense
        retrieval, reused) when every generator a plan may pick takes it (the extractive answerer's dense
        sentence signal); a request without dense retrieval has none, and the ranking is lexical."""
        kwargs = _with_history(kwargs, state)
        if self.dense_answers and state.get("embedding") is not None:
            kwargs["query_embedding"] = state["embedding"]
        return kwargs

    def generator_for(self, plan: QueryPlan) -> Generator:
        """The generator that answers under ``plan`` (the small choice falls back to extractive answers)."""
        if plan.generator is GeneratorChoice.MAIN:
            return self.generator
        if plan.generator is GeneratorChoice.SMALL and self.small_generator is not None:
            return self.small_generator
        return self.extractive  # type: ignore[return-value]

    def _components(self) -> list[Any]:
        gates = (self.gate, self.retrieval_gate) if self.gate is not self.retrieval_gate else (self.gate,)
        return [c for c in (self.query_embedder, self.reranker, *gates, self.generator, self.small_generator)
                if c is not None]

    def warm_up(self, *, fallbacks: bool = True) -> None:
        """Load every model of the path (once); ``fallbacks``: also the small generator of degraded service."""
        wanted = 2 if fallbacks else 1
        if self._warm >= wanted:
            return
        for comp in self._components():
            if (fallbacks or comp is not self.small_generator) and hasattr(comp, "warm_up"):
                comp.warm_up()
        tokenize("预热 warm-up", "auto")  # jieba loads its dictionary (~0.5 s) on first use: not on a request
        self._warm = wanted

    async def aclose(self) -> None:
        """Stop the components' worker threads and close remote generators' HTTP clients."""
        for comp in self._components():
            if hasattr(comp, "aclose"):
                await comp.aclose()
            elif hasattr(comp, "close"):
                comp.close()

    def close(self) -> None:
        """Blocking :meth:`aclose` (for code without an event loop)."""
        for comp in self._components():
            if hasattr(comp, "close"):
                comp.close()

    # -- one request ---------------------------------------------------------------------------------
    def _state(self, question: str, tenant: str | None, plan: QueryPlan,
               history: list[dict[str, str]] | None, embedding: np.ndarray | Sequence[float] | None = None) -> dict[str, Any]:
        """The request's slots: its inputs, and how many passages each stage keeps under ``plan``
        (``embedding``: the question's, already computed with this pipeline's query model)."""
        r, rr = self.cfg.retriever, self.cfg.reranker
        reranks = plan.rerank and self.reranker is not None
        k = plan.top_k or (min(r.top_k, rr.top_k) if reranks else r.top_k)
        wide = max(r.candidates, k)
        filters = {"tenant": tenant or self.cfg.knowledge_base.tenant}
        state = {"question": question, "filters": filters,
                 "history": history or [], "top_k": k, "depth": wide if (reranks or self.hybrid) else k,
                 "fuse_k": wide if reranks else k, "dense": [], "bm25": [], "documents": [], "other": []}
        if embedding is not None:
            state["embedding"] = np.asarray(embedding, dtype=np.float32)
        if self.cross_lingual is not None:
            state["other_filters"] = {**filters, "doc_id": self.only_elsewhere(detect_language(question))}
        return state

    def only_elsewhere(self, language: str) -> list[str]:
        """The documents a question in ``language`` finds only across languages (no version in ``language``),
        recomputed when the knowledge base changes (:func:`~workbench.pipelines.crosslingual.only_elsewhere`)."""
        docs = self.kb.store.documents  # an update replaces the list
        if self._elsewhere is None or self._elsewhere[0] is not docs:
            self._elsewhere = (docs, only_elsewhere(docs, key=self.cfg.retriever.translation_key))
        return self._elsewhere[1].get(language, [])

    async def _aembed(self, comp: QueryEmbedder, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.batcher is not None:
            return {"embedding": await self.batcher.embed(kwargs["text"])}
        return await comp.run_async(**kwargs)

    def _answer(self, question: str, state: Mapping[str, Any], timings: dict[str, float], t0: int,
                on_piece: Callable[[str], None] | None = None) -> RAGAnswer:
        language = detect_language(question)
        decision: dict[str, Any] = state.get("abstention") or {}
        abstained = bool(decision.get("abstained"))
        if abstained and on_piece is not None:
            on_piece(abstain_answer(language))  # a streaming client sees the abstention as the answer's text
        reply = state["replies"][0] if state.get("replies") else ""
        if not abstained and self.prompt_builder.not_found and is_not_found(reply):
            # the model said its context does not answer (``prompt.not_found``): an abstention after the gate's
            # (a streaming client has seen the reply's pieces; the final answer is the abstention's text)
            abstained = True
            decision = {**decision, "abstained": True, "reason": "generator: the context does not answer"}
        timings["total"] = (_NS() - t0) / 1e6
        meta = state["meta"][0] if state.get("meta") and not abstained else {}
        docs: list[Document] = [] if abstained else state.get("documents", [])
        return RAGAnswer(
            question=question,
            answer=abstain_answer(language) if abstained else reply,
            sources=[Source(id=d.meta.get("doc_id", d.id), passage_id=d.id, title=d.meta.get("title", ""),
                            text=d.content or "", score=float(d.score or 0.0)) for d in docs],
            timings_ms={k: round(v, 3) for k, v in timings.items()},
            tokens=int(meta.get("completion_tokens") or 0),
            language=language,
            config_hash=self.config_hash,
            kb_version=self.kb.version,
            generator_meta=meta,
            abstained=abstained,
            abstention=decision,
        )

    def _plan(self, plan: QueryPlan | None, top_k: int | None) -> QueryPlan:
        plan = plan or FULL_PLAN
        return replace(plan, top_k=top_k) if top_k is not None else plan

    def retrieve(self, question: str, *, tenant: str | None = None, top_k: int | None = None,
                 timings: dict[str, float] | None = None, plan: QueryPlan | None = None) -> list[Document]:
        """The passages the generator would see (after fusion, reranking and cross-lingual slots), ``top_k`` of
        them (retrieval only: the abstention gate does not run)."""
        return self.retrieval_state(question, tenant=tenant, top_k=top_k, timings=timings, plan=plan)["documents"]

    def retrieval_state(self, question: str, *, tenant: str | None = None, top_k: int | None = None,
                        timings: dict[str, float] | None = None, plan: QueryPlan | None = None) -> dict[str, Any]:
        """The request's slots after retrieval, before the abstention gate: ``documents`` (final ranking),
        ``dense`` and ``bm25`` (each retriever's list; empty when it did not run) and ``other`` (the
        other-language partition's hits). What a gate reads; calibration uses it."""
        self.warm_up(fallbacks=False)
        plan = self._plan(plan, top_k)
        state = self._state(question, tenant, plan, None)
        return run_stages(self.stages, plan, state, timings if timings is not None else {}, until="abstention")

    def run(self, question: str, *, tenant: str | None = None, top_k: int | None = None,
            streaming_callback: Callable[[str], None] | None = None, plan: QueryPlan | None = None,
            history: list[dict[str, str]] | None = None, embedding: np.ndarray | Sequence[float] | None = None) -> RAGAnswer:
        """Answer one question (validated first), blocking, timing every stage in milliseconds.

        ``plan``: what to run (default: full service); ``history``: earlier chat messages for the generator;
        ``embedding``: the question's embedding by this pipeline's query model (a cache lookup computed it):
        the embed stage is skipped.
        """
        question = validate_question(question, self.cfg.limits.max_question_chars)
        self.warm_up(fallbacks=False)
        t0 = _NS()
        plan = self._plan(plan, top_k)
        timings: dict[str, float] = {}
        state = run_stages(self.stages, plan, self._state(question, tenant, plan, history, embedding), timings,
                           on_piece=streaming_callback)
        return self._answer(question, state, timings, t0, streaming_callback)

    async def arun(self, question: str, *, tenant: str | None = None, top_k: int | None = None,
                   plan: QueryPlan | None = None, history: list[dict[str, str]] | None = None,
                   streaming_callback: Callable[[str], None] | None = None,
                   embedding: np.ndarray | Sequence[float] | None = None) -> RAGAnswer:
        """:meth:`run` on the event loop (models on their worker threads); ``streaming_callback`` receives
        the text pieces on the loop's thread."""
        question = validate_question(question, self.cfg.limits.max_question_chars)
        if self._warm < 2:
            await asyncio.to_thread(self.warm_up)
        t0 = _NS()
        plan = self._plan(plan, top_k)
        timings: dict[str, float] = {}
        state = await arun_stages(self.stages, plan, self._state(question, tenant, plan, history, embedding),
                                  timings, on_piece=streaming_callback)
        return self._answer(question, state, timings, t0, streaming_callback)

    async def astream(self, question: str, *, tenant: str | None = None, top_k: int | None = None,
                      plan: QueryPlan | None = None, history: list[dict[str, str]] | None = None,
                      embedding: np.ndarray | Sequence[float] | None = None) -> AsyncIterator[str | RAGAnswer]:
        """The answer's text pieces as they are generated, then the :class:`RAGAnswer` (the same as :meth:`arun`)."""
        pieces: asyncio.Queue[Any] = asyncio.Queue()
        task = asyncio.ensure_future(self.arun(question, tenant=tenant, top_k=top_k, plan=plan, history=history,
                                               streaming_callback=pieces.put_nowait, embedding=embedding))
        task.add_done_callback(lambda _t: pieces.put_nowait(_END))
        try:
            while (item := await pieces.get()) is not _END:
                yield item
            yield task.result()
        finally:
            if not task.done():
                task.cancel()

    # -- the same stages as a Haystack Pipeline ----------------------------------------------------------
    def _wiring(self) -> tuple[Pipeline, dict[str, dict[str, str]], dict[str, str]]:
        if self._haystack is None:
            self.warm_up(fallbacks=False)
            pipe, request, writer = haystack_wiring(self.stages, FULL_PLAN)
            if "embedding" in writer and self.dense_answers:  # as _generator_inputs does for run/astream
                pipe.connect(writer["embedding"], "generator.query_embedding")
            if "embedding" in writer and self.prompt_builder.dense:  # as _prompt_inputs does
                pipe.connect(writer["embedding"], "prompt_builder.query_embedding")
            self._haystack = (pipe, request, writer)
        return self._haystack

    def to_haystack(self) -> Pipeline:
        """The stages of full service wired as a ``haystack.Pipeline`` (the same, shared and warmed components;
        built once). Its inputs for one question: :meth:`haystack_inputs`; the whole answer: :meth:`run_haystack`."""
        return self._wiring()[0]

    def haystack_inputs(self, question: str, tenant: str | None = None) -> dict[str, dict[str, Any]]:
        """The ``Pipeline.run`` data for one question (every input no stage provides)."""
        state = self._state(question, tenant, FULL_PLAN, None)
        return {name: {param: state[slot] for param, slot in params.items()}
                for name, params in self._wiring()[1].items()}

    def run_haystack(self, question: str, *, tenant: str | None = None) -> RAGAnswer:
        """Answer one question through :meth:`to_haystack` (only ``total`` is timed)."""
        question = validate_question(question, self.cfg.limits.max_question_chars)
        pipe, _, writer = self._wiring()
        t0 = _NS()
        slots = [slot for slot in ("documents", "replies", "meta", "abstention") if slot in writer]
        out = pipe.run(self.haystack_inputs(question, tenant),
                       include_outputs_from={writer[slot].split(".")[0] for slot in slots})
        state = {slot: out[comp][name] for slot in slots for comp, name in [writer[slot].split(".")]
                 if name in out.get(comp, {})}
        return self._answer(question, state, {}, t0)


def build_query_pipeline(cfg: PipelineConfig, *, kb: KnowledgeBase | None = None, progress: bool = True,
                         warm_up: bool = True) -> QueryPipeline:
    """Load (or build) the knowledge base of ``cfg`` and return its warmed query pipeline."""
    qp = QueryPipeline(cfg, kb or load_knowledge_base(cfg, progress=progress))
    if warm_up:
        qp.warm_up(fallbacks=False)
    return qp
