"""Everything a run is made of, as one declarative :class:`PipelineConfig`.

A config is a tree of small frozen pydantic sections, read from and written to YAML, with a stable
content hash. Presets live in the repository's ``configs/`` folder::

    cfg = PipelineConfig.load("fast")                 # a preset name, or a path to a YAML file
    cfg2 = cfg.with_overrides({"retriever.mode": "bm25", "retriever.top_k": 10})
    cfg2.hash != cfg.hash                             # True: every knob is in the hash
    cfg2.to_yaml("my.yaml")
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench.errors import ConfigError
from workbench.text import TOKENIZER_VERSION

__all__ = [
    "AbstentionConfig",
    "CacheConfig",
    "CacheJudgeConfig",
    "DegradationConfig",
    "EmbedderConfig",
    "ExactCacheConfig",
    "GateConfig",
    "GeneratorConfig",
    "HotspotConfig",
    "IndexConfig",
    "KnowledgeBaseConfig",
    "LimitsConfig",
    "MemoryConfig",
    "NormalizerConfig",
    "PRESETS_DIR",
    "PipelineConfig",
    "PromptConfig",
    "ReportConfig",
    "RerankerConfig",
    "RetrieverConfig",
    "SemanticCacheConfig",
    "ServingConfig",
    "SplitterConfig",
    "ToolsConfig",
    "UserSnapshotConfig",
    "VariantConfig",
    "list_presets",
]

#: Where preset YAML files live: ``workbench/configs``, package data (in a source checkout a link to the
#: repository's ``configs/``), so an installed workbench finds them too.
PRESETS_DIR = Path(__file__).resolve().parent / "configs"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KnowledgeBaseConfig(_Section):
    """What to index."""

    dataset: str | None = "meridian_bank"
    """A dataset name under ``datasets/`` (or a path to a dataset folder); ``None`` to index only ``paths``."""
    paths: tuple[str, ...] = ()
    """Extra files or folders to index: ``.txt``, ``.md``, ``.jsonl``, ``.csv``."""
    languages: tuple[Literal["en", "zh"], ...] | None = None
    """Keep only documents in these languages (``None``: all)."""
    tenant: str = "default"
    """Tenant tag written into every document's metadata; retrieval filters by it."""

    @model_validator(mode="after")
    def _something_to_index(self) -> KnowledgeBaseConfig:
        if self.dataset is None and not self.paths:
            raise ValueError("nothing to index: set knowledge_base.dataset or knowledge_base.paths")
        return self


class SplitterConfig(_Section):
    """How documents are cut into passages (sentence-aware, Chinese and English)."""

    enabled: bool = True
    max_chars: int = Field(600, ge=50, le=20_000)
    """A passage holds whole sentences up to this many characters."""
    overlap_sentences: int = Field(1, ge=0, le=10)
    """Sentences repeated at the start of the next passage."""


class EmbedderConfig(_Section):
    """The dense embedding model, for documents and queries."""

    model: str = "e5-small"
    """A bundled model name (``minilm``, ``e5-small``) or a local sentence-transformers folder."""
    batch_size: int = Field(32, ge=1, le=4096)
    threads: int | None = Field(1, ge=1, le=256)
    """Torch intra-op threads for this model; 1 is fastest for single queries on 2 cores (measured)."""


class IndexConfig(_Section):
    """The FAISS vector index."""

    kind: Literal["flat", "hnsw", "ivf"] = "flat"
    metric: Literal["cosine", "ip", "l2"] = "cosine"
    hnsw_m: int = Field(32, ge=4, le=256)
    hnsw_ef_construction: int = Field(80, ge=8, le=4096)
    hnsw_ef_search: int = Field(64, ge=1, le=4096)
    ivf_nlist: int = Field(64, ge=1, le=1_000_000)
    """Number of IVF cells; capped at (number of vectors / 39) so training has enough points."""
    ivf_nprobe: int = Field(8, ge=1, le=1_000_000)


