"""The real knowledge base (multilingual-e5-small over Meridian Bank), built once per session, queried end to end."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import main as cli
from workbench.config import PipelineConfig
from workbench.datasets import load_dataset
from workbench.errors import InputError
from workbench.pipelines import QueryPipeline, load_knowledge_base
from workbench.serving import SimulatedBackend, SimulatedLLM, create_llm_app
from workbench.testing import UvicornServer


def _sample(n: int, seed: int = 3):  # type: ignore[no-untyped-def]
    qs = load_dataset().questions
    return random.Random(seed).sample(qs, n)


def _count_embeddings(cfg: PipelineConfig, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The batch sizes of every embedding call the config's (shared, real) embedding model makes from now on."""
    from workbench.models import load_embedding_model

    embedded: list[int] = []
    model = load_embedding_model(cfg.embedder.model, threads=cfg.embedder.threads)
    for name in ("embed_queries", "embed_passages"):
        real = getattr(model, name)
        monkeypatch.setattr(model, name, lambda texts, _real=real: embedded.append(len(texts)) or _real(texts))
    return embedded


def test_knowledge_base_is_built_saved_and_reloaded(knowledge_base, default_config: PipelineConfig) -> None:  # type: ignore[no-untyped-def]
    ds = load_dataset()
    assert knowledge_base.stats["documents"] == len(ds.documents)
    assert knowledge_base.store.count >= len(ds.documents)
    assert knowledge_base.bm25.documents and len(knowledge_base.bm25.documents) == knowledge_base.store.count
    again = load_knowledge_base(default_config, progress=False)
    assert again.version == knowledge_base.version and "load_s" in again.stats
    assert again.store.count == knowledge_base.store.count


@pytest.mark.parametrize("mode,floor", [("dense", 0.8), ("bm25", 0.8), ("hybrid", 0.85)])
def test_retrieval_hit_at_5(knowledge_base, default_config: PipelineConfig, mode: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    qp = QueryPipeline(default_config.with_overrides({"retriever.mode": mode}), knowledge_base)
    sample = _sample(120)
    hits = sum(any(d.meta["doc_id"] in q.gold_doc_ids for d in qp.retrieve(q.question, top_k=5)) for q in sample)
    assert hits / len(sample) >= floor, f"{mode} hit@5 = {hits / len(sample):.2f}"


def test_answers_sources_and_timings(knowledge_base, default_config: PipelineConfig) -> None:  # type: ignore[no-untyped-def]
    qp = QueryPipeline(default_config, knowledge_base)
    r = qp.run("how much is the gold card annual fee")
    assert r.answer in ("RMB 600", "RMB 600 per year")  # the span, with or without its period
    assert r.sources[0].id == "cards-gold-card-en" and len(r.sources) == default_config.retriever.top_k
    assert {"embed", "retrieve_dense", "retrieve_bm25", "fuse", "prompt", "generate", "total"} <= set(r.timings_ms)
    assert r.timings_ms["total"] >= r.timings_ms["embed"]
    assert r.kb_version == knowledge_base.version and r.config_hash == default_config.hash
    zh = qp.run("金卡年费多少钱")
    assert zh.language == "zh" and "600" in zh.answer and zh.sources[0].id.endswith("-zh")


def test_retrieve_depth_follows_top_k(knowledge_base, default_config: PipelineConfig) -> None:  # type: ignore[no-untyped-def]
    for mode in ("dense", "bm25", "hybrid"):
        qp = QueryPipeline(default_config.with_overrides({"retriever.mode": mode}), knowledge_base)
        assert len(qp.retrieve("how do i report a lost card and get a new one", top_k=30)) == 30, mode


def test_tenant_filter_isolates_knowledge_bases(knowledge_base, default_config: PipelineConfig) -> None:  # type: ignore[no-untyped-def]
    qp = QueryPipeline(default_config, knowledge_base)
    assert qp.retrieve("gold card annual fee", tenant="someone-else") == []
    assert qp.run("gold card annual fee", tenant="someone-else").sources == []


def test_haystack_pipeline_gives_the_same_result(knowledge_base, default_config: PipelineConfig) -> None:  # type: ignore[no-untyped-def]
    qp = QueryPipeline(default_config, knowledge_base)
    pipe = qp.to_haystack()
    for q in ["how much is the gold card annual fee", "信用卡丢了怎么办"]:
        direct = qp.run(q)
        out = pipe.run(qp.haystack_inputs(q), include_outputs_from={"abstention"})
        assert out["generator"]["replies"][0] == direct.answer
        # the passages after fusion, cross-lingual slots and the abstention gate (which passes them on)
        assert [d.id for d in out["abstention"]["documents"]] == [s.passage_id for s in direct.sources]
    data = pipe.to_dict()
    assert data["components"]["dense"]["init_parameters"]["store"] == str(knowledge_base.store.path)
    from haystack import Pipeline

    rebuilt = Pipeline.from_dict(data)
    q = "how much is the gold card annual fee"
    assert rebuilt.run(qp.haystack_inputs(q))["generator"]["replies"][0] == qp.run(q).answer


def test_bad_questions_are_rejected_before_any_work(knowledge_base, default_config: PipelineConfig) -> None:  # type: ignore[no-untyped-def]
    qp = QueryPipeline(default_config.with_overrides({"limits.max_question_chars": 50}), knowledge_base)
    for bad, msg in [("", "empty"), ("   \n", "empty"), ("x" * 51, "limit is 50"), (42, "must be a string")]:
        with pytest.raises(InputError, match=msg):
            qp.run(bad)  # type: ignore[arg-type]


def test_openai_compatible_generator_config(knowledge_base, default_config: PipelineConfig) -> None:  # type: ignore[no-untyped-def]
    app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=5, tpot_ms=1, jitter=0)))
    with UvicornServer(app) as server:
        cfg = default_config.with_overrides({"generator.kind": "openai", "generator.base_url": f"{server.url}/v1"})
        qp = QueryPipeline(cfg, knowledge_base)
        q = "how much is the gold card annual fee"
        r = qp.run(q)
    # the simulated service answers extractively over exactly the context it was sent (flattened passages)
    from haystack import Document

    from workbench.components import ExtractiveAnswerer

    context = qp.prompt_builder.context_texts(q, qp.retrieve(q))
    expected, _ = ExtractiveAnswerer(max_passages=50).answer(q, [Document(content=c) for c in context])
    assert r.answer == expected and r.timings_ms["generate"] > 0 and r.generator_meta["attempts"] == 1


