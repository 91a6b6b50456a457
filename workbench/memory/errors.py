"""Errors of conversation memory (children of :class:`workbench.errors.WorkbenchError`).

```
WorkbenchError
└── InputError
    └── SessionIdError          a tenant or session id is empty, too long or has forbidden characters
└── SessionStoreError           a session store backend failed (server down, disk error)
└── SessionImportError          an exported session is malformed or belongs to another tenant
```
"""

from __future__ import annotations

from workbench.errors import InputError, WorkbenchError

__all__ = ["SessionIdError", "SessionImportError", "SessionStoreError"]


class SessionIdError(InputError):
    """A tenant or session id is not usable as a key (empty, too long, forbidden characters)."""

    type = "invalid_session_id"


class SessionStoreError(WorkbenchError, RuntimeError):
    """A session store backend failed; the message names the backend and the fix."""

    type = "session_store_error"
    http_status = 503


class SessionImportError(WorkbenchError, ValueError):
    """An exported session cannot be imported (malformed, or it belongs to another tenant)."""

    type = "session_import_error"
    http_status = 400