class RetrieverConfig(_Section):
    """Dense, BM25 or hybrid retrieval."""

    mode: Literal["dense", "bm25", "hybrid"] = "hybrid"
    top_k: int = Field(5, ge=1, le=1000)
    candidates: int = Field(20, ge=1, le=10_000)
    """How many candidates each retriever passes to fusion or the reranker."""
    bm25_tokenizer: Literal["auto", "jieba", "bigram", "whitespace"] = "auto"
    """``auto``: jieba words for Chinese runs, lower-cased words for the rest."""
    bm25_k1: float = Field(1.5, gt=0)
    bm25_b: float = Field(0.75, ge=0, le=1)
    rrf_k: int = Field(60, ge=1)
    """Reciprocal rank fusion constant: score = sum(weight / (rrf_k + rank))."""
    weights: dict[Literal["dense", "bm25"], float] = Field(default_factory=lambda: {"dense": 1.0, "bm25": 1.0})
    cross_lingual: Literal["none", "partition"] = "none"
    """``partition``: also search (dense) the documents that exist only in another language than the question's,
    and give the best of them ranks ``cross_lingual_rank``, ``cross_lingual_rank + 1``... of the result list
    (``workbench.pipelines.crosslingual``). It searches embeddings: with ``mode: bm25`` it does nothing."""
    cross_lingual_slots: int = Field(2, ge=1, le=20)
    """How many ranks ``partition`` reserves for documents found only in another language."""
    cross_lingual_rank: int = Field(4, ge=1, le=1000)
    """The first reserved rank (from 1): the ranks before it keep the question-language results."""
    translation_key: str | None = "topic"
    """The document metadata field that the translations of one article share (``None``: no document has a
    translation, so every document in another language is searched by ``partition``)."""


class RerankerConfig(_Section):
    """Optional second-stage rescoring of the retrieved passages."""

    kind: Literal["none", "embedding", "cross-encoder"] = "none"
    model: str | None = None
    """``embedding``: a bundled embedder name or folder; ``cross-encoder``: a local cross-encoder folder."""
    top_k: int = Field(3, ge=1, le=1000)
    blend: float = Field(0.5, ge=0, le=1)
    """``embedding``: weight of the new score against the first-stage rank (1 = new score only)."""

    @model_validator(mode="after")
    def _model_required(self) -> RerankerConfig:
        if self.kind == "cross-encoder" and not self.model:
            raise ValueError("reranker.kind 'cross-encoder' needs reranker.model: the path of a local cross-encoder folder")
        return self


class PromptConfig(_Section):
    """How retrieved passages and the question become a prompt."""

    style: Literal["few-shot", "instruction"] = "few-shot"
    """``few-shot``: two worked examples in the question's language (small base models need them)."""
    examples: int = Field(2, ge=0, le=4)
    max_passages: int = Field(3, ge=1, le=50)
    max_context_chars: int = Field(1500, ge=100, le=200_000)
    context: Literal["passages", "sentences"] = "passages"
    """``sentences``: only the ``max_sentences`` best-ranked sentences of the passages (short prompts for small models)."""
    max_sentences: int = Field(3, ge=1, le=100)
    sentence_dense_weight: float = Field(1.5, ge=0, le=100)
    """``sentences`` with a dense embedder and the knowledge base's sentence vectors: each candidate sentence's
    score gains this weight x the z-scored question-sentence cosine (the retrieval's query embedding, reused),
    as ``generator.sentence_dense_weight`` does for extractive answers. 0: lexical only. 1.5 was picked on the
    tune half (a right sentence among ``quality``'s 3: en 0.799 -> 0.824, zh 0.730 -> 0.770; 0.5-3 tried); test
    half: en 0.755 -> 0.767, zh 0.709 -> 0.768, and ``quality``'s answers did not get worse (30 + 30 questions,
    paired: en +0.033, zh +0.000; bench/bench_answers.py --tune-prompt, bench/results/prompt_sentence_weight.json)."""
    not_found: bool = False
    """Tell the model to reply "NOT FOUND" / "没有找到" when its context does not answer; that reply becomes an
    abstention (``abstained: true``, reason ``generator: ...``) after the gate's. For instruction-tuned chat
    models; a small base model would not follow it. Off in ``quality``: with the gate it abstained 23 of 35
    in-domain unanswerable test questions (gate alone 15) but 10 of 60 answerable ones (gate alone 3)."""


