"""Start real servers (Redis, ...) on 127.0.0.1 at a free port, for tests, benchmarks and notebooks.

```python
with RedisServer() as redis_server:
    client = redis.Redis.from_url(redis_server.url)
    redis_server.stop(); redis_server.start()       # an outage and a recovery, on the same port
with ServeProcess("configs/my.yaml", workers=2) as srv:   # `workbench serve` in a child process
    httpx.post(f"{srv.url}/v1/chat", json={"question": "gold card annual fee?"})
    srv.kill_worker(srv.worker_pids()[0])            # SIGKILL one worker; uvicorn starts another
```
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["RedisServer", "ServeProcess", "UvicornServer", "cpu_seconds", "free_port", "wait_for_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes ``pids`` have used so far (Linux ``/proc``; gone ones: 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])   # utime, stime (fields 14 and 15 of stat)
    return total / tick


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

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self.running else None  # type: ignore[union-attr]

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


class ServeProcess:
    """``workbench serve CONFIG --workers N`` in a child process on 127.0.0.1 (its own process group).

    :meth:`start` returns once ``/readyz`` answers 200 and every worker has logged its start-up;
    :meth:`kill` SIGKILLs the whole group (a machine-level crash of the service), :meth:`kill_worker`
    one worker (uvicorn's supervisor then starts a new one). The log goes to ``log_path``.
    """

    def __init__(self, config: str | Path, *, port: int | None = None, workers: int = 1,
                 env: dict[str, str] | None = None, log_path: str | Path | None = None) -> None:
        self.config, self.workers = str(config), workers
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="wb-serve-", suffix=".log")[1])
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server (supervisor) process id while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self, *, timeout_s: float = 180.0) -> ServeProcess:
        """Start the server and wait until every worker is up.

        :raises RuntimeError: the server exited or was not ready within ``timeout_s`` (the log's tail says why).
        """
        started_before = self._startups()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "workbench.cli", "serve", self.config, "--port", str(self.port),
                 "--workers", str(self.workers), "--log-level", "info"],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"workbench serve exited with {self._proc.returncode}: {self._tail()}")
            if self._startups() - started_before >= self.workers and self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"workbench serve was not ready after {timeout_s:g} s: {self._tail()}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _startups(self) -> int:
        try:
            return self.log_path.read_text(errors="replace").count("Application startup complete")
        except FileNotFoundError:
            return 0

    def _tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (with one worker: the server process itself)."""
        if self.pid is None:
            return []
        if self.workers == 1:
            return [self.pid]
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            return []
        # the workers are spawned by multiprocessing (``spawn_main``); its resource tracker is a child too
        return [int(c) for c in children if "spawn_main" in _cmdline(int(c))]

    def kill_worker(self, pid: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one worker process (by its id)."""
        if pid not in self.worker_pids():
            raise ValueError(f"{pid} is not a worker of this server")
        os.kill(pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the server and all its workers at once (SIGKILL: nothing runs a shutdown)."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, sig)
            self._proc.wait(timeout=30)

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM to the group), SIGKILL after 20 s."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            except ProcessLookupError:
                pass
        self._proc = None

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
