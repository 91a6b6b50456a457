"""The main job end to end, small: evaluate + load-test a preset and write the report."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.config import PipelineConfig
from workbench.demo import ServingPeak, _peak_markdown, run_demo


def test_demo_writes_a_report_with_quality_and_load(tmp_path: Path, default_config: PipelineConfig,
                                                     knowledge_base) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "serving_vs_bare.json").write_text("{}", encoding="utf-8")   # an earlier run's
    index = run_demo(presets=("fast", "default"), questions=8, load_seconds=1.0, load_rate=10.0,
                     out_dir=tmp_path / "report", index_dir=default_config.index_dir, cache_dir=tmp_path / "exp",
                     echo=lines.append, serving_peak=None)
    html = index.read_text(encoding="utf-8")
    assert "Load test" in html and "data:image/png;base64," in html  # a folded section since the verdict report
    assert "fast" in html and "default" in html
    assert not (index.parent / "serving_vs_bare.json").exists() and "Serving stack vs bare" not in html
    assert "<h2>Not compared" not in html and "correct_goodput_rps" in html   # one question set, correct goodput
    loads = json.loads((index.parent / "results.json").read_text(encoding="utf-8"))["load"]
    assert {x["config"] for x in loads} == {"fast", "default"}
    assert all(0 <= x["slo_attainment"] <= 1 and x["degraded_share"] == 0 for x in loads)  # extractive: no level
    for name in ("report.md", "results.csv", "results.json", "manifest.json"):
        assert (index.parent / name).is_file()
    assert any(line.startswith("report:") for line in lines)
    assert any("throughput" in line and "correct goodput" in line for line in lines)
    again = run_demo(presets=("fast",), questions=8, load_seconds=1.0, load_rate=10.0, out_dir=tmp_path / "r2",
                     index_dir=default_config.index_dir, cache_dir=tmp_path / "exp", echo=lines.append,
                     serving_peak=None)
    assert again.is_file() and any("experiment cache" in line for line in lines)


@pytest.mark.slow
def test_serving_preset_against_the_bare_pipeline_at_the_morning_peak(default_config: PipelineConfig,
                                                                       knowledge_base) -> None:  # type: ignore[no-untyped-def]
    """The serving stack (cache, memory, tools, admission, degradation) and the same pipeline bare, the LLM tier as
    the simulated OpenAI-compatible service on 127.0.0.1: the cache serves repeats, answers are scored."""
    lines: list[str] = []
    cmp = ServingPeak(peak_rate=3, duration_s=10, index_dir=default_config.index_dir).run(echo=lines.append)
    s, b = cmp["runs"]["serving"], cmp["runs"]["bare"]
    assert s["served_from_cache"] > 0 and b["served_from_cache"] == 0 and b["wrong_hits"] == 0
    assert 0 <= s["cache_made_wrong"] <= s["wrong_hits"]
    assert s["ok"] > 0 and b["ok"] > 0
    assert s["correct_share"] is not None and b["correct_share"] is not None
    assert set(cmp["ratios"]) == {"latency_mean_ms", "latency_p95_ms", "goodput_rps", "correct_goodput_rps"}
    assert "| served from cache |" in _peak_markdown(cmp)
    assert ServingPeak().configs("http://127.0.0.1:1/v1")["bare"].cache.enabled is False


def test_demo_command_passes_one_question_limit_and_no_serving_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's flags reach run_demo (run_demo itself is the test above; here only what the CLI passes)."""
    import workbench.demo

    calls: list[dict] = []  # type: ignore[type-arg]
    monkeypatch.setattr(workbench.demo, "run_demo", lambda **kw: calls.append(kw))
    assert CliRunner().invoke(main, ["demo", "--no-serving-peak", "--questions", "12"]).exit_code == 0
    assert CliRunner().invoke(main, ["demo"]).exit_code == 0
    assert calls[0]["serving_peak"] is None and calls[0]["questions"] == 12 and "llm_questions" not in calls[0]
    assert isinstance(calls[1]["serving_peak"], ServingPeak) and calls[1]["questions"] == workbench.demo.DEMO_QUESTIONS


def test_wrong_answers_the_cache_made_count_only_hits_the_bare_pipeline_answered_right() -> None:
    import pandas as pd

    from workbench.demo import _cache_made_wrong

    serving = pd.DataFrame({"index": [0, 1, 2, 3, 4], "status": ["ok"] * 4 + ["shed"],
                            "cache_layer": ["semantic", "exact", None, "semantic", "exact"],
                            "verdict": ["wrong", "wrong", "wrong", "correct", "wrong"]})
    bare = pd.DataFrame({"index": [0, 1, 2, 3, 4], "verdict": ["correct", "wrong", "correct", "correct", "correct"]})
    # 0: a hit, wrong, bare right -> made by the cache; 1: the pipeline's own wrong answer replayed; 2: no hit;
    # 3: a right hit; 4: shed
    assert _cache_made_wrong(serving, bare) == 1
