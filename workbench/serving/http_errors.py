"""How the HTTP service answers errors: one JSON body, one status per error type, no internals shown.

Every error is ``{"error": {"type", "message"}}`` (:class:`~workbench.serving.schema.ErrorBody`). A
:class:`~workbench.errors.WorkbenchError` keeps its ``type`` and ``http_status``; an overload is a 429 with
``Retry-After``. What a client sees never names the service's insides: a server-side failure (5xx) says
what kind of failure it was and the request id, while the full message (a store URL, an errno) goes to
the server log under that request id; an unknown tenant is not told which tenants exist::

    response_for(SessionStoreError("redis://10.0.0.7:6379/0 is down: [Errno 111]"), "3f2a9c1d")
    # 503 {"error": {"type": "session_store_error",
    #                "message": "the service could not complete the request (a backend is unavailable); ..."}}
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi.responses import JSONResponse

from workbench.errors import OverloadedError, UnknownTenantError, WorkbenchError
from workbench.serving.schema import ErrorBody

__all__ = ["ERROR_RESPONSES", "error_response", "public_message", "response_for"]

log = logging.getLogger(__name__)

#: What a client is told for each server-side status (the details are in the log under the request id).
_SERVER_SIDE = {
    500: "an internal error",
    502: "a backend answered with an error",
    503: "a backend is unavailable",
    504: "a backend did not answer in time",
}

#: The error responses the chat routes declare in the OpenAPI schema (all with the ErrorBody model).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad input: malformed JSON, a wrong type, an empty or too long "
                                             "question, an unknown variant (type `invalid_request`)."},
    404: {"model": ErrorBody, "description": "The tenant is not configured (type `unknown_tenant`), or the "
                                             "session is not the caller's (type `session_not_found`)."},
    408: {"model": ErrorBody, "description": "The body did not arrive within `serving.body_timeout_s`."},
    413: {"model": ErrorBody, "description": "The body is larger than `serving.max_body_bytes`."},
    415: {"model": ErrorBody, "description": "The body is not `application/json` (UTF-8)."},
    429: {"model": ErrorBody, "description": "Overloaded: retry after the `Retry-After` seconds.",
          "headers": {"Retry-After": {"description": "Seconds to wait before retrying.",
                                      "schema": {"type": "integer"}}}},
    500: {"model": ErrorBody, "description": "An internal error (the message gives the request id)."},
    502: {"model": ErrorBody, "description": "A backend (generator, tool) answered with an error."},
    503: {"model": ErrorBody, "description": "A backend (session store, tool) is unavailable."},
    504: {"model": ErrorBody, "description": "A backend did not answer in time."},
}


def error_response(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response ``{"error": {"type": type_, "message": message}}`` with ``status``.

    :param status: the HTTP status.
    :param type_: the machine-readable error type.
    :param message: what the client should know (never internals).
    :param headers: extra headers (``Retry-After``, ``Connection: close``).
    :returns: the response.
    """
    return JSONResponse({"error": {"type": type_, "message": message}}, status_code=status, headers=headers)


def public_message(exc: WorkbenchError, request_id: str) -> str:
    """What a client may read of ``exc``: its message for bad input, a summary and the request id otherwise.

    :param exc: the error.
    :param request_id: the id under which the server log has the details.
    :returns: the message for the error body.
    """
    if isinstance(exc, UnknownTenantError):
        return "unknown tenant: the tenant is not configured on this service"
    status = exc.http_status
    if status >= 500:
        what = _SERVER_SIDE.get(status, "an internal error")
        return f"the service could not complete the request ({what}); request id {request_id}"
    return str(exc)


def response_for(exc: WorkbenchError, request_id: str) -> JSONResponse:
    """The error response of ``exc``; a server-side error is logged with its full message first.

    :param exc: the error the target (or the app) raised.
    :param request_id: the current request's id (in the log line and, for 5xx, in the message).
    :returns: the response: ``exc.http_status`` (429 + ``Retry-After`` for an overload).
    """
    if isinstance(exc, OverloadedError):
        return error_response(429, exc.type, str(exc), {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    status = exc.http_status if 400 <= exc.http_status <= 599 else 500
    headers = None
    if status >= 500:
        log.warning("request failed with HTTP %d: %s: %s", status, exc.type, exc)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and status == 503:
            headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    return error_response(status, exc.type, public_message(exc, request_id), headers)
