"""The transport guard in front of the chat routes: request ids, media type, body size and time, shedding.

:class:`RequestGuard` is a pure ASGI middleware. For every HTTP request it

* gives the request an id (the client's ``X-Request-ID`` when it is a short token, else a new one), puts it
  on every log line of the request (:mod:`workbench.observability.logs`) and in the ``X-Request-ID``
  response header;
* for a request with a body (POST/PUT/PATCH): answers 415 unless the body is ``application/json`` (and 400
  when it is not UTF-8);
  413 at once when ``Content-Length`` is over ``max_body_bytes`` (the body is never read), and 413 as soon
  as a chunked body grows past it; 408 when the body has not arrived within ``body_timeout_s``; a client
  that hangs up mid-body is logged in one line, not with a traceback. The app then reads the body from
  memory (at most ``max_body_bytes`` per request);
* sheds with 429 + ``Retry-After`` beyond ``max_in_flight`` requests in flight (streams count until they end);
* turns an unexpected exception into a 500 error body with the request id (the traceback goes to the log).

Header read timeouts are the server's job (:mod:`workbench.serving.http_server`): an ASGI app is only called
once the headers are complete::

    app.add_middleware(RequestGuard, limits=HttpLimits(max_body_bytes=1 << 20, body_timeout_s=30))
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.errors import ConfigError, OverloadedError
from workbench.observability.logs import bind_request_id
from workbench.serving.http_errors import error_response, response_for

if TYPE_CHECKING:
    from workbench.config import ServingConfig

__all__ = ["HttpLimits", "RequestGuard"]

log = logging.getLogger(__name__)

_CLIENT_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CLOSE = {"Connection": "close"}


@dataclass(frozen=True, kw_only=True)
class HttpLimits:
    """What one HTTP request may cost the server (see :class:`RequestGuard` and ``http_server``).

    ```python
    HttpLimits.from_config(PipelineConfig.load("fast").serving)
    ```
    """

    max_body_bytes: int = 1 << 20
    """Largest request body (HTTP 413 beyond it)."""
    body_timeout_s: float = 30.0
    """The whole body must arrive within this many seconds of the headers (HTTP 408 after)."""
    header_timeout_s: float = 10.0
    """A connection must deliver a request's complete headers within this many seconds (closed after)."""
    max_in_flight: int | None = None
    """Requests with a body in flight at once; more are shed with 429 (``None``: no limit here)."""
    retry_after_s: float = 1.0
    """The ``Retry-After`` of a 429 from ``max_in_flight``."""

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1 or self.body_timeout_s <= 0 or self.header_timeout_s <= 0:
            raise ConfigError("max_body_bytes must be >= 1 and the timeouts > 0", field="HttpLimits")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise ConfigError("max_in_flight must be >= 1 or None", field="HttpLimits.max_in_flight")

    @classmethod
    def from_config(cls, serving: ServingConfig, **overrides: Any) -> HttpLimits:
        """The limits of a ``serving`` config section (``max_body_bytes``, ``body_timeout_s``, ``header_timeout_s``).

        :param serving: the config section.
        :param overrides: fields to set differently (``max_in_flight=...``).
        :returns: the limits.
        """
        fields: dict[str, Any] = {"max_body_bytes": serving.max_body_bytes, "body_timeout_s": serving.body_timeout_s,
                                  "header_timeout_s": serving.header_timeout_s}
        return cls(**{**fields, **overrides})


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _is_json(content_type: bytes | None) -> bool:
    """``application/json``, with no charset or a UTF-8 one."""
    if content_type is None:
        return False
    media, _, params = content_type.decode("latin-1").partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


class RequestGuard:
    """The ASGI middleware described in the module docstring.

    :param app: the wrapped ASGI app.
    :param limits: body size and time, in-flight limit.
    """

    def __init__(self, app: ASGIApp, *, limits: HttpLimits | None = None) -> None:
        self.app = app
        self.limits = limits or HttpLimits()
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client_id = _header(scope, b"x-request-id")
        rid = client_id.decode() if client_id and _CLIENT_ID.match(client_id) else uuid.uuid4().hex[:16]
        bind_request_id(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        if scope["method"] not in _BODY_METHODS:
            await self._run(scope, receive, send_with_id, rid, lambda: started)
            return
        early = self._refuse_early(scope)
        if early is not None:
            await early(scope, receive, send_with_id)
            return
        if self.limits.max_in_flight is not None and self.in_flight >= self.limits.max_in_flight:
            shed = OverloadedError("too many requests in flight", retry_after=self.limits.retry_after_s)
            await response_for(shed, rid)(scope, receive, send_with_id)
            return
        self.in_flight += 1
        try:
            try:
                replay = await self._buffered(receive)
            except _ClientGone:
                log.info("the client disconnected before sending the whole body")
                return
            except _BodyTooLarge:
                await self._too_large()(scope, receive, send_with_id)
                return
            except TimeoutError:
                log.info("the body did not arrive within %g s", self.limits.body_timeout_s)
                await error_response(408, "request_timeout",
                                     f"the body did not arrive within {self.limits.body_timeout_s:g} s",
                                     _CLOSE)(scope, receive, send_with_id)
                return
            if replay is None:
                await error_response(400, "invalid_request", "the body is not UTF-8 text (JSON is sent in UTF-8)")(
                    scope, receive, send_with_id)
                return
            await self._run(scope, replay, send_with_id, rid, lambda: started)
        finally:
            self.in_flight -= 1

    async def _run(self, scope: Scope, receive: Receive, send: Send, rid: str, started: Callable[[], bool]) -> None:
        """Call the app; an exception it lets through becomes a logged 500 (if no response has started)."""
        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("unhandled error while serving %s %s", scope["method"], scope["path"])
            if not started():
                # a complete, well-formed response: the connection stays usable for the client's next request
                await error_response(500, "internal_error",
                                     f"the service failed on this request; request id {rid}")(scope, receive, send)

    def _refuse_early(self, scope: Scope) -> Any:
        """A response that refuses the request from its headers alone (415, 400, 413), or ``None``."""
        if not _is_json(_header(scope, b"content-type")):
            return error_response(415, "unsupported_media_type",
                                  "send the body as application/json (UTF-8), with that Content-Type header")
        length = _header(scope, b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                return error_response(400, "invalid_request", "the Content-Length header is not a number", _CLOSE)
            if int(length) > self.limits.max_body_bytes:
                return self._too_large()
        return None

    def _too_large(self) -> Any:
        return error_response(413, "body_too_large", f"the body is larger than the limit of "
                              f"{self.limits.max_body_bytes} bytes (serving.max_body_bytes)", _CLOSE)

    async def _buffered(self, receive: Receive) -> Receive | None:
        """Read the whole body within the limits; a ``receive`` that replays it, then passes through
        (``None`` when the body is not UTF-8)."""
        limit = self.limits.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        async with asyncio.timeout(self.limits.body_timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _BodyTooLarge
                if chunk:
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        body = b"".join(chunks)
        chunks.clear()
        try:
            body.decode("utf-8")  # JSON travels in UTF-8 (RFC 8259); the parser would guess UTF-16/32 otherwise
        except UnicodeDecodeError:
            return None
        pending = [body]  # handed over once, then dropped (the app keeps its own reference)
        del body

        async def replay() -> Message:
            if pending:
                return {"type": "http.request", "body": pending.pop(), "more_body": False}
            return await receive()

        return replay
