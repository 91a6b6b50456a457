"""Start real servers (Redis, ...) on 127.0.0.1 at a free port, for tests, benchmarks and notebooks.

```python
with RedisServer() as redis_server:
    client = redis.Redis.from_url(redis_server.url)
    redis_server.stop(); redis_server.start()       # an outage and a recovery, on the same port
```
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["RedisServer", "UvicornServer", "free_port", "wait_for_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, timeout_s: float = 10.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on ``host:port`` (TimeoutError after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:g} s")


class RedisServer:
    """A throw-away ``redis-server`` (Debian's package) on 127.0.0.1, no persistence."""

    def __init__(self, *, port: int | None = None, binary: str = "redis-server") -> None:
        path = shutil.which(binary)
        if path is None:
            raise FileNotFoundError("redis-server is not installed: run `bash scripts/setup.sh` "
                                    "(it installs Debian's redis-server)")
        self.binary = path
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="wb-redis-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> RedisServer:
        """Start (or restart after :meth:`stop`) on the same port."""
        if self.running:
            return self
        self._proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """Stop the server (an outage, for tests)."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        """Stop and remove the data folder."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class UvicornServer:
    """Serve an ASGI app with real uvicorn on 127.0.0.1 in a background thread (tests, notebooks, benches).

    ```python
    with UvicornServer(app) as server:
        httpx.get(f"{server.url}/healthz")
    ```
    """

    def __init__(self, app: object, *, port: int | None = None, log_level: str = "warning") -> None:
        import uvicorn

        self.port = port or free_port()
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level=log_level,
                                                     lifespan="on", access_log=False))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> UvicornServer:
        self._thread = threading.Thread(target=self._server.run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> UvicornServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
