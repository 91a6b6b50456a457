"""Serving: the async RAG engine (admission, micro-batching, streaming, degradation, A/B routing), its
synchronous baseline, the HTTP app, and the OpenAI-compatible LLM service.

```python
from workbench.serving import AsyncEngine, create_app
app = create_app(AsyncEngine.from_config(PipelineConfig.load("fast")))
```
"""

from workbench.serving.admission import AdmissionQueue
from workbench.serving.batching import MicroBatcher
from workbench.serving.degradation import LEVEL_NAMES, DegradationLevel, DegradationPolicy
from workbench.serving.engine import AsyncEngine
from workbench.serving.http_app import create_app
from workbench.serving.llm_server import LlamaCppBackend, SimulatedBackend, SimulatedLLM, create_llm_app
from workbench.serving.routing import VariantRouter
from workbench.serving.sync_engine import SyncEngine

__all__ = [
    "AdmissionQueue",
    "AsyncEngine",
    "DegradationLevel",
    "DegradationPolicy",
    "LEVEL_NAMES",
    "LlamaCppBackend",
    "MicroBatcher",
    "SimulatedBackend",
    "SimulatedLLM",
    "SyncEngine",
    "VariantRouter",
    "create_app",
    "create_llm_app",
]
