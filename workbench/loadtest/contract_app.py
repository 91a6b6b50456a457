"""The HTTP contract served over a load-test target: :func:`workbench.serving.http_app.create_app` itself.

There is one HTTP app. ``create_contract_app(target)`` is that app over an injected
:class:`~workbench.loadtest.target.Target` (a fixed delay, the ``fast`` preset's pipeline, ...), with an
optional in-flight limit that sheds with 429 + ``Retry-After``, so the HTTP runner and Locust can be tested
and calibrated without the engine. ``python -m workbench.loadtest.contract_app`` serves it over a
:class:`~workbench.loadtest.target.DelayTarget` in its own process, on the same hardened uvicorn set-up as
``workbench serve`` (body and header limits, log lines with time and request id).

```python
with UvicornServer(create_contract_app(DelayTarget(delay_s=0.02))) as server:
    httpx.post(f"{server.url}/v1/chat", json={"question": "gold card fee?"}).json()["answer"]
```
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from fastapi import FastAPI

from workbench.loadtest.target import Target
from workbench.serving.http_app import create_app
from workbench.serving.request_guard import HttpLimits

__all__ = ["ContractServerProcess", "create_contract_app", "main"]


def create_contract_app(target: Target, *, max_in_flight: int | None = None, retry_after_s: float = 1.0,
                        limits: HttpLimits | None = None) -> FastAPI:
    """:func:`~workbench.serving.http_app.create_app` over ``target``, shedding beyond ``max_in_flight``.

    :param target: what answers the requests.
    :param max_in_flight: requests in flight at once; more get 429 (``None``: no limit).
    :param retry_after_s: the ``Retry-After`` of those 429s.
    :param limits: other HTTP limits (body size and time); ``max_in_flight``/``retry_after_s`` override theirs.
    :returns: the app.
    """
    base = limits or HttpLimits()
    return create_app(target, limits=HttpLimits(max_body_bytes=base.max_body_bytes, body_timeout_s=base.body_timeout_s,
                                                header_timeout_s=base.header_timeout_s, max_in_flight=max_in_flight,
                                                retry_after_s=retry_after_s),
                      title="workbench contract app")


class ContractServerProcess:
    """``python -m workbench.loadtest.contract_app`` in its own process on a free 127.0.0.1 port, logging to a file.

    For measurements where client and server must not share a process (benchmarks, RSS, slow clients).

    ```python
    with ContractServerProcess(limits=HttpLimits(max_body_bytes=65536)) as server:
        httpx.get(f"{server.url}/healthz")
    ```

    :param delay_ms: the target's delay to the first token.
    :param tokens: tokens per answer.
    :param limits: the HTTP limits (body size and time, header timeout, in-flight shedding).
    :param log_level: the server's log level (its lines go to ``log_path``).
    :param log_path: where the server logs (default: a temporary file).
    :param start_timeout_s: how long to wait for the port to open.
    """

    def __init__(self, *, delay_ms: float = 1.0, tokens: int = 0, limits: HttpLimits | None = None,
                 log_level: str = "info", log_path: str | Path | None = None, start_timeout_s: float = 60.0) -> None:
        from workbench.testing import free_port

        self.limits = limits or HttpLimits()
        self.port = free_port()
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkdtemp(prefix="wb-contract-")) / "server.log"
        self.args = ["--port", str(self.port), "--delay-ms", f"{delay_ms:g}", "--tokens", str(tokens),
                     "--max-body-bytes", str(self.limits.max_body_bytes),
                     "--body-timeout-s", f"{self.limits.body_timeout_s:g}",
                     "--header-timeout-s", f"{self.limits.header_timeout_s:g}", "--log-level", log_level]
        if self.limits.max_in_flight is not None:
            self.args += ["--max-in-flight", str(self.limits.max_in_flight)]
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self.proc is None:
            raise RuntimeError("the server is not started")
        return self.proc.pid

    def log_text(self) -> str:
        """What the server has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self) -> ContractServerProcess:
        """Start the process and wait until it accepts connections."""
        from workbench.testing import wait_for_port

        root = str(Path(__file__).resolve().parents[2])  # import this very workbench in the child
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "workbench.loadtest.contract_app", *self.args],
                                         env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, timeout_s=self.start_timeout_s)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> ContractServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m workbench.loadtest.contract_app --port 8000 --delay-ms 20 [--tokens 8 --tpot-ms 2]``:
    serve the contract app over a :class:`DelayTarget` in its own process (benchmarks and hostile-input tests:
    server and client must not share a process)."""
    import argparse

    from workbench.loadtest.target import DelayTarget
    from workbench.serving.http_server import run_server, server_config

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--tokens", type=int, default=0)
    ap.add_argument("--tpot-ms", type=float, default=0.0)
    ap.add_argument("--max-in-flight", type=int, default=None)
    ap.add_argument("--max-body-bytes", type=int, default=HttpLimits.max_body_bytes)
    ap.add_argument("--body-timeout-s", type=float, default=HttpLimits.body_timeout_s)
    ap.add_argument("--header-timeout-s", type=float, default=HttpLimits.header_timeout_s)
    ap.add_argument("--log-level", default="warning")
    a = ap.parse_args(argv)
    limits = HttpLimits(max_body_bytes=a.max_body_bytes, body_timeout_s=a.body_timeout_s,
                        header_timeout_s=a.header_timeout_s, max_in_flight=a.max_in_flight)
    app = create_contract_app(DelayTarget(delay_s=a.delay_ms / 1e3, tokens=a.tokens, tpot_s=a.tpot_ms / 1e3),
                              max_in_flight=a.max_in_flight, limits=limits)
    run_server(server_config(app, port=a.port, limits=limits, log_level=a.log_level))


if __name__ == "__main__":
    main()
