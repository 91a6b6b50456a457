"""Run the HTTP app on uvicorn with the limits a public service needs: header read timeouts and log lines with time.

uvicorn's h11 protocol times out idle keep-alive connections, but not a connection that dribbles its request
headers: it stays open as long as the client likes (300 such connections held a server for 40 s). The
:class:`HeaderTimeoutProtocol` closes a connection that has not delivered a request's complete headers within
``header_timeout_s`` (measured from the connection, or from the first byte of a later request on a kept-alive
connection), answering ``408`` first. Body read timeouts and size limits are the app's
(:class:`~workbench.serving.request_guard.RequestGuard`).

After the app's startup (models, knowledge base, dictionaries loaded) :class:`HeapFreezingLifespan` moves every
object alive into the garbage collector's permanent generation (``gc.freeze``): a full collection otherwise
scans that whole heap (about 265,000 objects with the ``default`` preset: a 230-290 ms stall of the event loop,
measured here about once per thousand requests, which made every request in flight miss a 1 s target). Objects
made while serving are collected as before; a startup object that later becomes cyclic garbage is not (a
knowledge base replaced at run time is freed by reference counting unless it holds cycles).

```python
run_server(server_config(create_app(engine_factory("fast")), port=8000, limits=HttpLimits(header_timeout_s=10)))
```
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import uvicorn
from uvicorn.lifespan.on import LifespanOn
from uvicorn.protocols.http.h11_impl import H11Protocol

from workbench.observability.logs import log_config
from workbench.serving.request_guard import HttpLimits

__all__ = ["HeaderTimeoutProtocol", "HeapFreezingLifespan", "ServerConfig", "run_server", "server_config"]

log = logging.getLogger(__name__)

_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeapFreezingLifespan(LifespanOn):
    """uvicorn's lifespan; once the app has started, the heap it built is frozen (see the module docstring)."""

    async def startup(self) -> None:
        """Run the app's startup, then collect once and freeze what is left (nothing if the startup failed)."""
        await super().startup()
        if not self.should_exit:
            gc.collect()
            gc.freeze()
            self.logger.info("Froze %d startup objects out of the garbage collector's scans.", gc.get_freeze_count())


class ServerConfig(uvicorn.Config):
    """A ``uvicorn.Config`` that also carries ``header_timeout_s`` (read by :class:`HeaderTimeoutProtocol`) and
    runs the app's lifespan with :class:`HeapFreezingLifespan` (``lifespan="on"``).

    :param app: the ASGI app, or an import string (with ``factory=True`` for a factory).
    :param header_timeout_s: seconds a connection has to send a request's complete headers.
    :param kwargs: the usual ``uvicorn.Config`` keywords.
    """

    def __init__(self, app: Any, *, header_timeout_s: float = 10.0, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout_s = header_timeout_s

    def load(self) -> None:
        """uvicorn's ``load``, with the heap-freezing lifespan in place of ``lifespan="on"``'s."""
        super().load()
        if self.lifespan == "on":
            self.lifespan_class = HeapFreezingLifespan


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that do not send complete request headers in time."""

    def __init__(self, config: uvicorn.Config, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout_s = float(getattr(config, "header_timeout_s", 10.0))
        self._header_timer: asyncio.TimerHandle | None = None

    def _awaiting_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._on_header_timeout)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers():
            self._arm()  # a new request starts: its headers must be complete in time
        super().data_received(data)
        if not self._awaiting_headers():
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # the idle keep-alive timer of uvicorn takes over until the next request's first byte arrives
        self._disarm()

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._awaiting_headers():
            return
        log.debug("closing a connection from %s: no complete request headers within %g s", self.client,
                  self.header_timeout_s)
        self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()


def server_config(app: Any, *, host: str = "127.0.0.1", port: int = 8000, limits: HttpLimits | None = None,
                  workers: int = 1, factory: bool = False, log_level: str = "info",
                  access_log: bool = False) -> ServerConfig:
    """The uvicorn config of a workbench HTTP service: header timeouts, keep-alive, log lines with time and id.

    :param app: the ASGI app, or an import string (``factory=True`` for a factory, required with ``workers > 1``).
    :param host: the interface to bind.
    :param port: the TCP port.
    :param limits: the HTTP limits (only ``header_timeout_s`` is the server's; the app applies the rest).
    :param workers: worker processes.
    :param factory: ``app`` names a factory.
    :param log_level: uvicorn's and the workbench's log level.
    :param access_log: log one line per request.
    :returns: the config for :func:`run_server` (or ``uvicorn.Server``).
    """
    limits = limits or HttpLimits()
    return ServerConfig(app, header_timeout_s=limits.header_timeout_s, host=host, port=port, workers=workers,
                        factory=factory, http=HeaderTimeoutProtocol, lifespan="on", access_log=access_log,
                        log_level=log_level, log_config=log_config(log_level),
                        timeout_keep_alive=max(1, round(min(limits.header_timeout_s, 5.0))),
                        # a worker loading models on a busy machine misses uvicorn's 5 s ping and is killed and
                        # restarted in a loop (seen with --workers 2 at load 10 on 2 cores)
                        timeout_worker_healthcheck=60)


def run_server(config: ServerConfig) -> None:
    """Serve until interrupted (SIGINT/SIGTERM), with ``config.workers`` worker processes.

    :param config: from :func:`server_config`.
    """
    from uvicorn.supervisors import Multiprocess

    server = uvicorn.Server(config)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()