class GeneratorConfig(_Section):
    """The answer generator."""

    kind: Literal["extractive", "llama-cpp", "transformers", "openai"] = "extractive"
    model: str | None = None
    """``llama-cpp``: a bundled name (``gemma-3-270m``, ``smollm2-135m``) or a .gguf path;
    ``transformers``: the same names, or a local Hugging Face model folder; ``openai``: the model
    name the server expects."""
    max_tokens: int = Field(48, ge=1, le=8192)
    temperature: float = Field(0.0, ge=0, le=2)
    threads: int | None = Field(2, ge=1, le=256)
    context_window: int = Field(2048, ge=256, le=1_000_000)
    base_url: str | None = None
    """``openai``: the server's base URL, e.g. ``http://127.0.0.1:8001/v1``."""
    api_key: str | None = None
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(2, ge=0, le=10)
    stop: tuple[str, ...] = ("\n",)
    """Generation stops at any of these strings (a base model never stops on its own)."""
    grounding: Literal["off", "extractive"] = "off"
    """``extractive``: replace a reply that does not occur in its context with the extractive answer."""
    chat: bool | None = None
    """Use the model's chat template (``None``: decided by the model, e.g. SmolLM2 yes, Gemma base no)."""
    sentence_dense_weight: float = Field(1.0, ge=0, le=100)
    """``extractive`` with a dense embedder (``retriever.mode`` dense or hybrid): each candidate sentence's
    score gains this weight x the z-score (within the question's candidates) of its cosine with the question
    (the retrieval embedding, reused; sentence vectors computed when the knowledge base is built). 0: lexical
    only. 1.0 was picked on the tune half of the bank questions (bench/bench_answers.py)."""
    by_language: dict[Literal["en", "zh"], dict[str, Any]] = Field(default_factory=dict)
    """Another generator for the questions of a language: that language's changes to this section, e.g.
    ``{zh: {model: qwen2.5-coder-1.5b}}`` (``workbench.components.generators.language_routed``)."""

    @model_validator(mode="after")
    def _backend_fields(self) -> GeneratorConfig:
        if self.kind in ("llama-cpp", "transformers") and not self.model:
            raise ValueError(f"generator.kind {self.kind!r} needs generator.model (e.g. 'gemma-3-270m' or a path)")
        if self.kind == "openai" and not self.base_url:
            raise ValueError("generator.kind 'openai' needs generator.base_url, e.g. http://127.0.0.1:8001/v1")
        for lang in self.by_language:
            self.for_language(lang)  # each language's generator must be valid on its own
        return self

    def for_language(self, lang: str) -> GeneratorConfig:
        """The generator section of ``lang``'s questions: this one with ``by_language[lang]``'s changes."""
        changes = self.by_language.get(lang)  # type: ignore[call-overload]
        if not changes:
            return self
        if "by_language" in changes:
            raise ValueError("generator.by_language entries cannot nest by_language")
        return GeneratorConfig.model_validate({**self.model_dump(exclude={"by_language"}), **changes})


GateSignal = Literal["dense_top1", "bm25_per_token", "coverage", "unknown_words", "grounding"]


class GateConfig(_Section):
    """One language's abstention gate: a logistic model over named signals (``workbench.pipelines.abstention``).

    The gate abstains when ``bias + sum(weights[s] * signal[s])`` (a logit) is above ``abstention.threshold``;
    ``workbench.pipelines.abstention.GateModel.fit`` computes both from labelled questions."""

    bias: float = 0.0
    weights: dict[GateSignal, float] = Field(default_factory=dict)
    """``dense_top1``: best dense cosine; ``bm25_per_token``: best BM25 score per question token; ``coverage``:
    IDF share of the question's words in the best passage of its language; ``unknown_words``: IDF share of
    its words found nowhere in the knowledge base; ``grounding``: the grounding model's log P(yes) - log P(no)."""


