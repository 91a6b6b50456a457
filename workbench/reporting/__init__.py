"""Reports from experiment results: self-contained HTML (plots embedded), Markdown, CSV and JSON.

```python
from workbench.reporting import write_report, report_from_run_dir
write_report(sweep_result, "reports/my-sweep")       # → Path("reports/my-sweep/index.html")
write_report(runs, "reports/x", policy=ReportConfig(slo_p95_ms=500, min_quality=0.6))   # the verdict's bars
```
"""

from workbench.reporting.html_report import render_html
from workbench.reporting.markdown_report import markdown_table, render_markdown
from workbench.reporting.tables import report_tables
from workbench.reporting.verdict import ReportConfig, Verdict, recommend, split_by_questions
from workbench.reporting.writer import (
    DEFAULT_REPORTS_DIR,
    find_runs,
    main,
    report_from_run_dir,
    report_policy,
    write_report,
)

__all__ = [
    "DEFAULT_REPORTS_DIR",
    "ReportConfig",
    "Verdict",
    "find_runs",
    "main",
    "markdown_table",
    "recommend",
    "render_html",
    "render_markdown",
    "report_from_run_dir",
    "report_policy",
    "report_tables",
    "split_by_questions",
    "write_report",
]
