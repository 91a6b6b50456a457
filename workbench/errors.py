"""The workbench's exceptions, one hierarchy.

Every error says what was wrong and how to fix it. They are raised, never returned.

```
WorkbenchError
├── ConfigError              a configuration field is wrong or inconsistent (names the field and the fix)
├── ModelNotFoundError       a model is not installed or its path does not exist (names the install command)
├── DatasetError             a dataset or input file is malformed (names the file, the line and the field)
├── IndexNotBuiltError       the query path was asked for before the knowledge base was indexed
├── InputError               bad request input: empty, too long, wrong type (an HTTP 4xx)
│   └── UnknownTenantError   the tenant is not configured
├── GeneratorError           a generator backend failed (a remote server, a model call)
│   └── GeneratorTimeoutError the backend did not answer within its timeout
└── OverloadedError          the service sheds load; retry after `retry_after` seconds (HTTP 429)
```
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DatasetError",
    "GeneratorError",
    "GeneratorTimeoutError",
    "IndexNotBuiltError",
    "InputError",
    "ModelNotFoundError",
    "OverloadedError",
    "UnknownTenantError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""

    #: A short machine-readable name, used as the ``type`` of HTTP error bodies.
    type: str = "workbench_error"
    #: The HTTP status that a server maps this error to.
    http_status: int = 500


class ConfigError(WorkbenchError, ValueError):
    """A configuration is invalid; the message names the field and the fix."""

    type = "config_error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ModelNotFoundError(WorkbenchError, FileNotFoundError):
    """A model is not installed or a local model path does not exist."""

    type = "model_not_found"


class DatasetError(WorkbenchError, ValueError):
    """A dataset or input file is malformed; the message names file, line and field."""

    type = "dataset_error"
    http_status = 400

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        self.path, self.line, self.field = path, line, field
        where = ":".join(str(p) for p in (path, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field!r})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class IndexNotBuiltError(WorkbenchError, RuntimeError):
    """The knowledge base has not been indexed yet."""

    type = "index_not_built"
    http_status = 503


class InputError(WorkbenchError, ValueError):
    """A request's input is invalid (empty question, too long, wrong type)."""

    type = "invalid_request"
    http_status = 400


class UnknownTenantError(InputError):
    """The request names a tenant that is not configured."""

    type = "unknown_tenant"
    http_status = 404


class GeneratorError(WorkbenchError, RuntimeError):
    """A generator backend failed (a remote server error, a model failure)."""

    type = "generator_error"
    http_status = 502


class GeneratorTimeoutError(GeneratorError, TimeoutError):
    """A generator backend did not answer in time."""

    type = "generator_timeout"
    http_status = 504


class OverloadedError(WorkbenchError):
    """The service is over capacity and sheds this request; retry after ``retry_after`` seconds."""

    type = "overloaded"
    http_status = 429

    def __init__(self, message: str = "overloaded", *, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(f"{message}; retry after {retry_after:g} s")
