import json

import httpx

from workbench.testing import UvicornServer


def test_chat_json_and_health(contract_server: UvicornServer) -> None:
    with httpx.Client(base_url=contract_server.url) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        r = c.post("/v1/chat", json={"question": "gold card fee?", "tenant": "acme"})
        assert r.status_code == 200 and r.json()["answer"] == "ok" and r.json()["tokens"] == 4


def test_chat_stream_format(contract_server: UvicornServer) -> None:
    with httpx.Client(base_url=contract_server.url) as c:
        r = c.post("/v1/chat", json={"question": "gold card fee?", "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    data = [line[5:].strip() for line in r.text.splitlines() if line.startswith("data:")]
    assert data[-1] == "[DONE]"
    events = [json.loads(d) for d in data[:-1]]
    assert [e.get("token") is not None for e in events] == [True] * 4 + [False]
    assert events[-1]["response"]["answer"] == "ok"


def test_bad_input_is_a_4xx_with_an_error_body(contract_server: UvicornServer) -> None:
    with httpx.Client(base_url=contract_server.url) as c:
        for body in ({"question": ""}, {"question": "x", "tenant": "a/b"}, {"nope": 1}):
            r = c.post("/v1/chat", json=body)
            assert r.status_code == 400, body
            assert r.json()["error"]["type"] == "invalid_request"
        assert c.post("/v1/chat", content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
        assert c.post("/v1/chat", content=b"{not json").status_code == 415  # no JSON content type


async def test_overload_is_429_with_retry_after(shedding_server: UvicornServer) -> None:
    import asyncio

    async with httpx.AsyncClient(base_url=shedding_server.url) as c:
        rs = await asyncio.gather(*(c.post("/v1/chat", json={"question": "q"}) for _ in range(8)))
    shed = [r for r in rs if r.status_code == 429]
    assert shed and any(r.status_code == 200 for r in rs)
    assert all(r.headers["retry-after"] == "3" and r.json()["error"]["type"] == "overloaded" for r in shed)
