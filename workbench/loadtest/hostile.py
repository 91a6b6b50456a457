"""Hostile HTTP clients: what a careless or malicious client does to a server, to measure that it holds.

* :func:`dribble_headers`: many connections that send their request headers one byte at a time (slowloris);
  returns how long each stayed open;
* :func:`send_oversized_bodies`: many clients uploading bodies far over the limit at once, half with
  ``Content-Length``, half chunked;
* :func:`peak_rss_growth`: the peak resident memory a server process gains while something runs.

They speak raw sockets, so they can send what a client library would refuse to::

    with ContractServerProcess(limits=HttpLimits(header_timeout_s=1)) as server:
        open_s = asyncio.run(dribble_headers("127.0.0.1", server.port, connections=300, deadline_s=30))
        growth = peak_rss_growth(server.pid, lambda: send_oversized_bodies("127.0.0.1", server.port))
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["CHAT_HEAD", "dribble_headers", "peak_rss_growth", "rss_bytes", "send_oversized_bodies"]

#: The start of a ``POST /v1/chat`` request with a JSON content type (no length, no blank line yet).
CHAT_HEAD = "POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (Linux ``/proc``).

    :param pid: the process id.
    :returns: bytes.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError(f"no VmRSS for process {pid}")


def peak_rss_growth(pid: int, action: Callable[[], object], *, interval_s: float = 0.01,
                    settle_s: float = 0.5) -> int:
    """How much process ``pid``'s RSS rose above its level before ``action`` at its peak, while ``action`` ran.

    :param pid: the server process.
    :param action: what to run (blocking).
    :param interval_s: the sampling interval.
    :param settle_s: how long to keep sampling after ``action`` returns.
    :returns: peak RSS minus the RSS before, in bytes.
    """
    base = rss_bytes(pid)
    peak = base
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_bytes(pid))
            time.sleep(interval_s)

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    try:
        action()
        time.sleep(settle_s)
    finally:
        stop.set()
        sampler.join()
    return peak - base


def _upload(host: str, port: int, body_bytes: int, chunked: bool, timeout_s: float) -> None:
    piece = b" " * (256 * 1024)
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            if chunked:
                s.sendall(f"{CHAT_HEAD}Transfer-Encoding: chunked\r\n\r\n".encode())
                frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                for _ in range(body_bytes // len(piece)):
                    s.sendall(frame)
            else:
                s.sendall(f"{CHAT_HEAD}Content-Length: {body_bytes}\r\n\r\n".encode())
                for _ in range(body_bytes // len(piece)):
                    s.sendall(piece)
            while s.recv(65536):
                pass
    except OSError:
        pass  # refused mid-upload: what a body limit does


def send_oversized_bodies(host: str, port: int, *, connections: int = 100, body_bytes: int = 8 << 20,
                          timeout_s: float = 60.0) -> None:
    """``connections`` clients at once, each uploading a ``body_bytes`` body (odd ones chunked), until refused.

    :param host: the server host.
    :param port: the server port.
    :param connections: concurrent clients.
    :param body_bytes: each body's size.
    :param timeout_s: per-socket timeout.
    """
    threads = [threading.Thread(target=_upload, args=(host, port, body_bytes, bool(i % 2), timeout_s),
                                name=f"upload-{i}") for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


async def _dribble_one(host: str, port: int, deadline_s: float, interval_s: float) -> tuple[float | None, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    t0 = time.monotonic()
    payload = (CHAT_HEAD + "X-Slow: " + "z" * 100_000).encode()
    got = b""
    try:
        for i in range(len(payload)):
            if time.monotonic() - t0 > deadline_s:
                return None, got
            try:
                writer.write(payload[i:i + 1])
                await writer.drain()
                data = await asyncio.wait_for(reader.read(1024), timeout=interval_s)
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - t0, got
            got += data
            if not data:
                return time.monotonic() - t0, got
        return None, got
    finally:
        writer.close()


async def dribble_headers(host: str, port: int, *, connections: int = 300, deadline_s: float = 40.0,
                          interval_s: float = 0.1) -> list[tuple[float | None, bytes]]:
    """Open ``connections`` connections that each send request headers one byte every ``interval_s``.

    :param host: the server host.
    :param port: the server port.
    :param connections: how many at once.
    :param deadline_s: when to give up on a connection the server keeps open.
    :param interval_s: seconds between bytes.
    :returns: per connection: seconds until the server closed it (``None``: still open at the deadline),
        and what the server sent before closing.
    """
    return list(await asyncio.gather(*(_dribble_one(host, port, deadline_s, interval_s)
                                       for _ in range(connections))))
