"""Reports from experiment results: self-contained HTML (plots embedded), Markdown, CSV and JSON.

```python
from workbench.reporting import write_report, report_from_run_dir
write_report(sweep_result, "reports/my-sweep")       # → Path("reports/my-sweep/index.html")
```
"""

from workbench.reporting.html_report import render_html
from workbench.reporting.markdown_report import markdown_table, render_markdown
from workbench.reporting.tables import report_tables
from workbench.reporting.writer import DEFAULT_REPORTS_DIR, find_runs, main, report_from_run_dir, write_report

__all__ = [
    "DEFAULT_REPORTS_DIR",
    "find_runs",
    "main",
    "markdown_table",
    "render_html",
    "render_markdown",
    "report_from_run_dir",
    "report_tables",
    "write_report",
]
