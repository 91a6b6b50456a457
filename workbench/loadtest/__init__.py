"""Load testing: seeded workloads from the bank dataset, the standard profiles (synchronous, concurrent,
throughput, constant, poisson, burstiness, sweep, ramp, morning-peak), open- and closed-loop runners
(in-process and HTTP), SLOs by their usual names, answers scored against the gold (correct goodput), the
sweep and the capacity search, Locust integration, and results as pandas with a summary, plots and save/load.

```python
from workbench.loadtest import SLO, RunProfile, Workload, find_capacity, runner_for
result = runner_for(RunProfile(name="morning-peak", rate=100, duration_s=60), target, Workload(), warmup=0.1,
                    score=True).run_sync()
result.summary(slo=SLO(ttft_ms=300, e2el_ms=1000)); result.plot(); result.save("runs/peak")
cap = await find_capacity(target, Workload(), SLO(e2el_ms=1500), min_correct=0.8)
```

See ``docs/loadtest.md`` (definitions, coordinated omission, Locust distributed mode).
"""

from workbench.loadtest.capacity import CapacityResult, SweepResult, find_capacity, sweep
from workbench.loadtest.compare import (
    cache_off_vs_on,
    compare_many,
    compare_results,
    compare_runs,
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
from workbench.loadtest.profiles import PROFILE_NAMES, STANDARD_PROFILES, LoadProfile, RunProfile, arrival_offsets
from workbench.loadtest.quality import score_answers
from workbench.loadtest.result import COLUMNS, LoadResult
from workbench.loadtest.runners import ClosedLoopRunner, OpenLoopRunner, runner_for
from workbench.loadtest.senders import Outcome, Sender, TargetSender
from workbench.loadtest.stats import SLO, SLO_METRICS, goodput
from workbench.loadtest.target import CallableTarget, DelayTarget, NoopTarget, SlotTarget, StreamingTarget, Target
from workbench.loadtest.workload import WorkItem, Workload, WorkloadSpec

__all__ = [
    "BlockingTarget",
    "COLUMNS",
    "CallableTarget",
    "CapacityResult",
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
    "RunProfile",
    "SLO",
    "SLO_METRICS",
    "STANDARD_PROFILES",
    "Sender",
    "SlotTarget",
    "StreamingTarget",
    "SweepResult",
    "Target",
    "TargetSender",
    "ThreadedTarget",
    "WorkItem",
    "Workload",
    "WorkloadSpec",
    "arrival_offsets",
    "cache_off_vs_on",
    "compare_many",
    "compare_results",
    "compare_runs",
    "concurrency_sweep",
    "create_contract_app",
    "find_capacity",
    "goodput",
    "make_inprocess_target",
    "pipeline_answer_fn",
    "read_locust_events",
    "read_locust_json",
    "run_locust",
    "runner_for",
    "saturation_point",
    "score_answers",
    "sweep",
    "sync_vs_async",
]
