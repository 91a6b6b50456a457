"""The one HTTP contract over any target, on real uvicorn: a target's bug is a 500 error body with the request id
(the traceback in the log, the keep-alive connection still usable), failures after a stream started end it
with an error event, server-side errors do not show their message."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from workbench.errors import GeneratorError
from workbench.serving import create_app
from workbench.serving.schema import ChatRequest, ChatResponse, StreamEvent
from workbench.testing import UvicornServer
from workbench.tools.errors import CircuitOpenError


class _Faulty:
    """Answers "ok"; "bug" raises a plain exception (a bug); "circuit" a 503 with a retry time and an internal
    address; "late" fails after two streamed tokens."""

    async def handle(self, request: ChatRequest) -> ChatResponse:
        if request.question == "bug":
            raise ZeroDivisionError("division by zero in the ranking code")
        if request.question == "circuit":
            raise CircuitOpenError("tool 'balance' at http://10.9.8.7:9000 is failing", retry_after=2.5)
        return ChatResponse(answer="ok")

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        resp = await self.handle(request)
        yield StreamEvent(token="o")
        yield StreamEvent(token="k")
        if request.question == "late":
            raise GeneratorError("the model server at http://10.9.8.7:8001 reset the connection")
        if request.question == "late-bug":
            raise KeyError("a missing key")
        yield StreamEvent(response=resp)


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornServer]:
    with UvicornServer(create_app(_Faulty())) as srv:
        yield srv


def _request(question: str) -> bytes:
    body = json.dumps({"question": question}).encode()
    return (f"POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _response(f: object) -> tuple[int, dict[str, str], bytes]:
    status = int(f.readline().split()[1])  # type: ignore[attr-defined]
    headers = {}
    while (line := f.readline().decode().strip()):  # type: ignore[attr-defined]
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, f.read(int(headers["content-length"]))  # type: ignore[attr-defined]


def test_a_bug_is_a_500_body_and_the_connection_stays_usable(server: UvicornServer,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s, s.makefile("rb") as f, \
            caplog.at_level(logging.ERROR, logger="workbench"):
        for i in range(10):  # one connection: bug, good, bug, good, ...
            s.sendall(_request("bug" if i % 2 == 0 else "fine"))
            status, headers, body = _response(f)
            if i % 2 == 0:
                err = json.loads(body)["error"]
                assert status == 500 and err["type"] == "internal_error", body
                assert headers["x-request-id"] in err["message"] and "division" not in err["message"]
                assert headers.get("connection") != "close"
            else:
                assert status == 200 and json.loads(body)["answer"] == "ok"
    bugs = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ZeroDivisionError]
    assert len(bugs) == 5


def test_server_side_errors_hide_their_message_and_keep_retry_after(server: UvicornServer) -> None:
    r = httpx.post(f"{server.url}/v1/chat", json={"question": "circuit"})
    assert r.status_code == 503 and r.headers["retry-after"] == "3"
    err = r.json()["error"]
    assert err["type"] == "tool_circuit_open" and "10.9.8.7" not in r.text
    assert r.headers["x-request-id"] in err["message"]


@pytest.mark.parametrize(("question", "etype"), [("late", "generator_error"), ("late-bug", "internal_error")])
def test_a_failure_after_the_stream_started_ends_it_with_an_error_event(server: UvicornServer, question: str,
                                                                        etype: str) -> None:
    with httpx.stream("POST", f"{server.url}/v1/chat", json={"question": question, "stream": True}) as r:
        assert r.status_code == 200
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert [e.get("token") for e in events[:2]] == ["o", "k"]
    assert events[-1]["error"]["type"] == etype and "10.9.8.7" not in json.dumps(events)
    assert len(events) == 3  # no response event, no [DONE]: the client knows the answer is incomplete
