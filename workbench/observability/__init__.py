"""Observability: Prometheus metrics of the serving engine (one registry per engine).

```python
from workbench.observability import EngineMetrics
metrics = EngineMetrics()
metrics.render()          # Prometheus text exposition (bytes)
```
"""

from workbench.observability.metrics import STAGES, EngineMetrics

__all__ = ["EngineMetrics", "STAGES"]
