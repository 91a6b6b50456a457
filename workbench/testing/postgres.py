"""Start a throw-away PostgreSQL server (Debian's ``postgresql`` binaries) on 127.0.0.1 at a free port.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the ``postgres``
OS user (``runuser``) in a temporary data folder it owns. Authentication is ``trust`` on loopback.

```python
with PostgresServer() as pg:
    conn = psycopg.connect(pg.dsn)
```
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from workbench.testing.servers import free_port, wait_for_port

__all__ = ["PG_BIN_DIRS", "PostgresServer", "find_pg_bin"]

#: Where Debian puts the server binaries (newest first).
PG_BIN_DIRS = tuple(f"/usr/lib/postgresql/{v}/bin" for v in (17, 16, 15, 14, 13))


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    for d in PG_BIN_DIRS:
        if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file():
            return Path(d)
    return None


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (fsync off: test speed, not durability)."""

    def __init__(self, *, port: int | None = None, user: str = "postgres") -> None:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL is not installed: run `apt-get install postgresql` "
                                    f"(looked in {', '.join(PG_BIN_DIRS)})")
        self.bin_dir, self.user = bin_dir, user
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="wb-pg-"))
        self.data = self.dir / "data"
        self._as_other = os.geteuid() == 0
        if self._as_other:
            shutil.chown(self.dir, user=user)
        self._initialized = False
        self._running = False

    @property
    def dsn(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres``."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_other:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=self.dir, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")

    def start(self) -> PostgresServer:
        """initdb (first time) and start on the port."""
        if self._running:
            return self
        if not self._initialized:
            self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "--no-sync", "-E", "UTF8",
                      "--locale=C")
            self._initialized = True
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "server.log"), "-w",
                  "-t", "30", "start")
        wait_for_port(self.port)
        self._running = True
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        if self._running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self._running = False

    def close(self) -> None:
        """Stop and remove the data folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
