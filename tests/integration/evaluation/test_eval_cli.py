"""`workbench eval`: reader-only runs on the SQuAD/CMRC fixtures (saved where `workbench report` reads them),
a full retrieval + answer run, refusals, and the reader with the real Qwen2.5-Coder-0.5B model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workbench.cli import main as cli
from workbench.config import PipelineConfig
from workbench.datasets import load_squad
from workbench.evaluation import Experiment
from workbench.evaluation.experiment import ExperimentResult
from workbench.evaluation.reader import Reader, gold_passages

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "evaluation"


def _eval(*args: str) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(cli, ["eval", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])


def test_reader_only_on_a_squad_fixture_is_saved_for_reports(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    body = _eval("default", "--dataset", f"squad:{FIX / 'squad_en.json'}", "--reader-only", "--out", str(out))
    run = Path(body["run"])
    assert run.parent == out and not body["from_cache"]
    result = ExperimentResult.load(run)
    rows = result.rows
    assert list(rows["question_id"]) == ["q1", "q2", "q3"] and rows["error"].isna().all()
    assert rows["gold_in_context"].all()                          # the gold paragraph is what the reader saw
    assert {"answer", "em", "f1", "correct", "verdict", "correct_rule", "latency_generate_ms"} <= set(rows.columns)
    assert not any(c.startswith(("hit@", "ndcg@", "recall@")) for c in rows.columns)   # nothing was retrieved
    assert rows.set_index("question_id").loc["q1", "answer"] == "20 dollars"
    assert result.manifest["reader_only"] is True and result.manifest["retrieval_unit"] is None
    assert body["summary"]["overall"]["correct"] == pytest.approx(float(rows["correct"].mean()))
    again = _eval("default", "--dataset", f"squad:{FIX / 'squad_en.json'}", "--reader-only", "--out", str(out))
    assert again["from_cache"] and again["run"] == body["run"]
    report = CliRunner().invoke(cli, ["report", str(out), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "report" / "index.html").is_file()


def test_reader_only_table_and_limit_on_chinese(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["eval", "default", "--dataset", f"squad:{FIX / 'squad_zh.json'}", "--reader-only",
                                   "--limit", "1", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split()[:4] == ["lang", "questions", "errors", "correct"]
    assert lines[1].split()[:3] == ["all", "1", "0"] and lines[2].split()[0] == "zh"
    assert lines[-1].startswith("run: ")


def test_full_run_retrieves_and_answers(tmp_path: Path) -> None:
    body = _eval("fast", "--dataset", f"squad:{FIX / 'squad_en.json'}", "--out", str(tmp_path / "runs"),
                 "--set", f"index_dir={tmp_path / 'indexes'}")
    overall = body["summary"]["overall"]
    assert overall["questions"] == 3 and overall["errors"] == 0
    assert overall["hit@5"] == 1.0 and "correct" in overall and "em" in overall


def test_bad_input_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["eval", "default", "--dataset", f"squad:{tmp_path / 'none.json'}", "--reader-only"])
    assert res.exit_code == 2 and "cannot read" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["eval", "default", "--set", "generator.kind=gpt4", "--reader-only"])
    assert res.exit_code == 2 and "generator.kind" in res.output


def test_questions_without_a_gold_passage_are_recorded_as_errors(tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "x", "question": "gold card fee?", "answers": ["RMB 600"]}) + "\n",
                         encoding="utf-8")
    result = Experiment(PipelineConfig.load("default"), f"jsonl:{questions}", reader_only=True,
                        cache_dir=tmp_path / "runs").run()
    assert result.summary["overall"]["errors"] == 1
    assert "gold passage" in result.rows.loc[0, "error"]
    with pytest.raises(ValueError, match="reader_only"):
        Experiment(PipelineConfig.load("default"), f"jsonl:{questions}", reader_only=True, generate=False)


@pytest.mark.slow
def test_reader_with_the_real_qwen_0_5b_model() -> None:
    cfg = PipelineConfig.load("default").with_overrides({
        "generator.kind": "llama-cpp", "generator.model": "qwen2.5-coder-0.5b", "generator.max_tokens": 16,
        "generator.threads": 1})
    reader = Reader(cfg)
    ds = load_squad(FIX / "squad_zh.json")
    try:
        out = reader.read(ds.questions[0].question, gold_passages(ds, ds.questions[0]))
    finally:
        reader.close()
    assert out.answer and out.tokens > 0 and out.meta["model"] == "qwen2.5-coder-0.5b"
    assert out.timings_ms["generate"] > 0 and out.gold_in_context(ds.questions[0].answers)
    assert "200" in out.answer                         # 金卡年费多少？ → 人民币200元 (read from the gold paragraph)
