"""Load testing: seeded workloads from the bank dataset, open- and closed-loop runners (in-process and HTTP),
Locust integration, and results as pandas with a summary, plots and save/load.

```python
from workbench.loadtest import LoadProfile, OpenLoopRunner, SLO, Workload, WorkloadSpec
result = OpenLoopRunner(target, Workload(WorkloadSpec(zipf_s=1.1)), LoadProfile.morning_peak(100, 60)).run_sync()
result.summary(slo=SLO(ttft_ms=300, e2e_ms=1000)); result.plot(); result.save("runs/peak")
```

See ``docs/loadtest.md`` (definitions, coordinated omission, Locust distributed mode).
"""

from workbench.loadtest.compare import (
    cache_off_vs_on,
    compare_results,
    concurrency_sweep,
    saturation_point,
    sync_vs_async,
)
from workbench.loadtest.contract_app import ContractServerProcess, create_contract_app
from workbench.loadtest.http import HttpSender
from workbench.loadtest.inprocess import (
    BlockingTarget,
    EngineThread,
    ThreadedTarget,
    make_inprocess_target,
    pipeline_answer_fn,
)
from workbench.loadtest.locust_runner import read_locust_events, read_locust_json, run_locust
from workbench.loadtest.profiles import PROFILE_NAMES, LoadProfile, arrival_offsets
from workbench.loadtest.result import COLUMNS, LoadResult
from workbench.loadtest.runners import ClosedLoopRunner, OpenLoopRunner
from workbench.loadtest.senders import Outcome, Sender, TargetSender
from workbench.loadtest.stats import SLO, goodput
from workbench.loadtest.target import CallableTarget, DelayTarget, NoopTarget, StreamingTarget, Target
from workbench.loadtest.workload import WorkItem, Workload, WorkloadSpec

__all__ = [
    "BlockingTarget",
    "COLUMNS",
    "CallableTarget",
    "ClosedLoopRunner",
    "ContractServerProcess",
    "DelayTarget",
    "EngineThread",
    "HttpSender",
    "LoadProfile",
    "LoadResult",
    "NoopTarget",
    "OpenLoopRunner",
    "Outcome",
    "PROFILE_NAMES",
    "SLO",
    "Sender",
    "StreamingTarget",
    "Target",
    "TargetSender",
    "ThreadedTarget",
    "WorkItem",
    "Workload",
    "WorkloadSpec",
    "arrival_offsets",
    "cache_off_vs_on",
    "compare_results",
    "concurrency_sweep",
    "create_contract_app",
    "goodput",
    "make_inprocess_target",
    "pipeline_answer_fn",
    "read_locust_events",
    "read_locust_json",
    "run_locust",
    "saturation_point",
    "sync_vs_async",
]
