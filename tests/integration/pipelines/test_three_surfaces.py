"""The pipeline's three surfaces (blocking ``run``, ``astream``, the Haystack ``Pipeline``) answer alike,
for every preset in ``configs/`` (abstention and cross-lingual retrieval as each preset configures them) and
for the degraded plans the serving engine uses."""

from __future__ import annotations

import asyncio

import pytest

from workbench.config import PipelineConfig, list_presets
from workbench.pipelines import QueryPipeline, RAGAnswer, load_knowledge_base
from workbench.pipelines.abstention import ABSTAIN_ANSWERS
from workbench.pipelines.plan import GeneratorChoice, QueryPlan

QUESTIONS = ["how much is the gold card annual fee", "信用卡丢了怎么办", "how long does an international transfer take?",
             "whats the wether in paris tomorrow"]
OFF_TOPIC = ["whats the wether in paris tomorrow", "今晚上海会下雨吗"]


def _streamed(qp: QueryPipeline, question: str, plan: QueryPlan | None = None) -> tuple[list[str], RAGAnswer]:
    async def collect() -> list[str | RAGAnswer]:
        try:
            return [item async for item in qp.astream(question, plan=plan)]
        finally:
            await qp.aclose()

    items = asyncio.run(collect())
    *pieces, final = items
    assert isinstance(final, RAGAnswer) and all(isinstance(p, str) for p in pieces)
    return pieces, final  # type: ignore[return-value]


def _same(a: RAGAnswer, b: RAGAnswer) -> None:
    assert a.answer == b.answer and a.abstained == b.abstained
    assert [(s.id, s.passage_id) for s in a.sources] == [(s.id, s.passage_id) for s in b.sources]
    assert [s.score for s in a.sources] == pytest.approx([s.score for s in b.sources], rel=1e-5)


def _presets() -> list[object]:
    """Every preset; one whose generator is a language model is slow (Gemma on 2 shared cores: minutes)."""
    return [pytest.param(p, marks=pytest.mark.slow) if PipelineConfig.load(p).generator.kind != "extractive" else p
            for p in list_presets()]


@pytest.mark.parametrize("preset", _presets())
def test_run_astream_and_haystack_agree(preset: str, default_config: PipelineConfig, knowledge_base) -> None:  # type: ignore[no-untyped-def]
    cfg = PipelineConfig.load(preset).model_copy(update={"index_dir": default_config.index_dir})
    kb = knowledge_base if cfg.index_hash == default_config.index_hash else load_knowledge_base(cfg, progress=False)
    qp = QueryPipeline(cfg, kb)
    questions = QUESTIONS[:2] + QUESTIONS[3:] if cfg.generator.kind != "extractive" else QUESTIONS  # an LLM: ~1 s
    for q in questions:
        direct = qp.run(q)
        pieces, streamed = _streamed(qp, q)
        hay = qp.run_haystack(q)
        assert direct.answer and (direct.sources or direct.abstained), (preset, q)
        assert direct.abstained == (q == QUESTIONS[3] and cfg.abstention.enabled), (preset, q)
        _same(direct, streamed)
        _same(direct, hay)
        assert pieces, "the answer streams at least one piece"
        assert direct.tokens == streamed.tokens == hay.tokens
        assert set(direct.timings_ms) == set(streamed.timings_ms)  # the same stages ran


def test_degraded_plans_agree_and_drop_what_they_say(default_config: PipelineConfig, knowledge_base) -> None:  # type: ignore[no-untyped-def]
    cfg = default_config.with_overrides({"reranker.kind": "embedding", "reranker.model": "minilm"})
    qp = QueryPipeline(cfg, knowledge_base)
    q = QUESTIONS[0]
    full = qp.run(q)
    assert "rerank" in full.timings_ms and len(full.sources) == cfg.reranker.top_k
    no_rerank = QueryPlan(rerank=False)
    plain = qp.run(q, plan=no_rerank)
    _same(plain, _streamed(qp, q, no_rerank)[1])
    assert "rerank" not in plain.timings_ms and len(plain.sources) == cfg.retriever.top_k
    bm25_only = QueryPlan(retrievers=("bm25",), generator=GeneratorChoice.EXTRACTIVE, top_k=2)
    lexical = qp.run(q, plan=bm25_only)
    _same(lexical, _streamed(qp, q, bm25_only)[1])
    assert "embed" not in lexical.timings_ms and "retrieve_dense" not in lexical.timings_ms
    assert len(lexical.sources) == 2 and lexical.generator_meta["model"] == "extractive"


def test_an_abstention_is_the_same_on_every_surface_and_stops_before_the_prompt(
        default_config: PipelineConfig, knowledge_base) -> None:  # type: ignore[no-untyped-def]
    default_qp = QueryPipeline(default_config, knowledge_base)
    for question, lang in zip(OFF_TOPIC, ("en", "zh"), strict=True):
        direct = default_qp.run(question)
        pieces, streamed = _streamed(default_qp, question)
        hay = default_qp.run_haystack(question)
        for r in (direct, streamed, hay):
            assert r.abstained and r.answer == ABSTAIN_ANSWERS[lang] and r.sources == [] and r.tokens == 0
        assert pieces == [ABSTAIN_ANSWERS[lang]]
        assert direct.abstention["reason"] == "gate" and direct.abstention["score"] > 0
        assert "abstain" in direct.timings_ms and not {"prompt", "generate"} & set(direct.timings_ms)
        assert set(direct.timings_ms) == set(streamed.timings_ms)
    answered = default_qp.run("how much is the gold card annual fee")
    assert not answered.abstained and answered.abstention["score"] < 0 and "generate" in answered.timings_ms
    assert "600" in answered.answer and answered.sources[0].id == "cards-gold-card-en"


async def test_a_given_embedding_skips_the_embed_stage_and_answers_alike(default_config: PipelineConfig,
                                                                         knowledge_base) -> None:  # type: ignore[no-untyped-def]
    qp = QueryPipeline(default_config, knowledge_base)
    q = QUESTIONS[0]
    direct = qp.run(q)
    vec = qp.query_embedder.run(text=q)["embedding"]  # type: ignore[union-attr]
    for given in (qp.run(q, embedding=vec), await qp.arun(q, embedding=vec.tolist())):
        _same(direct, given)
        assert "embed" not in given.timings_ms and "retrieve_dense" in given.timings_ms
    other = qp.run(q, embedding=qp.query_embedder.run(text=OFF_TOPIC[0])["embedding"])  # type: ignore[union-attr]
    assert [s.passage_id for s in other.sources] != [s.passage_id for s in direct.sources]  # the vector is used
