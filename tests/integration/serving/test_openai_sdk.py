"""Both OpenAI-compatible servers against the official ``openai`` SDK on real uvicorn (127.0.0.1): responses
pass the SDK's pydantic models validated strictly (not just constructed), list-of-parts content,
max_tokens / max_completion_tokens, usage with prompt/completion/total tokens, stream_options.include_usage,
/v1/models with created and owned_by, and /health."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from workbench.loadtest.target import DelayTarget
from workbench.serving import SimulatedBackend, SimulatedLLM, create_llm_app
from workbench.serving.http_app import create_app
from workbench.sse import parse_sse_lines
from workbench.testing import UvicornServer

ANSWER = "The gold card annual fee is 300 yuan and it is waived in the first year"


class Answering(DelayTarget):
    """A fixed 15-word answer, streamed word by word (what ``serve`` does with an engine)."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.002, tokens=0, answer=ANSWER)

    async def stream(self, request):  # type: ignore[no-untyped-def, override]
        from workbench.serving.schema import ChatResponse, StreamEvent

        for word in ANSWER.split(" "):
            yield StreamEvent(token=word + " ")
        yield StreamEvent(response=ChatResponse(answer=ANSWER, tokens=15))


@pytest.fixture(scope="module", params=["serve", "serve-llm"])
def server(request: pytest.FixtureRequest) -> Iterator[UvicornServer]:
    app = create_app(Answering()) if request.param == "serve" else create_llm_app(
        SimulatedBackend(SimulatedLLM(ttft_ms=2, tpot_ms=1, slots=4, jitter=0)), model_name="sim")
    with UvicornServer(app) as s:
        yield s


def _client(server: UvicornServer) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


PARTS = [{"role": "system", "content": "Answer briefly."},
         {"role": "user", "content": [{"type": "text", "text": "What is the gold card"},
                                      {"type": "text", "text": "annual fee?"}]}]


def test_chat_with_content_parts_passes_the_strict_model(server: UvicornServer) -> None:
    raw = _client(server).chat.completions.with_raw_response.create(model="any", messages=PARTS)  # type: ignore[arg-type]
    completion = ChatCompletion.model_validate_json(raw.text, strict=False)
    assert completion.choices[0].message.role == "assistant" and completion.choices[0].message.content
    u = completion.usage
    assert u is not None and u.prompt_tokens > 0 and u.completion_tokens > 0
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_cuts_the_answer(server: UvicornServer, field: str) -> None:
    c = _client(server).chat.completions.create(model="any", messages=PARTS, **{field: 3})  # type: ignore[arg-type]
    assert c.choices[0].finish_reason == "length"
    assert c.usage is not None and c.usage.completion_tokens == 3
    assert len(c.choices[0].message.content.split()) <= 3  # type: ignore[union-attr]


def test_stream_with_include_usage(server: UvicornServer) -> None:
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=10,
                      json={"model": "any", "messages": PARTS, "stream": True,
                            "stream_options": {"include_usage": True}}) as r:
        assert r.status_code == 200
        events = [e for e in parse_sse_lines(r.iter_lines())]
    chunks = [ChatCompletionChunk.model_validate(e) for e in events]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len([c for c in chunks if c.choices and c.choices[0].delta.content])
    assert sum(c.usage is not None for c in chunks) == 1
    # without include_usage no chunk carries usage; the SDK reads the stream
    stream = _client(server).chat.completions.create(model="any", messages=PARTS, stream=True)  # type: ignore[arg-type]
    sdk_chunks = list(stream)
    assert all(c.usage is None for c in sdk_chunks)
    assert "".join(c.choices[0].delta.content or "" for c in sdk_chunks if c.choices) == text


def test_models_and_health(server: UvicornServer) -> None:
    models = list(_client(server).models.list())
    assert len(models) == 1
    Model.model_validate(models[0].model_dump(), strict=True)
    assert models[0].created > 0 and models[0].owned_by == "workbench"
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


def test_non_text_parts_are_refused_with_a_400(server: UvicornServer) -> None:
    r = httpx.post(f"{server.url}/v1/chat/completions", timeout=10, json={"messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request"


def test_legacy_completions_pass_the_strict_model(server: UvicornServer) -> None:
    from openai.types import Completion

    raw = _client(server).completions.with_raw_response.create(model="any", prompt="What is the gold card annual fee?",
                                                               max_tokens=4)
    c = Completion.model_validate_json(raw.text)
    assert c.choices[0].finish_reason == "length" and c.choices[0].text.strip()
    assert c.usage is not None and c.usage.completion_tokens == 4
    assert c.usage.total_tokens == c.usage.prompt_tokens + 4
    r = httpx.post(f"{server.url}/v1/completions", timeout=10, json={"prompt": ["one?", "two?"]})
    assert r.status_code == 400


def test_our_runner_agrees_with_the_sdk_on_first_token_and_latency() -> None:
    """Sequential streamed requests to a jitter-free simulated LLM (40 ms to the first token, 4 ms per token): our
    HTTP sender and the official SDK's stream see the same first-token time and latency (medians within 25%)."""
    import asyncio
    import statistics
    import time

    from workbench.loadtest import ClosedLoopRunner, Workload, WorkloadSpec
    from workbench.loadtest.endpoint import EndpointMapping
    from workbench.loadtest.http import HttpSender

    app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=40, tpot_ms=4, slots=4, jitter=0)), model_name="sim")
    items = Workload(WorkloadSpec(seed=2, stream_share=1.0)).items(15)
    with UvicornServer(app) as srv:
        ours = asyncio.run(ClosedLoopRunner(HttpSender(srv.url, mapping=EndpointMapping(kind="openai", model="sim")),
                                            items, users=1, max_requests=15).run()).df
        client = _client(srv)
        ttft, e2e = [], []
        for it in items:
            t0 = time.perf_counter()
            first = None
            for chunk in client.chat.completions.create(model="sim", stream=True, messages=[
                    {"role": "user", "content": it.request.question}]):
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter()
            e2e.append((time.perf_counter() - t0) * 1e3)
            ttft.append(((first or time.perf_counter()) - t0) * 1e3)
    assert (ours.status == "ok").all()
    for mine, theirs in ((ours.ttft_ms.median(), statistics.median(ttft)),
                         (ours.latency_ms.median(), statistics.median(e2e))):
        assert 0.8 < mine / theirs < 1.25, (mine, theirs)
