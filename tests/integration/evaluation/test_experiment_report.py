"""An experiment on the project's dataset: per-question rows, the disk cache, a sweep sharing its
knowledge base, and the HTML report (parses, embeds its plots, needs no other file)."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from workbench.config import PipelineConfig
from workbench.datasets import EvalDataset, load_jsonl, load_workbench_dataset
from workbench.evaluation import Experiment, Sweep
from workbench.reporting import main as report_main
from workbench.reporting import report_from_run_dir, write_report


@pytest.fixture(scope="module")
def fast_config(default_config: PipelineConfig, knowledge_base: object) -> PipelineConfig:
    """The ``fast`` preset (BM25 + extractive), sharing the session's built knowledge base."""
    return PipelineConfig.load("fast").model_copy(update={"index_dir": default_config.index_dir})


@pytest.fixture(scope="module")
def dataset() -> EvalDataset:
    return load_workbench_dataset("meridian_bank").sample(24, seed=7)


def test_experiment_rows_summary_manifest_and_cache(fast_config: PipelineConfig, dataset: EvalDataset,
                                                    tmp_path: Path) -> None:
    exp = Experiment(fast_config, dataset, seed=3, cache_dir=tmp_path)
    first = exp.run()
    assert not first.from_cache and len(first.rows) == 24 and first.summary["overall"]["errors"] == 0
    row = first.rows.iloc[0]
    assert len(row["retrieved_doc_ids"]) == len(set(row["retrieved_doc_ids"]))          # deduplicated doc ids
    for col in ("recall@5", "ndcg@10", "mrr", "em", "f1", "latency_total_ms", "tokens", "lang"):
        assert col in first.rows
    assert set(first.summary["by_language"]) == {"en", "zh"}
    m = first.manifest
    assert m["config_hash"] == fast_config.hash and m["dataset"]["hash"] == dataset.hash and m["seed"] == 3
    assert m["packages"]["haystack-ai"] and m["machine"]["cpu_count"] and m["percentile_method"] == "nearest-rank"

    again = Experiment(fast_config, dataset, seed=3, cache_dir=tmp_path).run()
    assert again.from_cache and again.path == first.path
    assert again.rows["f1"].tolist() == pytest.approx(first.rows["f1"].tolist())
    assert again.summary["overall"]["ndcg@10"] == pytest.approx(first.summary["overall"]["ndcg@10"])
    # anything in the key changes the folder
    assert Experiment(fast_config, dataset, seed=4, cache_dir=tmp_path).path != first.path
    assert Experiment(fast_config.with_overrides({"retriever.top_k": 5}), dataset, seed=3,
                      cache_dir=tmp_path).path != first.path


def test_sweep_and_report(fast_config: PipelineConfig, dataset: EvalDataset, tmp_path: Path) -> None:
    sweep = Sweep.grid(fast_config, {"retriever.top_k": [1, 3]}, dataset, cache_dir=tmp_path / "runs", seed=0)
    result = sweep.run()
    assert len(sweep._kbs) == 1                                     # both configs share one knowledge base
    frame = result.frame()
    assert len(frame) == 48 and set(frame["config"]) == {"fast[retriever.top_k=1]", "fast[retriever.top_k=3]"}
    summary = result.summary_frame()
    assert len(summary) == 2 and "f1[zh]" in summary

    index = write_report(result, tmp_path / "report")
    html = index.read_text(encoding="utf-8")
    images: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "img":
                images.append(dict(attrs)["src"] or "")
            assert tag not in ("script", "link"), "the report must not load anything"

    Collect().feed(html)
    assert len(images) >= 2
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("report.md", "results.csv", "results.json", "manifest.json"):
        assert (index.parent / name).is_file()
    assert "latency percentiles: nearest-rank" in html  # the latency tables name their method
    assert "latency percentiles: nearest-rank" in (index.parent / "report.md").read_text(encoding="utf-8")
    payload = json.loads((index.parent / "results.json").read_text())
    assert {r["config"] for r in payload["summary"]} == set(frame["config"]) and payload["deltas"]

    again = report_from_run_dir(tmp_path / "runs", tmp_path / "report2")
    assert again.is_file() and "fast[retriever.top_k=3]" in again.read_text(encoding="utf-8")
    assert report_main([str(tmp_path / "runs"), "--out", str(tmp_path / "report3")]) == 0
    assert report_main([str(tmp_path / "nothing-here")]) == 2


def test_experiment_indexes_an_external_corpus(tmp_path: Path) -> None:
    """A dataset without a project knowledge base: its documents are written as JSONL and indexed."""
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "evaluation"
    ds = load_jsonl(fixtures / "questions.jsonl", fixtures / "documents.jsonl")
    cfg = PipelineConfig.load("fast").model_copy(update={"index_dir": str(tmp_path / "indexes")})
    result = Experiment(cfg, ds, cache_dir=tmp_path / "runs", ks=(1, 3)).run()
    assert result.summary["overall"]["errors"] == 0
    by_id = result.rows.set_index("question_id")
    assert by_id.loc["j1", "retrieved_doc_ids"][0] == "doc-gold" and by_id.loc["j1", "hit@1"] == 1.0
    assert by_id.loc["j2", "lang"] == "zh" and 0.0 <= by_id.loc["j2", "f1"] <= 1.0
    assert result.manifest["effective_config_hash"] != cfg.hash            # knowledge_base.paths was set