def test_generator_by_language_routes_each_question_to_its_languages_generator(  # type: ignore[no-untyped-def]
        knowledge_base, default_config: PipelineConfig) -> None:
    """``generator.by_language``: English questions go to the OpenAI-compatible service, Chinese ones to the
    section's own (extractive) generator; streaming and async take the same route."""
    import asyncio

    app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=5, tpot_ms=1, jitter=0)))
    with UvicornServer(app) as server:
        cfg = default_config.with_overrides({"abstention.enabled": False, "generator.by_language": {
            "en": {"kind": "openai", "base_url": f"{server.url}/v1"}}})
        qp = QueryPipeline(cfg, knowledge_base)
        en = qp.run("how much is the gold card annual fee")
        zh = qp.run("金卡年费多少")
        pieces: list[str] = []
        streamed = asyncio.run(qp.arun("how much is the gold card annual fee", streaming_callback=pieces.append))
        zh_async = asyncio.run(qp.arun("金卡年费多少"))
    assert en.generator_meta["route"] == "en" and en.generator_meta.get("simulated")
    assert zh.generator_meta["route"] == "default" and not zh.generator_meta.get("simulated") and "600" in zh.answer
    # the routed extractive answerer still gets the retrieval's question embedding (its dense sentence signal)
    assert zh.generator_meta["dense"] is True and zh_async.generator_meta["dense"] is True
    assert zh_async.answer == zh.answer
    assert streamed.generator_meta["route"] == "en" and "".join(pieces).strip() == streamed.answer.strip()


