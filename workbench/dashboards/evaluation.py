"""An evaluation dashboard over saved experiment results: pick runs, sort metrics, plot, drill down.

* pick runs/configs (:attr:`EvalDashboard.runs`, a multi-select);
* a metric table sorted by any column (:attr:`sort_by`, :attr:`descending`);
* bars of one quality metric per config and the quality-vs-latency Pareto plot (:attr:`metric`);
* a per-question drill-down (:attr:`question`): the question, the gold answers and documents, and per
  selected config the answer (✓/✗ by the answer matcher's ``correct``, else EM), its scores and the retrieved
  contexts; :attr:`show` narrows the questions to those where the selected configs disagree, or where any
  of them is wrong.

```python
dash = EvalDashboard(Sweep(configs, "meridian_bank", limit=20).run(), dataset=load_eval_dataset("meridian_bank"))
dash = EvalDashboard.from_dir(".workbench/experiments")
dash.sort_by.value = "f1"; dash.show.value = "disagree"; dash.question.value = dash.question.options[0][1]
```
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from workbench.dashboards.render import escape
from workbench.percentiles import PERCENTILE_METHOD

__all__ = ["EvalDashboard"]

_FRONT_COLUMNS = ("config", "questions", "errors")
_QUALITY_ORDER = ("correct", "f1", "em", "ndcg@10", "mrr", "hit@1", "hit@5", "recall@5", "rouge_l")
#: The metric table's columns unless *every column* is ticked (those the runs have).
TABLE_COLUMNS = ("questions", "errors", "correct", "hit@5", "mrr", "ndcg@10", "f1", "latency_p50_ms", "latency_p95_ms",
                 "tokens_mean")
#: What the question filter offers: (label, value).
SHOW_OPTIONS = (("all questions", "all"), ("configs disagree", "disagree"), ("any config wrong", "wrong"))


def _results(runs: Any) -> list[Any]:
    results = list(runs.results) if hasattr(runs, "results") else [runs] if hasattr(runs, "rows") else list(runs)
    if not results or not all(hasattr(r, "rows") and hasattr(r, "summary_row") for r in results):
        raise TypeError("runs must be ExperimentResults (a list, one result, or a SweepResult), and at least one")
    return results


def _unique_names(results: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for r in results:
        name = str(r.name)
        while name in names:
            name = f"{name} ({str(r.config_hash)[:6]})"
        names.append(name)
    return names


class EvalDashboard(widgets.VBox):
    """Widgets over a list of :class:`~workbench.evaluation.ExperimentResult` s; see the module docstring.

    ``dataset`` (an :class:`~workbench.datasets.EvalDataset`) resolves retrieved and gold document ids
    to titles and text in the drill-down; without it only the ids are shown.

    ```python
    dash = EvalDashboard([fast_result, default_result]); dash.metric.value = "ndcg@10"
    ```
    """

    def __init__(self, runs: Any, *, dataset: Any = None, latency: str = "latency_p50_ms",
                 max_contexts: int = 3) -> None:
        self.results = _results(runs)
        self.names = _unique_names(self.results)
        self.by_name = dict(zip(self.names, self.results, strict=True))
        self.dataset = dataset
        self.latency = latency
        self.max_contexts = max_contexts
        self.summary = self._summary_frame()
        from workbench.reporting.tables import HEADLINE

        numeric = [c for c in self.summary.columns if c != "config" and pd.api.types.is_numeric_dtype(self.summary[c])]
        quality = [m for m in _QUALITY_ORDER if m in numeric and self.summary[m].notna().any()]
        self.headline = [c for c in HEADLINE if c in numeric]
        self.short = [c for c in TABLE_COLUMNS if c in numeric]
        self.runs = widgets.SelectMultiple(options=self.names, value=tuple(self.names), description="Runs",
                                           rows=min(6, max(2, len(self.names))))
        self.sort_by = widgets.Dropdown(options=["config", *self.headline], value=quality[0] if quality else "config",
                                        description="Sort by")
        self.descending = widgets.Checkbox(value=True, description="descending")
        self.all_columns = widgets.Checkbox(value=False, description="every column")
        self.metric = widgets.Dropdown(options=quality or numeric or ["config"],
                                       value=(quality or numeric or ["config"])[0], description="Plot")
        self.table = widgets.HTML(layout=widgets.Layout(overflow="auto", max_width="100%"))
        self.table_note = widgets.HTML()
        image = widgets.Layout(max_width="100%", height="auto")
        self.bars = widgets.Image(format="png", layout=image)
        self.pareto = widgets.Image(format="png", layout=image)
        self.plot_note = widgets.HTML()
        self.show = widgets.Dropdown(options=list(SHOW_OPTIONS), value="all", description="Show")
        self.question_note = widgets.HTML()
        self.question = widgets.Dropdown(options=[], description="Question", layout=widgets.Layout(width="95%"))
        self.drill = widgets.HTML()
        for w in (self.runs, self.sort_by, self.descending, self.all_columns):
            w.observe(lambda _c: self.refresh_table(), names="value")
        self.runs.observe(lambda _c: (self.refresh_plots(), self.refresh_questions()), names="value")
        self.metric.observe(lambda _c: self.refresh_plots(), names="value")
        self.show.observe(lambda _c: self.refresh_questions(), names="value")
        self.question.observe(lambda _c: self.refresh_drill(), names="value")
        tabs = widgets.Tab(children=[
            widgets.VBox([widgets.HBox([self.sort_by, self.descending, self.all_columns]), self.table_note,
                          self.table]),
            widgets.VBox([self.metric, self.plot_note,
                          widgets.Box([self.bars, self.pareto], layout=widgets.Layout(flex_flow="row wrap"))]),
            widgets.VBox([widgets.HBox([self.show, self.question_note]), self.question, self.drill]),
        ])
        for i, title in enumerate(("Metrics", "Plots", "Per question")):
            tabs.set_title(i, title)
        super().__init__(children=[self.runs, tabs])
        self.add_class("wb-eval")
        self.refresh_table()
        self.refresh_plots()
        self.refresh_questions()

    @classmethod
    def from_dir(cls, run_dir: str | Path, **kwargs: Any) -> EvalDashboard:
        """A dashboard over every saved experiment below ``run_dir`` (see ``workbench.reporting.find_runs``)."""
        from workbench.evaluation import ExperimentResult
        from workbench.reporting import find_runs

        return cls([ExperimentResult.load(p) for p in find_runs(run_dir)], **kwargs)

    def __repr__(self) -> str:
        return f"EvalDashboard({len(self.results)} runs: {', '.join(self.names)})"

    # -- data -----------------------------------------------------------------------------------------------
    def _summary_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame([r.summary_row() for r in self.results])
        frame["config"] = self.names
        front = [c for c in _FRONT_COLUMNS if c in frame]
        return frame[front + [c for c in frame.columns if c not in front]]

    def outcomes(self) -> pd.DataFrame:
        """Per question (rows, by id) and selected run (columns): True when it answered correctly, False when not,
        NaN when it did not answer the question or has no answer score (correct ≥ 0.5, else EM = 1)."""
        cols = {}
        for name in self.runs.value:
            rows = self.by_name[name].rows
            if "question_id" not in rows:
                continue
            score = next((c for c in ("correct", "em") if c in rows and rows[c].notna().any()), None)
            if score is None:
                continue
            values = [(v >= 0.5) if isinstance(v, int | float) and not math.isnan(float(v)) else None
                      for v in rows[score]]
            cols[name] = pd.Series(values, index=rows["question_id"].astype(str), dtype=object)
        return pd.DataFrame(cols)

    def _question_options(self) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for name in self.runs.value:
            rows = self.by_name[name].rows
            if "question_id" not in rows:
                continue
            for qid, text in zip(rows["question_id"], rows.get("question", rows["question_id"]), strict=True):
                seen.setdefault(str(qid), str(text)[:80])
        outcomes = self.outcomes()
        options = []
        for qid, text in seen.items():
            marks = outcomes.loc[qid].tolist() if qid in outcomes.index else []
            known = [m for m in marks if m is not None and not (isinstance(m, float) and math.isnan(m))]
            if self.show.value == "disagree" and len(set(known)) < 2:
                continue
            if self.show.value == "wrong" and False not in known:
                continue
            sign = "".join("–" if m is None or (isinstance(m, float) and math.isnan(m)) else "✓" if m else "✗"
                           for m in marks)
            options.append((f"{sign + ' ' if sign else ''}{qid}: {text}", qid))
        return options

    def refresh_questions(self) -> None:
        """Re-list the questions the filter keeps (marks: ✓/✗ per selected run, in order), then the drill-down."""
        options = self._question_options()
        keep = self.question.value
        self.question.options = options
        values = [v for _, v in options]
        self.question.value = keep if keep in values else (values[0] if values else None)
        label = {v: k for k, v in SHOW_OPTIONS}[self.show.value]
        self.question_note.value = (f"<span style='color:#555'>{len(options)} question(s): {escape(label)}; "
                                    f"marks per run: {escape(' · '.join(self.runs.value))}</span>")
        if not options:
            self.drill.value = ("<i>no question matches: pick another filter or select more runs</i>"
                                if self.runs.value else "<i>select at least one run</i>")
        else:
            self.refresh_drill()

    def selected(self) -> pd.DataFrame:
        """The summary rows of the selected runs, sorted as the widgets say."""
        frame = self.summary[self.summary["config"].isin(self.runs.value)]
        col = self.sort_by.value
        return frame.sort_values(col, ascending=not self.descending.value, na_position="last", kind="stable")

    # -- views ----------------------------------------------------------------------------------------------
    def refresh_table(self) -> None:
        """Re-render the metric table."""
        frame = self.selected()
        if frame.empty:
            self.table.value = "<i class='wb-error'>select at least one run</i>"
            return
        cols = ([c for c in frame.columns if c not in ("config_hash", "dataset")] if self.all_columns.value
                else ["config", *self.short])
        self.table_note.value = self._question_sets_note()
        self.table.value = (frame[cols].to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="–",
                                                classes="wb-metrics", border=0)
                            + f"<div style='font-size:11px;color:#666'>latency percentiles: {PERCENTILE_METHOD}; "
                            "correct: the answer matcher's verdict, mean over questions</div>")

    def _question_sets_note(self) -> str:
        """A warning when the selected runs answered different questions (their averages are not comparable)."""
        from workbench.reporting.verdict import split_by_questions

        chosen = [self.by_name[n] for n in self.runs.value]
        if len(chosen) < 2:
            return ""
        compared, separated = split_by_questions(chosen)
        if not separated:
            return ""
        names = dict(zip(map(id, self.results), self.names, strict=True))
        apart = ", ".join(names[id(r)] for r, _ in separated)
        return (f"<div class='wb-error' style='color:#b9770e'>Not comparable: {escape(apart)} answered other questions "
                f"than {escape(', '.join(names[id(r)] for r in compared))}; compare runs with the same question set "
                "(select them alone, or use <code>workbench report</code>, which separates them).</div>")

    def refresh_plots(self) -> None:
        """Re-draw the bar and Pareto plots for the selected runs and metric."""
        from workbench.evaluation import pareto_front
        from workbench.reporting.plots import pareto_scatter, quality_bars

        frame = self.summary[self.summary["config"].isin(self.runs.value)]
        metric = self.metric.value
        if frame.empty or metric not in frame or not frame[metric].notna().any():
            self.bars.value = self.pareto.value = b""
            self.plot_note.value = "<i>nothing to plot: select runs that have this metric</i>"
            return
        self.bars.value = quality_bars(frame, [metric], title=f"{metric} by config")
        if self.latency in frame and frame[self.latency].notna().any():
            front = pareto_front(frame, {metric: "max", self.latency: "min"})
            self.pareto.value = pareto_scatter(front, quality=metric, latency=self.latency)
            on = ", ".join(front.loc[front["pareto"], "config"].astype(str))
            self.plot_note.value = (f"Pareto front ({escape(metric)} ↑, {escape(self.latency)} ↓; latency percentiles: "
                                    f"{PERCENTILE_METHOD}): <b>{escape(on)}</b>")
        else:
            self.pareto.value = b""
            self.plot_note.value = f"<i>no {escape(self.latency)} column: no Pareto plot</i>"

    def _doc(self, doc_id: str) -> tuple[str, str]:
        docs = self.dataset.doc_by_id if self.dataset is not None else {}
        doc = docs.get(doc_id)
        return (doc.title or doc_id, doc.text) if doc is not None else (doc_id, "")

    def refresh_drill(self) -> None:
        """Re-render the drill-down of the selected question."""
        qid = self.question.value
        if qid is None:
            self.drill.value = "<i>no questions</i>" if self.runs.value else "<i>select at least one run</i>"
            return
        parts: list[str] = []
        header_done = False
        outcome = self.outcomes()
        for name in self.runs.value:
            rows = self.by_name[name].rows
            hit = rows[rows["question_id"].astype(str) == str(qid)] if "question_id" in rows else rows.iloc[:0]
            if hit.empty:
                continue
            row = hit.iloc[0]
            if not header_done:
                parts.append(self._question_header(qid, row))
                header_done = True
            mark = outcome.at[str(qid), name] if name in outcome and str(qid) in outcome.index else None
            parts.append(self._run_block(name, row, mark))
        self.drill.value = "".join(parts) or "<i>not answered by the selected runs</i>"

    def _question_header(self, qid: str, row: pd.Series) -> str:
        refs = row.get("references")
        refs = list(refs) if isinstance(refs, list | tuple) else []
        gold_docs: list[str] = []
        if self.dataset is not None:
            q = next((q for q in self.dataset.questions if str(q.id) == str(qid)), None)
            if q is not None:
                gold_docs = list(q.gold_doc_ids)
                refs = refs or list(q.answers)
        gold = " | ".join(escape(r) for r in refs) or "–"
        docs = ", ".join(escape(self._doc(d)[0]) for d in gold_docs) or "–"
        return (f'<div class="wb-drill-q"><b>Question</b> ({escape(qid)}, {escape(row.get("lang", ""))}): '
                f"{escape(row.get('question', ''))}<br><b>Gold answer:</b> {gold}<br><b>Gold documents:</b> {docs}</div>")

    def _run_block(self, name: str, row: pd.Series, mark: Any = None) -> str:
        scores = " · ".join(f"{m} {float(row[m]):.2f}" for m in ("correct", "em", "f1", "hit@1", "mrr")
                            if m in row and isinstance(row[m], int | float) and not math.isnan(float(row[m])))
        retrieved = row.get("retrieved_doc_ids")
        retrieved = list(retrieved) if isinstance(retrieved, list | tuple) else []
        contexts = []
        for doc_id in retrieved[: self.max_contexts]:
            title, text = self._doc(str(doc_id))
            snippet = text[:240] + ("…" if len(text) > 240 else "")
            contexts.append(f"<li><b>{escape(title)}</b> <span style='color:#666'>{escape(doc_id)}</span>"
                            f"{'<br>' + escape(snippet) if snippet else ''}</li>")
        error = row.get("error")
        err = f"<br><span style='color:#c0392b'>{escape(error)}</span>" if isinstance(error, str) and error else ""
        sign = ("<span style='color:#1e8449'>✓</span> " if mark is True else
                "<span style='color:#c0392b'>✗</span> " if mark is False else "")
        return (f'<div class="wb-drill-run" style="margin-top:6px;border-top:1px solid #ddd">{sign}<b>{escape(name)}</b>: '
                f"{escape(row.get('answer', '–'))} <span style='color:#555;font-size:11px'>{escape(scores)}</span>{err}"
                f"<ol style='font-size:12px'>{''.join(contexts)}</ol></div>")
