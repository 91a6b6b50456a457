"""The HTTP contract on real uvicorn: JSON, SSE streaming, OpenAI-compatible surface, 4xx validation, metrics."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from workbench.config import PipelineConfig
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving import AsyncEngine, create_app
from workbench.testing import UvicornServer


@pytest.fixture(scope="module")
def server(llm_cfg: Callable[..., PipelineConfig], fast_kb: KnowledgeBase) -> Iterator[UvicornServer]:
    cfg = llm_cfg({"cache.enabled": True, "serving.tenants": ["default", "acme"]})
    app = create_app(lambda: AsyncEngine.from_config(cfg, kb=fast_kb))
    with UvicornServer(app) as srv:
        yield srv


def _sse_events(lines: Iterator[str]) -> list[str]:
    return [line[5:].strip() for line in lines if line.startswith("data:")]


def test_health_and_ready(server: UvicornServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").status_code == 200


def test_chat_json_has_contract_fields(server: UvicornServer) -> None:
    r = httpx.post(f"{server.url}/v1/chat", json={"question": "What is the gold card annual fee?", "user": "u1"},
                   timeout=10)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["answer"] and d["sources"] and d["simulated"] is True
    assert d["cache_layer"] is None and d["variant"] == "control"
    assert d["degradation_level"] == 0 and d["degradation"] == "full"
    for stage in ("queue", "cache", "retrieve_bm25", "prompt", "generate", "ttft", "total"):
        assert stage in d["timings_ms"], stage
    assert d["tokens"] >= 1 and d["request_id"]
    again = httpx.post(f"{server.url}/v1/chat", json={"question": "what is the gold card annual fee", "user": "u2"},
                       timeout=10).json()
    assert again["cache_layer"] == "exact" and again["answer"] == d["answer"]
    assert "queue" not in again["timings_ms"]  # a hit never took a pipeline slot


def test_chat_streams_sse(server: UvicornServer) -> None:
    body = {"question": "How do I report a lost card?", "stream": True, "user": "u3"}
    with httpx.stream("POST", f"{server.url}/v1/chat", json=body, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse_events(r.iter_lines())
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    tokens = [p["token"] for p in parsed if "token" in p]
    final = parsed[-1]["response"]
    assert len(tokens) >= 2 and all(set(p) in ({"token"}, {"response"}) for p in parsed)
    assert final["tokens"] == len(tokens)
    assert final["timings_ms"]["ttft"] <= final["timings_ms"]["total"]
    assert "itl" in final["timings_ms"]


def test_openai_compatible_surface(server: UvicornServer) -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": "How do I reset my password?"}]}
    d = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=10).json()
    assert d["object"] == "chat.completion" and d["choices"][0]["message"]["content"]
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json={**body, "stream": True}, timeout=10) as r:
        events = _sse_events(r.iter_lines())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text and chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(("body", "status", "etype"), [
    ({"question": ""}, 400, "invalid_request"),
    ({"question": "   "}, 400, "invalid_request"),
    ({"question": 42}, 400, "invalid_request"),
    ({"question": "x" * 5000}, 400, "invalid_request"),
    ({"question": "hi", "tenant": "nobody"}, 404, "unknown_tenant"),
    ({"question": "hi", "extra": 1}, 400, "invalid_request"),
    ({"question": "hi", "variant": "nope"}, 400, "invalid_request"),
    ({"question": "hi", "user": "a b/c"}, 400, "invalid_request"),
    ([1, 2], 400, "invalid_request"),
])
def test_bad_input_is_4xx_with_error_body(server: UvicornServer, body: object, status: int, etype: str) -> None:
    r = httpx.post(f"{server.url}/v1/chat", json=body, timeout=10)
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == etype and r.json()["error"]["message"]


def test_bad_json_and_bad_messages(server: UvicornServer) -> None:
    r = httpx.post(f"{server.url}/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request"
    r = httpx.post(f"{server.url}/v1/chat/completions", json={"messages": "hi"})
    assert r.status_code == 400 and "messages" in r.json()["error"]["message"]


def test_metrics_parse(server: UvicornServer) -> None:
    httpx.post(f"{server.url}/v1/chat", json={"question": "How long does a transfer take?"}, timeout=10)
    r = httpx.get(f"{server.url}/metrics")
    assert r.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    for name in ("workbench_requests", "workbench_request_latency_seconds", "workbench_stage_latency_seconds",
                 "workbench_cache_hits", "workbench_queue_depth", "workbench_shed", "workbench_degradation_level",
                 "workbench_inter_token_seconds"):
        assert name in families, name
    ok = [s for s in families["workbench_requests"].samples
          if s.name == "workbench_requests_total" and s.labels["status"] == "ok"]
    assert sum(s.value for s in ok) >= 1 and all(s.labels["variant"] == "control" for s in ok)
    stages = {s.labels["stage"] for s in families["workbench_stage_latency_seconds"].samples}
    assert {"generate", "queue", "ttft"} <= stages
    bad = [s for s in families["workbench_requests"].samples
           if s.name == "workbench_requests_total" and s.labels["status"] == "unknown_tenant"]
    assert all(s.labels["cache_layer"] == "miss" for s in bad)
