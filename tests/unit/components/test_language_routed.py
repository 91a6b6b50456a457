import asyncio

import pytest
from haystack import Document

from workbench.components import ExtractiveAnswerer, LlamaCppGenerator
from workbench.components.generators.language_routed import LanguageRoutedGenerator
from workbench.config import GeneratorConfig
from workbench.errors import ConfigError
from workbench.pipelines.query import make_generator

EN = Document(id="e#0", content="Gold Card\nAnnual fee\nThe main card costs RMB 600 per year.",
              meta={"doc_id": "gold", "title": "Gold Card"})
ZH = Document(id="z#0", content="子午金卡\n【年费】主卡年费600元/年，无首年免年费政策。", meta={"doc_id": "zh-gold", "title": "子午金卡"})


def test_config_by_language_changes_only_that_language() -> None:
    g = GeneratorConfig(kind="llama-cpp", model="gemma-3-270m", max_tokens=32,
                        by_language={"zh": {"model": "qwen2.5-coder-1.5b"}})
    zh = g.for_language("zh")
    assert (zh.kind, zh.model, zh.max_tokens, zh.by_language) == ("llama-cpp", "qwen2.5-coder-1.5b", 32, {})
    assert g.for_language("en") is g
    with pytest.raises(ValueError, match="modle"):
        GeneratorConfig(kind="extractive", by_language={"zh": {"modle": "x"}})
    with pytest.raises(ValueError, match=r"needs generator\.model"):
        GeneratorConfig(kind="extractive", by_language={"en": {"kind": "llama-cpp"}})
    with pytest.raises(ValueError):
        GeneratorConfig(kind="extractive", by_language={"fr": {"kind": "extractive"}})


def test_preset_override_reaches_the_section() -> None:
    from workbench.config import PipelineConfig

    cfg = PipelineConfig.load("default").with_overrides({"generator.by_language": {"zh": {
        "kind": "llama-cpp", "model": "qwen2.5-coder-0.5b"}}})
    assert cfg.generator.for_language("zh").model == "qwen2.5-coder-0.5b"
    assert cfg.generator.for_language("en").kind == "extractive"
    assert cfg.hash != PipelineConfig.load("default").hash


def test_router_sends_each_question_to_its_language() -> None:
    en_gen, zh_gen = ExtractiveAnswerer(max_passages=1), ExtractiveAnswerer(max_passages=2)
    router = LanguageRoutedGenerator({"zh": zh_gen}, default=en_gen)
    assert router.route("金卡年费多少") == ("zh", zh_gen) and router.route("gold card fee") == ("default", en_gen)
    out = router.run(question="金卡年费多少", documents=[ZH])
    assert out["meta"][0]["route"] == "zh" and "600" in out["replies"][0]
    out = asyncio.run(router.run_async(question="gold card annual fee", documents=[EN]))
    assert out["meta"][0]["route"] == "default" and "600" in out["replies"][0]
    assert router.generators() == [en_gen, zh_gen]
    with pytest.raises(ValueError, match="fr"):
        LanguageRoutedGenerator({"fr": zh_gen}, default=en_gen)


def test_from_config_builds_one_generator_per_language_without_loading() -> None:
    g = GeneratorConfig(kind="extractive", by_language={"zh": {"kind": "llama-cpp", "model": "qwen2.5-coder-0.5b"}})
    gen = LanguageRoutedGenerator.from_config(g, make_generator)
    assert isinstance(gen, LanguageRoutedGenerator)
    zh = gen.route("怎么解绑旧手机")[1]
    assert isinstance(zh, LlamaCppGenerator) and zh.model == "qwen2.5-coder-0.5b" and zh._llm is None
    assert isinstance(gen.route("how do i unbind a phone")[1], ExtractiveAnswerer)
    plain = LanguageRoutedGenerator.from_config(GeneratorConfig(kind="extractive"), make_generator)
    assert isinstance(plain, ExtractiveAnswerer)


def test_config_error_names_the_language_entry() -> None:
    from workbench.config import PipelineConfig

    data = PipelineConfig.load("default").to_dict()
    data["generator"]["by_language"] = {"zh": {"kind": "openai"}}
    with pytest.raises((ConfigError, ValueError), match="base_url"):
        PipelineConfig.model_validate(data)
