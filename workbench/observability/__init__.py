"""Observability: Prometheus metrics of the serving engine (one registry per engine), log lines with time and
request id.

```python
from workbench.observability import EngineMetrics, configure_logging
metrics = EngineMetrics()
metrics.render()          # Prometheus text exposition (bytes)
configure_logging("info")  # 2026-11-03T09:14:07.215 INFO workbench rid=3f2a9c1d0b7e4a55 ...
```
"""

from workbench.observability.logs import (
    LOG_DATE_FORMAT,
    LOG_FORMAT,
    RequestIdFilter,
    bind_request_id,
    configure_logging,
    current_request_id,
    log_config,
)
from workbench.observability.metrics import STAGES, EngineMetrics

__all__ = [
    "EngineMetrics",
    "LOG_DATE_FORMAT",
    "LOG_FORMAT",
    "RequestIdFilter",
    "STAGES",
    "bind_request_id",
    "configure_logging",
    "current_request_id",
    "log_config",
]
