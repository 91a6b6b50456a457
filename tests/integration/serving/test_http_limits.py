"""Transport limits on a real server process (uvicorn on 127.0.0.1, the ``workbench serve`` set-up): body size,
slow clients, disconnects, log lines. Issue 13, items 8 and 12.

The server is ``python -m workbench.loadtest.contract_app`` (the one HTTP app over a fixed-delay target, on
:func:`workbench.serving.http_server.server_config`), so what is measured is the transport, not the pipeline.
Raw sockets send what a well-behaved client library would refuse to send.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from workbench.loadtest.contract_app import ContractServerProcess
from workbench.loadtest.hostile import CHAT_HEAD as HEAD
from workbench.loadtest.hostile import dribble_headers, peak_rss_growth, send_oversized_bodies
from workbench.serving.request_guard import HttpLimits

LIMIT = 64 * 1024
_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} [A-Z]+ [\w.]+ rid=(\S+) ")


@pytest.fixture(scope="module")
def server() -> Iterator[ContractServerProcess]:
    """Body limit 64 KiB, body and header timeouts 1 s."""
    with ContractServerProcess(limits=HttpLimits(max_body_bytes=LIMIT, body_timeout_s=1, header_timeout_s=1)) as srv:
        yield srv


def _connect(port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def _read_all(s: socket.socket) -> bytes:
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return out


def test_content_length_over_the_limit_is_413_before_the_body(server: ContractServerProcess) -> None:
    with _connect(server.port) as s:
        s.sendall(f"{HEAD}Content-Length: {100 * 1024 * 1024}\r\n\r\n".encode())  # headers only: no body sent
        reply = _read_all(s)  # the server answers and closes without waiting for 100 MB
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"body_too_large"' in reply and b"connection: close" in reply.lower()


def test_chunked_body_over_the_limit_is_413_while_it_streams(server: ContractServerProcess) -> None:
    chunk = b"[" + b" " * (16 * 1024 - 2) + b"]"
    sent = 0
    with _connect(server.port) as s:
        s.sendall(f"{HEAD}Transfer-Encoding: chunked\r\n\r\n".encode())
        try:
            while sent < 64 * 1024 * 1024:  # 1,000 x the limit: the server must stop us long before
                s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except OSError:  # the server answered and closed the connection
            pass
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 64 * 1024 * 1024


def test_a_body_within_the_limit_is_served(server: ContractServerProcess) -> None:
    body = b'{"question": "gold card fee?", "tenant": "' + b"a" * 100 + b'"}'
    r = httpx.post(f"{server.url}/v1/chat", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["answer"] == "ok"
    big = b'{"question": "' + b"q" * (LIMIT + 1) + b'"}'
    r = httpx.post(f"{server.url}/v1/chat", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_clients_dribbling_headers_are_closed(server: ContractServerProcess) -> None:
    """300 connections dribbling headers stayed open for 40 s; here 20 must be closed (header timeout 1 s)."""
    results = await dribble_headers("127.0.0.1", server.port, connections=20, deadline_s=30.0)
    assert all(open_s is not None for open_s, _ in results), [open_s for open_s, _ in results]
    assert all(got.startswith(b"HTTP/1.1 408") for _, got in results)
    r = httpx.get(f"{server.url}/healthz")  # the server still serves
    assert r.status_code == 200


def test_a_body_that_does_not_arrive_in_time_is_408(server: ContractServerProcess) -> None:
    with _connect(server.port, timeout=30) as s:
        s.sendall(f"{HEAD}Content-Length: 1000\r\n\r\n".encode())
        t_end = time.monotonic() + 30
        reply = b""
        s.settimeout(0.2)
        while time.monotonic() < t_end and not reply:
            try:
                s.sendall(b" ")
                reply = s.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]


def test_disconnect_mid_body_logs_one_line_with_time_and_request_id(server: ContractServerProcess) -> None:
    with _connect(server.port) as s:
        s.sendall(f"{HEAD}X-Request-ID: gone-mid-body-1\r\nContent-Length: 1000\r\n\r\n".encode() + b'{"quest')
        time.sleep(0.2)
    deadline = time.monotonic() + 20
    lines: list[str] = []
    while time.monotonic() < deadline and not lines:
        lines = [ln for ln in server.log_text().splitlines() if "gone-mid-body-1" in ln]
        time.sleep(0.1)
    assert lines, server.log_text()[-2000:]
    m = _LINE.match(lines[0])
    assert m is not None and m.group(1) == "gone-mid-body-1", lines[0]
    assert "disconnected" in lines[0]
    httpx.post(f"{server.url}/v1/chat", json={"question": "still there?"})
    assert "Traceback" not in server.log_text()


@pytest.mark.slow
def test_rss_growth_under_100_concurrent_oversized_bodies() -> None:
    """Eight 50 MB bodies pushed RSS from 461 to 1,078 MB; 100 oversized bodies must cost <= 50 MB (1 MiB limit)."""
    with ContractServerProcess(limits=HttpLimits(max_body_bytes=1 << 20)) as srv:
        for _ in range(3):  # warm up: imports and first-request allocations are not the bodies' cost
            httpx.post(f"{srv.url}/v1/chat", json={"question": "warm up"})
        growth = peak_rss_growth(srv.pid, lambda: send_oversized_bodies("127.0.0.1", srv.port, connections=100,
                                                                       body_bytes=8 << 20))
        assert httpx.post(f"{srv.url}/v1/chat", json={"question": "after"}).status_code == 200
    assert growth <= 50 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MB"