class AbstentionConfig(_Section):
    """Answer "I couldn't find that in the knowledge base" (in the question's language) when a calibrated gate
    says the retrieved passages do not answer the question."""

    enabled: bool = False
    grounding: Literal["none", "llm"] = "none"
    """``llm``: also ask a local chat model whether the best sentences answer the question (yes/no logits),
    and use ``grounded_gate``; ``none``: retrieval signals only (``retrieval_gate``). A plan with
    ``grounding=False`` (degraded service) always uses ``retrieval_gate``."""
    grounding_model: str = "qwen2.5-coder-0.5b"
    """A bundled GGUF chat model name or a .gguf path (``grounding: llm``)."""
    grounding_threads: int = Field(1, ge=1, le=256)
    """llama.cpp threads of the grounding model."""
    threshold: float = 0.0
    """The gate abstains when its logit is above this (0: the cut fitted with the bias); raise it to abstain
    less, lower it to abstain more."""
    retrieval_gate: dict[Literal["en", "zh"], GateConfig] = Field(default_factory=dict)
    """Per question language; a language without a gate never abstains."""
    grounded_gate: dict[Literal["en", "zh"], GateConfig] = Field(default_factory=dict)
    """Per question language, with the ``grounding`` signal (``grounding: llm``)."""

    @model_validator(mode="after")
    def _gates_present(self) -> AbstentionConfig:
        if self.enabled and not self.retrieval_gate:
            raise ValueError("abstention.enabled needs abstention.retrieval_gate (fit one with "
                             "python bench/bench_answers.py --calibrate)")
        if self.enabled and self.grounding == "llm" and not self.grounded_gate:
            raise ValueError("abstention.grounding 'llm' needs abstention.grounded_gate (python bench/bench_answers.py "
                             "--calibrate --grounding llm)")
        return self


class LimitsConfig(_Section):
    """Input limits enforced before any work is done."""

    max_question_chars: int = Field(2000, ge=1, le=1_000_000)


class NormalizerConfig(_Section):
    """Query normalization before cache lookups."""

    intent_map: str | None = None
    """A YAML/JSON file mapping phrasings to a canonical question (e.g. "我有多少额度" → "查询信用卡可用额度")."""
    strip_punctuation: bool = True


class ExactCacheConfig(_Section):
    """Exact-match result cache (key: tenant, knowledge-base version, config hash, normalized query)."""

    enabled: bool = True
    ttl_s: float = Field(300.0, gt=0)
    max_entries: int = Field(10_000, ge=1)
    max_bytes: int = Field(64 * 1024 * 1024, ge=1024)


class CacheJudgeConfig(_Section):
    """The semantic layer's judge tier: for a candidate whose similarity is at or above ``threshold`` but below
    ``accept_above`` (and that the rules accept), a model decides whether the two questions ask for the same
    answer. Verdicts are cached (in process and in the cache backend); a failing judge refuses (a miss)."""

    kind: Literal["none", "local", "openai"] = "none"
    """``local``: a GGUF chat model in process (llama.cpp), scored by its yes/no logits; ``openai``: any
    OpenAI-compatible chat model, asked for a yes/no reply; ``none``: no judge (the rules alone decide)."""
    model: str = "qwen2.5-coder-1.5b"
    """``local``: a bundled GGUF name or a path; ``openai``: the served model's name."""
    base_url: str | None = None
    """``openai``: the server's base URL (``http://host:port/v1``)."""
    api_key_env: str | None = None
    """``openai``: the environment variable that holds the API key (never the key itself)."""
    accept_above: float = Field(1.0, ge=-1.0, le=1.0)
    """At or above this similarity the rules alone decide; below it (down to ``threshold``) the judge is asked."""
    cutoff: float = 0.0
    """``local``: the judge says "same" when log P(yes) - log P(no) is at least this."""
    timeout_s: float = Field(10.0, gt=0)
    """A verdict not given in time is a refusal (counted as a judge failure)."""
    retry_interval_s: float = Field(5.0, ge=0)
    """After a failure the judge is not asked again for this long (its candidates are refused)."""
    verdict_ttl_s: float = Field(86_400.0, gt=0)
    """How long a verdict stays in the cache backend (shared by the workers)."""
    lru_entries: int = Field(10_000, ge=1)
    """Verdicts kept in process."""
    threads: int = Field(2, ge=1)
    """``local``: llama.cpp threads."""
    rules_in_band: bool = True
    """The rules still refuse inside the band (the judge sees only what they accept); ``False``: the judge
    alone decides there, so it can also serve paraphrases the rules would refuse."""


