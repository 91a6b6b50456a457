"""Errors of tool calling (children of :class:`workbench.errors.WorkbenchError`).

```
WorkbenchError
├── InputError
│   ├── ToolArgumentError     arguments do not match the tool's schema (names the field)
│   └── ToolInputError        raised by a tool: the input is valid but refers to nothing (unknown user, month)
├── ToolError                 a tool call failed on the server side
│   ├── ToolNotFoundError     no tool of that name (or version) is registered
│   ├── ToolDeniedError       the tenant's policy does not allow the tool (audited)
│   ├── ToolTimeoutError      the tool did not answer within the timeout
│   ├── ToolFailedError       the tool raised
│   ├── CircuitOpenError      the tool's circuit breaker is open; retry after `retry_after` seconds
│   └── ToolBusyError         the tool's concurrency limit is reached
└── PluginError               a plugin file could not be loaded
```
"""

from __future__ import annotations

from workbench.errors import InputError, WorkbenchError

__all__ = [
    "CircuitOpenError",
    "PluginError",
    "ToolArgumentError",
    "ToolBusyError",
    "ToolDeniedError",
    "ToolError",
    "ToolFailedError",
    "ToolInputError",
    "ToolNotFoundError",
    "ToolTimeoutError",
]


class ToolError(WorkbenchError, RuntimeError):
    """A tool call failed."""

    type = "tool_error"
    http_status = 502


class ToolNotFoundError(ToolError, LookupError):
    """No tool of that name (or version) is registered."""

    type = "tool_not_found"
    http_status = 404


class ToolDeniedError(ToolError, PermissionError):
    """The tenant may not call this tool."""

    type = "tool_denied"
    http_status = 403


class ToolTimeoutError(ToolError, TimeoutError):
    """The tool did not answer in time."""

    type = "tool_timeout"
    http_status = 504


class ToolFailedError(ToolError):
    """The tool raised an exception."""

    type = "tool_failed"


class CircuitOpenError(ToolError):
    """The tool failed repeatedly; calls are refused until the breaker's reset time has passed."""

    type = "tool_circuit_open"
    http_status = 503

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"{message}; retry after {retry_after:.1f} s")


class ToolBusyError(ToolError):
    """The tool already runs its maximum number of concurrent calls."""

    type = "tool_busy"
    http_status = 503


class ToolArgumentError(InputError):
    """Arguments do not match the tool's JSON schema."""

    type = "tool_invalid_arguments"


class ToolInputError(InputError):
    """Raised by a tool when valid-looking input refers to nothing (unknown user, month without a bill)."""

    type = "tool_input_error"
    http_status = 404


class PluginError(WorkbenchError, ImportError):
    """A plugin file failed to load; the previous version of its tools stays in service."""

    type = "plugin_error"
