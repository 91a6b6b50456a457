"""EvalDashboard over two synthetic experiment results: selection, sorting, plots and drill-down react to .value."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.dashboards import EvalDashboard
from workbench.datasets import EvalDataset, EvalDocument, EvalQuestion
from workbench.evaluation import ExperimentResult
from workbench.evaluation.experiment import summarize


def _result(name: str, f1: list[float], latency: list[float], answers: list[str]) -> ExperimentResult:
    rows = pd.DataFrame({
        "question_id": ["q1", "q2"], "question": ["gold card fee?", "lost card?"], "lang": ["en", "en"],
        "intent": ["fee", "lost"], "n_gold": [1, 1], "error": [None, None],
        "retrieved_doc_ids": [["d-gold", "d-classic"], ["d-lost"]], "answer": answers,
        "references": [["RMB 600"], ["call us"]], "em": f1, "f1": f1, "hit@1": [1.0, 1.0], "mrr": [1.0, 0.5],
        "latency_total_ms": latency,
    })
    return ExperimentResult(rows, summarize(rows), {"config_name": name, "config_hash": f"hash-{name}",
                                                    "dataset": {"name": "tiny"}})


@pytest.fixture
def dash() -> EvalDashboard:
    dataset = EvalDataset("tiny", [
        EvalDocument("d-gold", "The Gold card annual fee is RMB 600.", "Gold card fees"),
        EvalDocument("d-classic", "The Classic card has no annual fee.", "Classic card fees"),
        EvalDocument("d-lost", "Report a lost card by phone.", "Lost cards"),
    ], [EvalQuestion("q1", "gold card fee?", ("d-gold",), ("RMB 600",)),
        EvalQuestion("q2", "lost card?", ("d-lost",), ("call us",))])
    runs = [_result("fast", [1.0, 0.0], [2.0, 3.0], ["RMB 600", "no idea"]),
            _result("slow", [1.0, 1.0], [50.0, 70.0], ["RMB 600", "call us"])]
    return EvalDashboard(runs, dataset=dataset)


def test_table_sorts_by_the_chosen_column(dash: EvalDashboard) -> None:
    dash.sort_by.value = "f1"
    dash.descending.value = True
    html = dash.table.value
    assert html.index(">slow<") < html.index(">fast<")
    dash.descending.value = False
    assert dash.table.value.index(">fast<") < dash.table.value.index(">slow<")
    assert list(dash.selected()["config"]) == ["fast", "slow"]


def test_run_selection_filters_table_plots_and_drill_down(dash: EvalDashboard) -> None:
    dash.runs.value = ("fast",)
    assert ">slow<" not in dash.table.value and ">fast<" in dash.table.value
    assert "slow" not in dash.drill.value
    dash.runs.value = ()
    assert bytes(dash.bars.value) == b"" and "nothing to plot" in dash.plot_note.value


def test_plots_are_png_and_the_pareto_front_is_named(dash: EvalDashboard) -> None:
    dash.metric.value = "f1"
    assert bytes(dash.bars.value).startswith(b"\x89PNG") and bytes(dash.pareto.value).startswith(b"\x89PNG")
    # fast is quicker, slow is better: both are on the front
    assert "fast, slow" in dash.plot_note.value and "latency percentiles: nearest-rank" in dash.plot_note.value
    before = bytes(dash.bars.value)
    dash.metric.value = "mrr"
    assert bytes(dash.bars.value) != before


def test_drill_down_shows_question_gold_answers_and_contexts(dash: EvalDashboard) -> None:
    dash.question.value = "q2"
    html = dash.drill.value
    assert "lost card?" in html and "call us" in html and "Lost cards" in html
    assert "no idea" in html and "Report a lost card by phone." in html
    dash.question.value = "q1"
    assert "Gold card fees" in dash.drill.value and "Classic card fees" in dash.drill.value


def test_no_runs_is_an_error() -> None:
    with pytest.raises(TypeError):
        EvalDashboard([])


def test_from_dir_loads_saved_runs(tmp_path, dash: EvalDashboard) -> None:  # type: ignore[no-untyped-def]
    for i, r in enumerate(dash.results):
        r.save(tmp_path / f"run{i}")
    loaded = EvalDashboard.from_dir(tmp_path)
    assert sorted(loaded.names) == ["fast", "slow"]


def test_question_filter_keeps_disagreements_and_marks_each_run(dash: EvalDashboard) -> None:
    assert [v for _, v in dash.question.options] == ["q1", "q2"]
    dash.show.value = "disagree"                       # fast misses q2, slow answers it
    assert dash.question.options == (("✗✓ q2: lost card?", "q2"),) and dash.question.value == "q2"
    assert "1 question(s): configs disagree" in dash.question_note.value
    html = dash.drill.value
    assert html.index("✗") < html.index("<b>fast</b>") < html.index("✓") < html.index("<b>slow</b>")
    dash.show.value = "wrong"
    assert [v for _, v in dash.question.options] == ["q2"]
    dash.runs.value = ("slow",)                        # slow alone is never wrong, and cannot disagree
    assert dash.question.options == () and "no question matches" in dash.drill.value
    dash.show.value = "all"
    assert [label for label, _ in dash.question.options] == ["✓ q1: gold card fee?", "✓ q2: lost card?"]


def test_table_is_short_unless_asked_and_says_when_nothing_is_selected(dash: EvalDashboard) -> None:
    assert "latency_max_ms" not in dash.table.value and "f1" in dash.table.value
    assert "latency percentiles: nearest-rank" in dash.table.value
    assert "latency_max_ms" not in dash.sort_by.options and "f1" in dash.sort_by.options
    dash.all_columns.value = True
    assert "latency_max_ms" in dash.table.value
    dash.runs.value = ()
    assert "select at least one run" in dash.table.value and "select at least one run" in dash.drill.value


def test_runs_on_other_questions_are_flagged_not_comparable(dash: EvalDashboard) -> None:
    assert dash.table_note.value == ""                              # same two questions
    other = _result("other", [1.0, 1.0], [1.0, 1.0], ["RMB 600", "call us"])
    other.rows["question_id"] = ["x1", "x2"]
    wide = EvalDashboard([*dash.results, other])
    assert "Not comparable: other" in wide.table_note.value
    wide.runs.value = ("fast", "slow")
    assert wide.table_note.value == ""
