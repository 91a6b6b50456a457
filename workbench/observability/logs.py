"""Structured log lines: every line carries a timestamp and the id of the request it belongs to.

The HTTP app sets the request id (:func:`bind_request_id`) when a request arrives; everything logged
while serving it (the app, the engine, uvicorn's own error lines) carries ``rid=<id>``, so a client's
``X-Request-ID`` leads to the server-side details of its error::

    configure_logging("info")
    token = bind_request_id("3f2a9c1d0b7e4a55")
    logging.getLogger("workbench").warning("store failed")
    # 2026-11-03T09:14:07.215 WARNING workbench rid=3f2a9c1d0b7e4a55 store failed
"""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar, Token
from typing import Any

__all__ = [
    "LOG_DATE_FORMAT",
    "LOG_FORMAT",
    "RequestIdFilter",
    "bind_request_id",
    "configure_logging",
    "current_request_id",
    "log_config",
]

#: The line format: ISO-8601 time with milliseconds, level, logger, request id, message.
LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s rid=%(request_id)s %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

_REQUEST_ID: ContextVar[str] = ContextVar("workbench_request_id", default="-")


def current_request_id() -> str:
    """The id of the request being served in this task (``"-"`` outside a request)."""
    return _REQUEST_ID.get()


def bind_request_id(request_id: str) -> Token[str]:
    """Make ``request_id`` the current request's id (for this task and the tasks it starts).

    :param request_id: the id to put on every log line until the request ends.
    :returns: a token for ``ContextVar.reset`` (not needed when the task ends with the request).
    """
    return _REQUEST_ID.set(request_id)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (the current request's id, or ``"-"``) to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _REQUEST_ID.get()
        return True


def log_config(level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` mapping (also uvicorn's ``log_config=``) for the workbench and uvicorn.

    :param level: the level of the ``workbench`` and ``uvicorn`` loggers (``"debug"`` … ``"critical"``).
    :returns: the mapping; one stderr handler with :data:`LOG_FORMAT` and the :class:`RequestIdFilter`.
    """
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"line": {"format": LOG_FORMAT, "datefmt": LOG_DATE_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["request_id"],
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "workbench": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn.error": {"level": lvl},
            "uvicorn.access": {"handlers": ["stderr"], "level": lvl, "propagate": False},
        },
    }


def configure_logging(level: str = "info") -> None:
    """Apply :func:`log_config` to the process (``workbench serve`` does this through uvicorn).

    :param level: the log level name.
    """
    logging.config.dictConfig(log_config(level))