class SemanticCacheConfig(_Section):
    """Nearest-neighbour cache over query embeddings, with a similarity threshold and a verifier."""

    enabled: bool = True
    threshold: float = Field(0.96, ge=-1.0, le=1.0)
    """Cosine similarity at or above which a cached answer may be served (0.96: what `pick_threshold` chose for
    a 1% wrong-hit target with e5-small on the paraphrase/near-miss sweep; 0.92 let 5% of hits be wrong)."""
    model: str | None = None
    """Embedding model for the cache (``None``: the pipeline's embedder)."""
    verifier: Literal["none", "rules"] = "rules"
    """``rules``: reject hits whose numbers, negations, antonyms or entities differ from the query's."""
    lexicon: str = "bank"
    """The rules' domain words: a bundled lexicon name (``bank``) or a path to a YAML/JSON lexicon file
    (``workbench.cache.verifier.Lexicon``)."""
    refusal_margin: float = Field(0.02, ge=0.0, le=2.0)
    """How much closer (cosine) a candidate must be to the query than to a nearer candidate the verifier
    refused, to be served in its place (``workbench.cache.semantic.clearly_closer``)."""
    judge: CacheJudgeConfig = CacheJudgeConfig()
    """The judge tier between ``threshold`` and ``judge.accept_above`` (off by default)."""
    ttl_s: float = Field(300.0, gt=0)
    max_entries: int = Field(10_000, ge=1)


class UserSnapshotConfig(_Section):
    """Per-user data (tool results such as a card limit), never shared across users."""

    enabled: bool = True
    ttl_s: float = Field(120.0, gt=0)
    max_entries: int = Field(100_000, ge=1)


class HotspotConfig(_Section):
    """Hot-question detection and background refresh before TTL expiry."""

    enabled: bool = False
    window_s: float = Field(300.0, gt=0)
    top_k: int = Field(20, ge=1)
    refresh_ahead_s: float = Field(60.0, ge=0)
    """Refresh a hot entry when it has less than this many seconds to live."""
    max_refreshes_per_s: float = Field(2.0, gt=0)


class CacheConfig(_Section):
    """The multi-layer cache in front of the pipeline (off by default)."""

    enabled: bool = False
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "wb"
    normalizer: NormalizerConfig = NormalizerConfig()
    exact: ExactCacheConfig = ExactCacheConfig()
    semantic: SemanticCacheConfig = SemanticCacheConfig()
    user_snapshot: UserSnapshotConfig = UserSnapshotConfig()
    hotspot: HotspotConfig = HotspotConfig()


class MemoryConfig(_Section):
    """Conversation memory per session (off by default)."""

    enabled: bool = False
    store: Literal["memory", "sqlite", "redis", "postgres"] = "sqlite"
    url: str | None = None
    """sqlite: a file path (default ``.workbench/sessions.sqlite3``); redis: ``redis://...``; postgres: a DSN."""
    window_turns: int = Field(5, ge=1, le=1000)
    max_tokens: int = Field(1024, ge=16)
    """Token cap on the history passed to the model (counted with the generator's tokenizer)."""
    summarize: bool = False
    """Compress turns that fall out of the window into a running summary (the summary hook)."""
    idle_ttl_s: float = Field(86_400.0, gt=0)
    rewrite_followups: bool = True
    """Rewrite a follow-up ("and for the platinum one?") into a standalone question before retrieval."""
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """SQLite store (WAL journal): ``FULL`` fsyncs every commit, so an acknowledged turn survives a killed
    worker and a power loss; ``NORMAL`` survives a killed worker (SIGKILL: the commit reached the OS) but
    may lose the last turns in a machine crash, for a cheaper append."""