def test_extractive_answers_reuse_the_retrieval_embedding_and_embed_no_sentence(  # type: ignore[no-untyped-def]
        knowledge_base, default_config: PipelineConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """``default`` weighs the question-sentence cosine with the question embedding dense retrieval computed
    (one embedding per request) and the sentence vectors of the knowledge base (no sentence embedded)."""
    from workbench.components import ExtractiveAnswerer

    assert knowledge_base.sentences is not None and knowledge_base.sentences.sentences > 1000
    qp = QueryPipeline(default_config, knowledge_base)
    q = "can i use my credit card abroad"
    docs = qp.retrieve(q)
    embedded = _count_embeddings(default_config, monkeypatch)
    r = qp.run(q)
    assert embedded == [1] and r.generator_meta["dense"] is True  # the question, once; no sentence
    emb = qp.query_embedder.run(text=q)["embedding"]  # type: ignore[union-attr]
    dense = ExtractiveAnswerer(sentence_vectors=knowledge_base.sentences, dense_weight=1.0)
    assert r.answer == dense.answer(q, docs, query_embedding=emb)[0]
    given = qp.run(q, embedding=emb)
    assert "embed" not in given.timings_ms and given.answer == r.answer and given.generator_meta["dense"] is True
    off = QueryPipeline(default_config.with_overrides({"generator.sentence_dense_weight": 0}), knowledge_base).run(q)
    assert off.generator_meta["dense"] is False and off.answer == ExtractiveAnswerer().answer(q, docs)[0]
    lexical = QueryPipeline(default_config.with_overrides({"retriever.mode": "bm25"}), knowledge_base).run(q)
    assert lexical.generator_meta["dense"] is False


@pytest.mark.slow
def test_the_quality_prompt_ranks_its_sentences_with_the_retrieval_embedding(  # type: ignore[no-untyped-def]
        knowledge_base, default_config: PipelineConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """``quality``'s prompt (best sentences) with the simulated OpenAI-compatible service as its LLM: the prompt
    builder gets the question embedding dense retrieval computed (one embedding per request), through the
    blocking, async and Haystack surfaces; ``prompt.sentence_dense_weight: 0`` gives the lexical sentences."""
    import asyncio

    import numpy as np

    from workbench.components import PromptBuilder

    app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=5, tpot_ms=1, jitter=0)))
    q = "fee for withdrawing cash overseas"  # its three best sentences change with the cosine
    with UvicornServer(app) as server:
        quality = PipelineConfig.load("quality").model_copy(update={"index_dir": default_config.index_dir})
        cfg = quality.with_overrides({"abstention.enabled": False, "generator.kind": "openai",
                                      "generator.base_url": f"{server.url}/v1", "prompt.sentence_dense_weight": 1.0})
        qp = QueryPipeline(cfg, knowledge_base)
        assert qp.prompt_builder.dense and qp.prompt_builder.sentence_vectors is knowledge_base.sentences
        seen: list[tuple[list[str], object]] = []
        real = qp.prompt_builder.run

        def spy(**kwargs):  # type: ignore[no-untyped-def]
            out = real(**kwargs)
            seen.append((out["context"], kwargs.get("query_embedding")))
            return out

        monkeypatch.setattr(qp.prompt_builder, "run", spy)
        qp.warm_up(fallbacks=False)
        embedded = _count_embeddings(cfg, monkeypatch)
        r = qp.run(q)
        assert embedded == [1]  # the question, once: the prompt reuses the retrieval's embedding
        emb = qp.query_embedder.run(text=q)["embedding"]  # type: ignore[union-attr]
        docs = qp.retrieve(q)
        dense = qp.prompt_builder.context_texts(q, docs, query_embedding=emb)
        lexical = PromptBuilder(context="sentences", max_sentences=3).context_texts(q, docs)
        assert dense != lexical and seen[0][0] == dense and np.array_equal(seen[0][1], emb)  # type: ignore[arg-type]
        asyncio.run(qp.arun(q))
        qp.run_haystack(q)
        assert [c for c, _ in seen[1:]] == [dense, dense] and all(e is not None for _, e in seen)
        assert r.answer and r.generator_meta.get("simulated")
        off = QueryPipeline(cfg.with_overrides({"prompt.sentence_dense_weight": 0}), knowledge_base)
        assert not off.prompt_builder.dense
        seen.clear()
        real = off.prompt_builder.run
        monkeypatch.setattr(off.prompt_builder, "run", spy)
        off.run(q)
    assert seen == [(lexical, None)]


@pytest.mark.slow
def test_quality_preset_with_qwen(knowledge_base, default_config: PipelineConfig) -> None:  # type: ignore[no-untyped-def]
    cfg = PipelineConfig.load("quality").model_copy(update={"index_dir": default_config.index_dir})
    qp = QueryPipeline(cfg, knowledge_base)
    r = qp.run("how much is the gold card annual fee")
    assert "600" in r.answer
    assert "rerank" in r.timings_ms and "guard" not in r.timings_ms
    assert r.generator_meta["model"] == "qwen2.5-coder-1.5b" and len(r.sources) == 5


def test_cli_index_and_ask_json(default_config: PipelineConfig, knowledge_base) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    idx = runner.invoke(cli, ["index", "default", "--set", f"index_dir={default_config.index_dir}"])
    assert idx.exit_code == 0, idx.output
    assert "loaded knowledge base" in idx.output
    res = runner.invoke(cli, ["ask", "default", "how much is the gold card annual fee", "--json",
                              "--set", f"index_dir={default_config.index_dir}"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["answer"] in ("RMB 600", "RMB 600 per year") and body["sources"][0]["id"] == "cards-gold-card-en"
    assert set(body) >= {"answer", "sources", "cache_layer", "variant", "degradation_level", "timings_ms", "tokens",
                         "session", "memory_turns"}


def test_cli_errors_are_one_line_not_tracebacks(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["ask", "default", "  "])
    assert res.exit_code == 2 and "question is empty" in res.output and "Traceback" not in res.output
    res = runner.invoke(cli, ["ask", "nosuchpreset", "hi"])
    assert res.exit_code == 2 and "unknown preset" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("generator:\n  kind: gpt4\n")
    res = runner.invoke(cli, ["index", str(bad)])
    assert res.exit_code == 2 and "generator.kind" in res.output
    res = runner.invoke(cli, ["--help"])
    assert res.exit_code == 0 and "index" in res.output and "ask" in res.output
