from pathlib import Path

import pytest

from workbench.config import PipelineConfig, list_presets
from workbench.errors import ConfigError


def test_presets_load_and_differ() -> None:
    names = list_presets()
    assert {"default", "fast", "quality"} <= set(names)
    hashes = {PipelineConfig.load(n).hash for n in names}
    assert len(hashes) == len(names), "every preset must be a different configuration"


def test_hash_is_stable_and_ignores_name() -> None:
    a = PipelineConfig.load("default")
    b = PipelineConfig.from_dict(a.to_dict())
    assert a.hash == b.hash
    assert a.model_copy(update={"name": "renamed", "description": "x"}).hash == a.hash
    assert a.with_overrides({"retriever.top_k": 7}).hash != a.hash


def test_index_hash_tracks_only_indexing_knobs() -> None:
    a = PipelineConfig.load("default")
    assert a.with_overrides({"generator.max_tokens": 9}).index_hash == a.index_hash
    assert a.with_overrides({"splitter.max_chars": 300}).index_hash != a.index_hash
    assert a.with_overrides({"embedder.model": "minilm"}).index_hash != a.index_hash


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = PipelineConfig.load("quality")
    path = tmp_path / "q.yaml"
    cfg.to_yaml(path)
    assert PipelineConfig.load(str(path)) == cfg


def test_unknown_field_names_the_field() -> None:
    with pytest.raises(ConfigError) as info:
        PipelineConfig.from_dict({"retriever": {"modee": "bm25"}})
    assert info.value.field == "retriever.modee"
    assert "unknown field" in str(info.value)


def test_wrong_choice_lists_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"'extractive', 'llama-cpp', 'transformers' or 'openai'"):
        PipelineConfig.from_dict({"generator": {"kind": "gpt"}})


def test_cross_field_rules() -> None:
    with pytest.raises(ConfigError, match=r"generator.model"):
        PipelineConfig.from_dict({"generator": {"kind": "llama-cpp"}})
    with pytest.raises(ConfigError, match=r"base_url"):
        PipelineConfig.from_dict({"generator": {"kind": "openai"}})
    with pytest.raises(ConfigError, match=r"cross-encoder"):
        PipelineConfig.from_dict({"reranker": {"kind": "cross-encoder"}})
    with pytest.raises(ConfigError, match=r"nothing to index"):
        PipelineConfig.from_dict({"knowledge_base": {"dataset": None}})


def test_overrides_reject_unknown_paths() -> None:
    cfg = PipelineConfig.load("default")
    with pytest.raises(ConfigError, match=r"no config field 'topk'"):
        cfg.with_overrides({"retriever.topk": 3})
    with pytest.raises(ConfigError, match=r"no config section"):
        cfg.with_overrides({"nosuch.x": 3})


def test_unknown_preset_lists_presets() -> None:
    with pytest.raises(ConfigError, match=r"presets: .*default"):
        PipelineConfig.load("nope")


def test_invalid_yaml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("retriever: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML"):
        PipelineConfig.load(str(bad))
