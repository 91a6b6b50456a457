"""The GuideLLM driver's own logic: where its venv is, the set-up hint when it is missing, and how a report's
per-request timings become TTFT and both ITL definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.serving.guidellm_runner import guidellm_executable, guidellm_venv, read_report, write_prompts


def test_a_missing_venv_names_the_set_up_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_GUIDELLM_VENV", str(tmp_path / "nowhere"))
    assert guidellm_venv() == tmp_path / "nowhere"
    with pytest.raises(ConfigError, match=r"scripts/setup\.sh"):
        guidellm_executable()


def _request(start: float, first: float, last: float, end: float, tokens: int) -> dict:
    return {"info": {"timings": {"request_start": start, "first_token_iteration": first,
                                 "last_token_iteration": last, "request_end": end, "token_iterations": tokens}},
            "output_metrics": {"text_tokens": tokens}}


def test_report_timings_and_the_two_itl_definitions(tmp_path: Path) -> None:
    summary = {"successful": {"median": 50.0, "mean": 55.0, "count": 2}}
    doc = {"benchmarks": [{"start_time": 9.5, "end_time": 20.5,
        "metrics": {"request_totals": {"successful": 2, "errored": 1, "incomplete": 0},
                    "time_to_first_token_ms": summary, "inter_token_latency_ms": summary},
        "requests": {"successful": [_request(10.0, 10.05, 10.09, 10.10, 5), _request(20.0, 20.06, 20.06, 20.07, 1)],
                     "errored": [{"info": {"error": "HTTP 400"}}]}}]}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc))
    rep = read_report(path)
    assert (rep.successful, rep.errored, rep.errors) == (2, 1, ["HTTP 400"])
    assert rep.ttft_ms == pytest.approx([50.0, 60.0])
    assert rep.itl_ms == pytest.approx([10.0])  # (last - first) / (5 - 1); a one-token answer has no ITL
    assert rep.itl_to_end_ms == pytest.approx([12.5])  # (end - first) / (5 - 1)
    assert rep.window == (9.5, 20.5) and rep.output_tokens == [5, 1] and rep.summary["time_to_first_token_ms"]["median"] == 50.0
    path.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(ConfigError):
        read_report(path)


def test_prompts_are_json_lines(tmp_path: Path) -> None:
    path = write_prompts(["年费多少？", "What is the fee?"], tmp_path / "p.jsonl")
    assert [json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines()] == \
        ["年费多少？", "What is the fee?"]