class ToolsConfig(_Section):
    """Tool plugins: registry, tenant policy, executor limits and audit log (off by default)."""

    enabled: bool = False
    plugins_dir: str | None = None
    """A folder of plugin modules (``None``: the bundled bank plugins)."""
    hot_reload: bool = True
    policy: dict[str, tuple[str, ...]] = Field(default_factory=lambda: {"default": ("*",)})
    """tenant → allowed tool names (``*`` allows all)."""
    timeout_s: float = Field(2.0, gt=0)
    breaker_failures: int = Field(5, ge=1)
    breaker_reset_s: float = Field(30.0, gt=0)
    breaker_store: Literal["memory", "redis"] = "memory"
    """Where circuit-breaker state lives: ``memory``, per process; ``redis``, shared by every worker on
    ``redis_url`` (failures of all workers count together; an open circuit is open for all)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """The Redis server of ``breaker_store: redis``."""
    key_prefix: str = "wb"
    """Prefix of the shared breaker keys (``{key_prefix}:breaker:{tool}``)."""
    max_concurrency: int = Field(8, ge=1)
    audit_log: str | None = ".workbench/audit.sqlite3"
    router: Literal["intent", "llm"] = "intent"
    """How a tool is chosen: a deterministic intent router, or the LLM's structured output."""


class DegradationConfig(_Section):
    """Graceful degradation: ordered levels switched by load, with hysteresis.

    Levels (``workbench.serving.DegradationLevel``): 0 ``full`` → 1 ``no_reranker`` → 2 ``small_generator``
    → 3 ``extractive`` answers → 4 ``cache_only``. Only the levels at which the pipeline does less are entered
    (no ``no_reranker`` without a reranker; no ``small_generator``/``extractive`` with an extractive generator;
    ``small_generator`` only with ``small_generator`` set); level 4 only when ``cache.enabled``, and only on the
    latency signal (admission sheds the excess at the door; shedding every miss helps only when the admitted
    requests still miss the SLO).
    """

    enabled: bool = True
    slo_p95_ms: float = Field(2000.0, gt=0)
    """Escalate when the recent p95 latency of pipeline requests exceeds this."""
    min_samples: int = Field(20, ge=1)
    """The p95 signal counts only when the window holds at least this many pipeline requests: one slow request
    at idle is not a p95 and moves no level."""
    queue_high: float = Field(0.5, gt=0, le=1)
    """Escalate when the admission line is fuller than this fraction of what its wait budget admits."""
    queue_low: float = Field(0.1, ge=0, lt=1)
    """De-escalate only when the line is emptier than this and p95 is not over the SLO."""
    window_s: float = Field(10.0, gt=0)
    """Window of the latency signal (seconds)."""
    cooldown_s: float = Field(5.0, ge=0)
    """Minimum time between level changes (hysteresis)."""
    max_level: int = Field(4, ge=0, le=4)
    """The lightest level that may be entered (4: cache only, when the cache is enabled)."""
    small_generator: GeneratorConfig | None = None
    """The generator of level 2 (``None``: level 2 answers extractively, like level 3)."""
    overflow: bool = False
    """A request the pipeline's admission would shed is answered extractively instead (level 3, in slots of its
    own, with the same latency target; shed only when those are full too), so a peak costs answer quality, not
    answers. Only with an LLM generator and ``max_level`` ≥ 3. On in ``quality``: its one in-process model
    answers about one request per 7 s here, and an extractive answer takes tens of milliseconds."""


