"""Reports from experiment results: self-contained HTML (plots embedded), Markdown, CSV and JSON.

```python
from workbench.reporting import write_report, report_from_run_dir
write_report(sweep_result, "reports/my-sweep")       # → Path("reports/my-sweep/index.html")
write_report(runs, "reports/x", policy=ReportConfig(slo_p95_ms=500, min_quality=0.6))   # the verdict's bars
write_report(runs, "reports/demo", serving_vs_bare="reports/demo/serving_vs_bare.json")  # its own section
```
Saved load-test runs side by side: :mod:`workbench.reporting.load_comparison` (imported on demand: it loads
:mod:`workbench.loadtest`), e.g. ``load_report_from_dirs(["runs/before", "runs/after"], "reports/cmp")``.
"""

from workbench.reporting.html_report import render_html
from workbench.reporting.markdown_report import markdown_table, render_markdown
from workbench.reporting.tables import load_table, report_tables, serving_comparison
from workbench.reporting.verdict import ReportConfig, Verdict, recommend, split_by_questions
from workbench.reporting.writer import (
    DEFAULT_REPORTS_DIR,
    SERVING_VS_BARE,
    find_runs,
    main,
    report_from_run_dir,
    report_policy,
    write_report,
)

__all__ = [
    "DEFAULT_REPORTS_DIR",
    "ReportConfig",
    "SERVING_VS_BARE",
    "Verdict",
    "find_runs",
    "load_table",
    "main",
    "markdown_table",
    "recommend",
    "render_html",
    "render_markdown",
    "report_from_run_dir",
    "report_policy",
    "report_tables",
    "serving_comparison",
    "split_by_questions",
    "write_report",
]
