"""Tool plugins: ``@tool``, a hot-reloading registry, tenant policy, a guarded executor, an audit log and
a tool-calling agent.

```python
agent = ToolCallingAgent.from_config(cfg.tools)
outcome = await agent.amaybe_call("bank", "u001", "how much is my may bill?")
prompt_data = format_tool_result(outcome)
```
"""

from workbench.tools.agent import ToolCallingAgent, ToolOutcome, format_tool_result
from workbench.tools.audit import (
    AuditLog,
    AuditRecord,
    InMemoryAuditLog,
    JSONLAuditLog,
    SQLiteAuditLog,
    hash_arguments,
    make_audit_log,
)
from workbench.tools.breaker import Breaker, CircuitBreaker, SharedCircuitBreaker
from workbench.tools.errors import (
    CircuitOpenError,
    PluginError,
    ToolArgumentError,
    ToolBusyError,
    ToolDeniedError,
    ToolError,
    ToolFailedError,
    ToolInputError,
    ToolNotFoundError,
    ToolTimeoutError,
)
from workbench.tools.executor import ToolExecutor, ToolResult
from workbench.tools.policy import ToolPolicy
from workbench.tools.registry import BUNDLED_PLUGINS, ToolRegistry, ToolVersion
from workbench.tools.routing import IntentRouter, LLMRouter, ToolChoice
from workbench.tools.snapshot import InProcessSnapshotCache, SnapshotCache
from workbench.tools.spec import Constraint, ToolSpec, tool, validate_arguments

__all__ = [
    "AuditLog",
    "AuditRecord",
    "BUNDLED_PLUGINS",
    "Breaker",
    "CircuitBreaker",
    "CircuitOpenError",
    "Constraint",
    "InMemoryAuditLog",
    "InProcessSnapshotCache",
    "IntentRouter",
    "JSONLAuditLog",
    "LLMRouter",
    "PluginError",
    "SQLiteAuditLog",
    "SharedCircuitBreaker",
    "SnapshotCache",
    "ToolArgumentError",
    "ToolBusyError",
    "ToolCallingAgent",
    "ToolChoice",
    "ToolDeniedError",
    "ToolError",
    "ToolExecutor",
    "ToolFailedError",
    "ToolInputError",
    "ToolNotFoundError",
    "ToolOutcome",
    "ToolPolicy",
    "ToolRegistry",
    "ToolResult",
    "ToolSpec",
    "ToolTimeoutError",
    "ToolVersion",
    "format_tool_result",
    "hash_arguments",
    "make_audit_log",
    "tool",
    "validate_arguments",
]