class VariantConfig(_Section):
    """One A/B or canary variant: another config with a share of the traffic."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    config: str
    """A preset name or YAML path."""
    share: float = Field(ge=0, le=1)


class ServingConfig(_Section):
    """The async engine and HTTP service."""

    max_queue: int = Field(256, ge=1)
    """Requests waiting for a pipeline slot; beyond it requests are shed at once (HTTP 429)."""
    max_wait_ms: float = Field(2000.0, gt=0)
    """The longest any request waits for a slot; past it the request is shed instead of served late."""
    latency_target_ms: float | None = Field(1000.0, gt=0)
    """Admission's latency objective (set it to the SLO goodput is measured against). A request waits for a
    slot only while it can still make it: the time it already took (its cache lookup), its predicted wait
    (its place in line × the mean service time ÷ the slots) and the p99 service time of recent requests must
    fit; otherwise it is shed at the door with 429 + ``Retry-After``, before any work is done on it. The number
    of slots adapts too: a request that held its slot longer than half the target lowers it (too many ran at
    once on shared cores), fast ones raise it back up to ``max_concurrency``. ``None``: a fixed
    ``max_concurrency`` and only ``max_wait_ms`` bounds a wait."""
    max_concurrency: int | None = Field(None, ge=1)
    """The most pipeline requests in flight at once (cache hits do not take a slot); with ``latency_target_ms``
    the admission finds the real parallelism of the pipeline below it (the LLM server's slots for a remote
    generator). ``None``: 8, except that a generator in this process on the CPU (``llama-cpp``,
    ``transformers``) takes the usable cores ÷ ``generator.threads`` (1 on 2 cores with 2 threads): requests
    that start together slow down alike, which the adaptive limit cannot see."""
    embed_batch_size: int = Field(32, ge=1)
    embed_max_wait_ms: float = Field(2.0, ge=0)
    """Micro-batching: wait at most this long to fill a query-embedding batch."""
    generator_workers: int = Field(2, ge=1)
    """Threads for blocking (in-process) generators; remote generators are native async."""
    request_timeout_s: float = Field(60.0, gt=0)
    max_body_bytes: int = Field(1 << 20, ge=1024)
    """Largest HTTP request body; a bigger one gets a 413 (from Content-Length, or while it streams in)."""
    body_timeout_s: float = Field(30.0, gt=0)
    """An HTTP request body must arrive within this many seconds of its headers (HTTP 408 after)."""
    header_timeout_s: float = Field(10.0, gt=0)
    """A connection must send a request's complete headers within this many seconds (closed after)."""
    tenants: tuple[str, ...] = ("default",)
    """Known tenants; a request for another tenant gets a 404."""
    degradation: DegradationConfig = DegradationConfig()
    variants: tuple[VariantConfig, ...] = ()
    """A/B variants (the config itself is the control and takes the remaining share)."""


class ReportConfig(_Section):
    """What a comparison report's verdict is asked (not part of a pipeline, so no config hash changes): the latency
    SLO, the minimum quality and how sure to be. ``workbench report``/``compare`` take ``--slo-p95-ms`` and
    ``--min-quality``; see :mod:`workbench.reporting.verdict`."""

    slo_p95_ms: float = Field(2000.0, gt=0)
    """A configuration meets the SLO when its p95 end-to-end latency is at most this (under load when the run has
    a load test; the default is ``serving.degradation.slo_p95_ms``'s)."""
    min_quality: float = Field(0.5, ge=0, le=1)
    """The lowest acceptable mean of the quality metric."""
    quality_metric: str = "correct"
    """The per-question quality column (``correct``: the answer-type-aware matcher); a run without it falls back
    to f1, then ndcg@10, then mrr, and the report says so."""
    alpha: float = Field(0.05, gt=0, lt=1)
    """Family-wise error rate of the Holm-corrected paired tests."""
    confidence: float = Field(0.95, gt=0, lt=1)
    """Level of every confidence interval."""
    goodput_flag_ratio: float = Field(0.8, gt=0, le=1)
    """A load run whose goodput is below this share of its offered rate is flagged as overloaded."""
    resamples: int = Field(2000, ge=100)
    """Bootstrap and permutation resamples (seeded)."""
    seed: int = 0


