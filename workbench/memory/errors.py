"""Errors of conversation memory (children of :class:`workbench.errors.WorkbenchError`).

```
WorkbenchError
└── InputError
    └── SessionIdError          a tenant or session id is empty, too long or has forbidden characters
    └── SessionNotFoundError    the session is not the caller's (another user's or tenant's): HTTP 404
└── SessionStoreError           a session store backend failed (server down, disk error)
└── SessionImportError          an exported session is malformed or belongs to another tenant
```
"""

from __future__ import annotations

from workbench.errors import InputError, WorkbenchError

__all__ = ["SessionIdError", "SessionImportError", "SessionNotFoundError", "SessionStoreError"]


class SessionIdError(InputError):
    """A tenant or session id is not usable as a key (empty, too long, forbidden characters)."""

    type = "invalid_session_id"


class SessionNotFoundError(InputError, LookupError):
    """The session id names a session the caller may not use: it belongs to another user of the tenant.

    A session belongs to the user who started it (an anonymous session to anonymous callers). The answer
    is a 404, not a 403: a 403 would confirm to a prober that the id exists and whose it is, while "not
    found" tells the caller only that this id is not theirs, names no owner and shows nothing of the
    history. (A caller can still learn that an id is taken, because a fresh id starts a new session:
    session ids should be random, e.g. ``uuid4().hex``, so that holding one is the only way to name it.)
    """

    type = "session_not_found"
    http_status = 404


class SessionStoreError(WorkbenchError, RuntimeError):
    """A session store backend failed; the message names the backend and the fix."""

    type = "session_store_error"
    http_status = 503


class SessionImportError(WorkbenchError, ValueError):
    """An exported session cannot be imported (malformed, or it belongs to another tenant)."""

    type = "session_import_error"
    http_status = 400
