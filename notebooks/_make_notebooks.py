"""Write the numbered notebooks from the cell lists below (outputs empty, metadata minimal).

This file is the notebooks' source. Run ``.venv/bin/python notebooks/_make_notebooks.py`` after editing it and
commit the ``.ipynb`` files it writes; ``--check`` writes nothing and exits 1 naming every notebook that differs
from what this file makes (an edit made in Jupyter: carry it over here). The test suite runs the check and lints
the notebooks' code with ruff (``tests/unit/test_notebook_sources.py``).
Each notebook: a title, a ``parameters`` cell (papermill-style tag, small defaults that run in CI),
thin cells calling the library, markdown saying what is on screen, and a Cleanup section.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SETUP = ("from pathlib import Path\n\nfrom workbench.dashboards import enter_project_dir\n\n"
         "NOTEBOOK_DIR = Path.cwd()  # JupyterLab starts the kernel in the notebook's folder\n"
         "ROOT = enter_project_dir()  # the project above it: caches and reports live there")

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_build_pipeline": [
        ("md", "# 01 · Build a pipeline\n\nLoad a preset configuration, build its query pipeline (the knowledge "
               "base index is built once and cached under `.workbench/indexes`), and answer one question."),
        ("params", 'preset = "fast"  # fast | default | quality\nquestion = "how much is the gold card annual fee"'),
        ("code", SETUP),
        ("code", "from workbench import PipelineConfig\nfrom workbench.dashboards import show_answer\n"
                 "from workbench.pipelines import build_query_pipeline"),
        ("md", "## The configuration\n\nEvery knob of a run lives in one `PipelineConfig`; its hash identifies "
               "the run in caches, experiments and reports. Below: the retriever and generator sections."),
        ("code", "cfg = PipelineConfig.load(preset)\nprint(cfg.name, cfg.hash)\ncfg.retriever"),
        ("code", "cfg.generator"),
        ("md", "## Build the query pipeline\n\nembed → retrieve → rerank? → prompt → generate. The first build "
               "of a knowledge base takes a few minutes on two cores (a progress bar shows the embedding); later "
               "builds load it from disk in seconds."),
        ("code", "qp = build_query_pipeline(cfg, progress=True)\nqp.kb.version"),
        ("md", "## Ask one question\n\nThe answer, its language and token count, the time spent per stage "
               "(the bar), and the passages it was drawn from with their retrieval scores."),
        ("code", "answer = qp.run(question)\nshow_answer(answer);"),
        ("md", "## Cleanup"),
        ("code", "del qp, answer"),
    ],
    "02_chat": [
        ("md", "# 02 · Chat\n\nA chat widget over an in-process pipeline (or a served URL: set `url`). It shows "
               "the answer as it streams, the sources with scores, which cache layer served it, the A/B variant "
               "and degradation level, a stage-timing bar, and the conversation so far."),
        ("params", 'preset = "fast"\nquestion = "how much is the gold card annual fee"\n'
                   'follow_up = "and the platinum card?"\nurl = None  # e.g. "http://127.0.0.1:8000" for `workbench serve`\n'
                   'other = "default"  # a second preset answering beside the first (side by side)'),
        ("code", SETUP),
        ("code", "from workbench import PipelineConfig\nfrom workbench.dashboards import ChatWidget, CleanupButton, "
                 "SideBySideChat\nfrom workbench.loadtest import make_inprocess_target"),
        ("md", "## The chat widget\n\nType a question in the box and press Enter (or *Ask*). "
               "Badges: `cache` (`miss` or the layer that answered), `variant`, `degradation`, `tokens`, "
               "`memory turns`. Conversation memory is switched on here (in memory, for this session), so a "
               "follow-up such as *and the platinum card?* is read with the turn before it."),
        ("code", 'cfg = PipelineConfig.load(preset).with_overrides({"memory.enabled": True, "memory.store": "memory"})\n'
                 "target = make_inprocess_target(cfg) if url is None else url\n"
                 'chat = ChatWidget(target, user="notebook", session="notebook-chat")\nchat'),
        ("md", "## Ask from code\n\nThe same as typing into the widget above: the widget updates in place."),
        ("code", "resp = await chat.submit(question)\nresp.answer"),
        ("code", "resp = await chat.submit(follow_up)\nresp.answer"),
        ("md", "## The response object\n\nThe fields of the HTTP API's response (`POST /v1/chat`)."),
        ("code", 'resp.model_dump(exclude={"sources"})'),
        ("md", "## Side by side\n\nThe same question to two configurations at once: each column shows its answer, "
               "sources and timings; the line above them says whether the answers agree and how long each took."),
        ("code", "second = make_inprocess_target(PipelineConfig.load(other))\n"
                 "pair = SideBySideChat(target, second, labels=(preset if url is None else url, other))\npair"),
        ("code", "both = await pair.submit(question)\n[r.answer if r else None for r in both]"),
        ("md", "## Cleanup\n\nRun All closes nothing: the widgets above keep answering. Click *Close* when you are "
               "done; it shuts the in-process engines down."),
        ("code", "CleanupButton(second) if url else CleanupButton(target, second)"),
    ],
    "03_load_test": [
        ("md", "# 03 · Load test\n\nAn open-loop load test (requests arrive on a schedule, answered or not) "
               "against the in-process pipeline with its cache in front. The dashboard shows throughput, latency "
               "percentiles and cache hit rates while the test runs; *Stop* ends it early."),
        ("params", 'preset = "fast"\nrate = 20.0  # requests per second\nduration_s = 3.0\ncache = True'),
        ("code", SETUP),
        ("code", "import pandas as pd\n\nfrom workbench import PipelineConfig\nfrom workbench.dashboards import "
                 "CleanupButton, LoadTestDashboard\nfrom workbench.loadtest import Workload, WorkloadSpec, "
                 "make_inprocess_target"),
        ("md", "## The target and the workload\n\nQuestions from the bank dataset, Zipf popularity over intents, "
               "some paraphrased: the cache sees realistic repeats."),
        ("code", 'cfg = PipelineConfig.load(preset).with_overrides({"cache.enabled": cache})\n'
                 "target = make_inprocess_target(cfg)\nworkload = Workload(WorkloadSpec(seed=0))"),
        ("md", "## The live dashboard\n\nSet the rate and duration, then *Start* (the next cell starts it too). "
               "Numbers refresh twice a second; latency while live counts from each request's actual start."),
        ("code", "dash = LoadTestDashboard(target, workload, rate=rate, duration_s=duration_s)\ndash"),
        ("code", "dash.start();"),
        ("md", "## The result\n\nWhen the run ends: the runner's own numbers (latency from the *scheduled* start, "
               "so queueing shows), one row per second, and the plots."),
        ("code", "result = await dash.wait()\npd.Series(result.summary_row())"),
        ("code", "result.timeseries()"),
        ("code", "result.plot();"),
        ("md", "## Cleanup\n\nRun All closes nothing: the dashboard above can run again. Click *Close* when you "
               "are done."),
        ("code", "CleanupButton(target)"),
    ],
    "04_compare_configs": [
        ("md", "# 04 · Compare configurations\n\nOne base preset, one knob varied: every variant answers the same "
               "questions; quality, latency and the Pareto front side by side. Results are cached under "
               "`.workbench/experiments`, so a re-run is instant."),
        ("params", 'base = "fast"\naxis = "retriever.mode"\nvalues = ["bm25", "dense", "hybrid"]\n'
                   'dataset = "meridian_bank"\nlimit = 12  # questions per config (None: all)\n'
                   "slo_p95_ms = 2000.0  # the verdict's latency SLO\nmin_quality = 0.5  # and its quality bar"),
        ("code", SETUP),
        ("code", "from IPython.display import Image\n\nfrom workbench import PipelineConfig\n"
                 "from workbench.dashboards import ProgressBar\nfrom workbench.evaluation import Sweep, compare_runs\n"
                 "from workbench.reporting import ReportConfig, report_tables\nfrom workbench.reporting.plots import "
                 "pareto_scatter"),
        ("md", "## Run the sweep\n\nEvery variant answers the same seeded sample of questions; the bar shows "
               "the questions of the variant running (nothing shows when every run is already saved)."),
        ("code", "sweep = Sweep.grid(PipelineConfig.load(base), {axis: values}, dataset, limit=limit)\n"
                 'results = sweep.run(progress=ProgressBar("questions"))\n[r.name for r in results.results]'),
        ("md", "## The verdict\n\nWhich variant to pick under the SLO and the quality bar, and how sure: quality "
               "with its 95% interval, p50/p95, compute per 1,000 questions."),
        ("code", "policy = ReportConfig(slo_p95_ms=slo_p95_ms, min_quality=min_quality)\n"
                 'tables = report_tables(results.results, policy)\nprint(tables["verdict"].headline)\n'
                 'tables["headline"]'),
        ("md", "## What each alternative gains or costs\n\nPaired by question against the pick; `p_holm` is "
               "Holm-corrected over the alternatives."),
        ("code", 'tables["verdict"].alternatives'),
        ("md", "## Every number per configuration\n\nRetrieval (`hit@k`, `mrr`, `ndcg@10`), answers "
               "(`correct`, `em`, `f1`) and per-question latency percentiles (nearest rank)."),
        ("code", "summary = results.summary_frame()\n"
                 'cols = ["config", "correct", "hit@1", "hit@5", "mrr", "ndcg@10", "em", "f1", "latency_p50_ms", '
                 '"latency_p95_ms"]\nsummary[[c for c in cols if c in summary]]'),
        ("md", "## The Pareto front\n\nVariants no other one beats on both quality (higher) and p95 latency "
               "(lower), with quality intervals and the verdict's two bars (dashed)."),
        ("code", 'scores = tables["scores"]\nscores'),
        ("code", 'Image(pareto_scatter(scores, quality=tables["quality"], latency="p95_ms", low="quality_low",\n'
                 '                     high="quality_high", slo_ms=slo_p95_ms, min_quality=min_quality))'),
        ("md", "## First vs last, every metric\n\nPaired bootstrap deltas with confidence intervals, and p-values "
               "Holm-corrected over the table (`p_holm`): is the difference more than noise?"),
        ("code", "compare_runs(results.results[0], results.results[-1])"),
        ("md", "## Cleanup"),
        ("code", "del sweep"),
    ],
    "05_evaluate": [
        ("md", "# 05 · Evaluate\n\nEvaluate a configuration on a dataset, then explore every saved run in the "
               "evaluation dashboard: a sortable metric table, bar and Pareto plots, and a per-question "
               "drill-down (question, gold answer, each run's answer and retrieved contexts)."),
        ("params", 'preset = "fast"\ndataset = "meridian_bank"\nlimit = 12\nrun_dir = ".workbench/experiments"'),
        ("code", SETUP),
        ("code", "import pandas as pd\n\nfrom workbench import PipelineConfig\n"
                 "from workbench.dashboards import EvalDashboard, ProgressBar\n"
                 "from workbench.datasets import load_eval_dataset\nfrom workbench.evaluation import Experiment"),
        ("md", "## Run the experiment (or load it from the cache)\n\nA bar shows the questions answered so far."),
        ("code", "ds = load_eval_dataset(dataset)\n"
                 "exp = Experiment(PipelineConfig.load(preset), ds, limit=limit, cache_dir=run_dir)\n"
                 'result = exp.run(progress=ProgressBar("questions"))\npd.Series(result.summary["overall"])'),
        ("md", "## Per-question rows"),
        ("code", 'cols = ["question", "answer", "references", "correct", "em", "f1", "hit@1"]\n'
                 "result.rows[[c for c in cols if c in result.rows]]"),
        ("md", "## The dashboard\n\nPick runs, sort by a metric, switch to *Plots* or *Per question*."),
        ("code", "dash = EvalDashboard.from_dir(run_dir, dataset=ds)\ndash"),
        ("md", "## Cleanup\n\nNothing to close: the dashboard only reads saved runs, and stays usable after Run All "
               "(`del dash` frees its memory when you are done)."),
    ],
    "06_export_report": [
        ("md", "# 06 · Export a report\n\nEvery saved experiment becomes one self-contained HTML report (plots "
               "embedded), with Markdown, CSV and JSON beside it: the evidence to share."),
        ("params", 'run_dir = ".workbench/experiments"\nout_dir = "reports/notebook-report"\n'
                   "slo_p95_ms = 2000.0  # the verdict's latency SLO\nmin_quality = 0.5  # and its quality bar\n"
                   "keep = True  # False: delete the report in Cleanup"),
        ("code", SETUP),
        ("code", "import json\nimport os\nimport shutil\n\nfrom IPython.display import HTML, Markdown\n\n"
                 "from workbench.evaluation import ExperimentResult\nfrom workbench.reporting import ReportConfig, "
                 "find_runs, write_report"),
        ("md", "## The runs"),
        ("code", "runs = [ExperimentResult.load(p) for p in find_runs(run_dir)]\n[r.name for r in runs]"),
        ("md", "## Write the report"),
        ("code", "policy = ReportConfig(slo_p95_ms=slo_p95_ms, min_quality=min_quality)\n"
                 'index = write_report(runs, out_dir, title="Workbench notebook report", policy=policy)\n'
                 "sorted(p.name for p in index.parent.iterdir())"),
        ("md", "## The verdict\n\nThe report's first section. Runs evaluated on other questions than most are "
               "listed apart in the report, never compared."),
        ("code", 'verdict = json.loads((index.parent / "results.json").read_text(encoding="utf-8"))["verdict"]\n'
                 'Markdown(f"**{verdict[\'headline\']}**\\n\\n" + "\\n".join(f"- {r}" for r in verdict["reasons"]))'),
        ("md", "## Open the report\n\nThe link opens `index.html` (self-contained: plots embedded, full tables "
               "folded) in a new JupyterLab tab; `report.md` beside it is the same without plots."),
        ("code", "link = os.path.relpath(index.resolve(), NOTEBOOK_DIR)\n"
                 'HTML(f"<a href=\'{link}\' target=\'_blank\'>Open the report</a> ({index.resolve()})")'),
        ("md", "## Cleanup"),
        ("code", "if not keep:\n    shutil.rmtree(out_dir)\nPath(out_dir).exists()"),
    ],
}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """One notebook from (kind, source) pairs; kind is ``md``, ``code`` or ``params`` (tagged ``parameters``)."""
    nb = new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
                   "language_info": {"name": "python"}}
    for kind, source in cells:
        if kind == "md":
            nb.cells.append(new_markdown_cell(source))
        else:
            cell = new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
    return nb


def stale(folder: Path = HERE) -> list[str]:
    """The notebooks in ``folder`` that differ from what :data:`NOTEBOOKS` makes (or are missing)."""
    out = []
    for name, cells in NOTEBOOKS.items():
        path = folder / f"{name}.ipynb"
        if not path.is_file() or path.read_text(encoding="utf-8") != nbformat.writes(build(cells)) + "\n":
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    """Write every notebook, or with ``--check`` only name the stale ones (exit code 1 when any)."""
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        names = stale()
        for name in names:
            print(f"{name}.ipynb differs from notebooks/_make_notebooks.py: edit the generator, then run it")
        return 1 if names else 0
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), HERE / f"{name}.ipynb")
        print(HERE / f"{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
