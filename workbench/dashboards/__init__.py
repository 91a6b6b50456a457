"""ipywidgets dashboards for JupyterLab: chat, evaluation and live load test, and helpers for the notebooks.

```python
from workbench.dashboards import ChatWidget, EvalDashboard, LoadTestDashboard
ChatWidget(make_inprocess_target(PipelineConfig.load("fast")))      # or ChatWidget("http://127.0.0.1:8000")
EvalDashboard(sweep_result, dataset=load_eval_dataset("meridian_bank"))
LoadTestDashboard(target, rate=20, duration_s=10)
CapacityDashboard(target, SLO(e2el_ms=500))         # the sweep curve and the capacity point, live
SideBySideChat(fast_target, default_target, labels=("fast", "default"))   # one question, two answers
```
"""

from workbench.dashboards.backends import ChatBackend, HttpBackend, TargetBackend, as_backend, parse_sse_line
from workbench.dashboards.chat import ChatWidget
from workbench.dashboards.evaluation import EvalDashboard
from workbench.dashboards.loadtest import (
    CapacityDashboard,
    LiveRecorder,
    LoadTestDashboard,
    capacity_so_far,
    curve_png,
    step_row,
    warm_summary,
)
from workbench.dashboards.notebook import (
    CleanupButton,
    ProgressBar,
    answer_html,
    enter_project_dir,
    project_dir,
    show_answer,
)
from workbench.dashboards.scheduling import BackgroundRun, run_sync, schedule
from workbench.dashboards.side_by_side import SideBySideChat

__all__ = [
    "BackgroundRun",
    "CapacityDashboard",
    "ChatBackend",
    "ChatWidget",
    "CleanupButton",
    "EvalDashboard",
    "HttpBackend",
    "LiveRecorder",
    "LoadTestDashboard",
    "ProgressBar",
    "SideBySideChat",
    "TargetBackend",
    "answer_html",
    "as_backend",
    "capacity_so_far",
    "curve_png",
    "enter_project_dir",
    "parse_sse_line",
    "project_dir",
    "run_sync",
    "schedule",
    "show_answer",
    "step_row",
    "warm_summary",
]