class PipelineConfig(_Section):
    """One whole pipeline: what to index, how to retrieve, rerank, prompt and generate."""

    name: str = "default"
    description: str = ""
    knowledge_base: KnowledgeBaseConfig = KnowledgeBaseConfig()
    splitter: SplitterConfig = SplitterConfig()
    embedder: EmbedderConfig = EmbedderConfig()
    index: IndexConfig = IndexConfig()
    retriever: RetrieverConfig = RetrieverConfig()
    reranker: RerankerConfig = RerankerConfig()
    prompt: PromptConfig = PromptConfig()
    generator: GeneratorConfig = GeneratorConfig()
    abstention: AbstentionConfig = AbstentionConfig()
    limits: LimitsConfig = LimitsConfig()
    cache: CacheConfig = CacheConfig()
    memory: MemoryConfig = MemoryConfig()
    tools: ToolsConfig = ToolsConfig()
    serving: ServingConfig = ServingConfig()
    index_dir: str = ".workbench/indexes"
    """Where built indexes are saved (relative paths are relative to the working directory)."""

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> PipelineConfig:
        """Validate a plain dict; errors name the field and the allowed values."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _config_error(exc, source) from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> PipelineConfig:
        """Read a YAML file."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist; presets: {', '.join(list_presets())}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML: {exc}") from None
        return cls.from_dict(data, source=str(p))

    @classmethod
    def load(cls, name_or_path: str | Path) -> PipelineConfig:
        """A preset name from ``configs/`` (``default``, ``fast``, ``quality``, ...) or a YAML path."""
        text = str(name_or_path)
        preset = PRESETS_DIR / f"{text}.yaml"
        if "/" not in text and not text.endswith((".yaml", ".yml")) and preset.is_file():
            return cls.from_yaml(preset)
        if not Path(text).exists() and not text.endswith((".yaml", ".yml")):
            raise ConfigError(f"unknown preset {text!r}; presets: {', '.join(list_presets())}, or give a YAML path")
        return cls.from_yaml(text)

    def with_overrides(self, overrides: dict[str, Any]) -> PipelineConfig:
        """A copy with dotted-path overrides applied, e.g. ``{"retriever.top_k": 10}``."""
        data = self.model_dump(mode="json")
        for dotted, value in overrides.items():
            node = data
            *parents, leaf = dotted.split(".")
            for part in parents:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"no config section {part!r} in {dotted!r}", field=dotted)
                node = node[part]
            if leaf not in node:
                raise ConfigError(f"no config field {leaf!r}; fields here: {', '.join(sorted(node))}", field=dotted)
            node[leaf] = value
        return PipelineConfig.from_dict(data, source="overrides")

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict."""
        return self.model_dump(mode="json")

    def to_yaml(self, path: str | Path | None = None) -> str:
        """YAML text; also written to ``path`` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    # -- identity -------------------------------------------------------------------------------
    @property
    def hash(self) -> str:
        """Stable content hash of every knob that changes results (not ``name``/``description``)."""
        data = self.to_dict()
        for key in ("name", "description", "index_dir"):
            data.pop(key)
        return _digest(data)

    @property
    def index_hash(self) -> str:
        """Hash of what the built index depends on: the knowledge base, splitter, embedder, index, BM25."""
        d = self.to_dict()
        r = d["retriever"]
        return _digest(
            {
                "knowledge_base": d["knowledge_base"],
                "splitter": d["splitter"],
                "embedder": {"model": d["embedder"]["model"]},
                "index": d["index"],
                "bm25": {k: r[k] for k in ("bm25_tokenizer", "bm25_k1", "bm25_b")},
                "tokenizer_version": TOKENIZER_VERSION,
            }
        )


def _digest(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _config_error(exc: ValidationError, source: str) -> ConfigError:
    lines = []
    first_field = None
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        first_field = first_field or field
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see configs/default.yaml for every field)"
        elif err["type"] == "literal_error":
            msg = f"{msg}; got {err.get('input')!r}"
        lines.append(f"{field}: {msg}")
    text = f"invalid {source}: {lines[0]}" if len(lines) == 1 else f"invalid {source}:\n  " + "\n  ".join(lines)
    error = ConfigError(text)
    error.field = first_field
    return error


def list_presets() -> list[str]:
    """Names of the preset configs in ``configs/``."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
