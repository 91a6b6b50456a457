"""Generators against real backends: llama.cpp in-process, transformers, and HTTP servers on 127.0.0.1."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from workbench.components import LlamaCppGenerator, OpenAICompatibleGenerator, PromptBuilder, TransformersGenerator
from workbench.errors import GeneratorError, GeneratorTimeoutError
from workbench.serving import SimulatedBackend, SimulatedLLM, create_llm_app
from workbench.testing import UvicornServer

CONTEXT_PROMPT = ("Answer the question using only the context.\n\nContext:\n[1] The Gold Card annual fee is RMB 600 "
                  "per year.\nQuestion: what is the gold card annual fee?\nAnswer:")


@pytest.fixture(scope="module")
def llm_service() -> Iterator[str]:
    app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=20, tpot_ms=2, jitter=0)))
    with UvicornServer(app) as server:
        yield f"{server.url}/v1"



def _is_fee_span(answer: str) -> bool:
    """The short span of the fee (the amount, optionally with its period), not the whole sentence."""
    return answer in ("RMB 600", "RMB 600 per year")

def test_openai_generator_streams_completions(llm_service: str) -> None:
    chunks: list[str] = []
    out = OpenAICompatibleGenerator(base_url=llm_service).run(prompt=CONTEXT_PROMPT, streaming_callback=chunks.append)
    assert _is_fee_span(out["replies"][0])
    assert len(chunks) >= 2 and "".join(chunks) == out["replies"][0]
    assert out["meta"][0]["ttft_ms"] > 0 and out["meta"][0]["attempts"] == 1


def test_openai_generator_chat(llm_service: str) -> None:
    from haystack import Document

    msgs = PromptBuilder().run(question="gold card annual fee?",
                               documents=[Document(content="The Gold Card annual fee is RMB 600 per year.")])["messages"]
    out = OpenAICompatibleGenerator(base_url=llm_service, chat=True).run(messages=msgs)
    assert _is_fee_span(out["replies"][0])


def _flaky_app(fail_first: int, status: int = 503, delay_s: float = 0.0) -> FastAPI:
    app = FastAPI()
    calls = {"n": 0}

    @app.post("/v1/completions")
    async def completions() -> object:
        import asyncio

        calls["n"] += 1
        if delay_s:
            await asyncio.sleep(delay_s)
        if calls["n"] <= fail_first:
            return JSONResponse({"error": {"type": "x", "message": "busy"}}, status_code=status)

        async def events():  # type: ignore[no-untyped-def]
            yield b'data: {"choices": [{"text": "ok"}]}\n\n'
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    app.state.calls = calls
    return app


def test_retries_on_503_then_succeeds() -> None:
    app = _flaky_app(fail_first=2)
    with UvicornServer(app) as server:
        out = OpenAICompatibleGenerator(base_url=f"{server.url}/v1", retries=2).run(prompt="p")
    assert out["replies"] == ["ok"] and out["meta"][0]["attempts"] == 3 and app.state.calls["n"] == 3


def test_gives_up_after_retries_and_never_retries_4xx() -> None:
    app = _flaky_app(fail_first=10)
    with UvicornServer(app) as server, pytest.raises(GeneratorError, match="503"):
        OpenAICompatibleGenerator(base_url=f"{server.url}/v1", retries=1).run(prompt="p")
    assert app.state.calls["n"] == 2
    bad = _flaky_app(fail_first=10, status=400)
    with UvicornServer(bad) as server, pytest.raises(GeneratorError, match="400"):
        OpenAICompatibleGenerator(base_url=f"{server.url}/v1", retries=3).run(prompt="p")
    assert bad.state.calls["n"] == 1


def test_run_async_retries_like_run_and_never_after_text() -> None:
    import asyncio

    async def ask(gen: OpenAICompatibleGenerator) -> dict:  # type: ignore[type-arg]
        try:
            return await gen.run_async(prompt="p")
        finally:
            await gen.aclose()

    app = _flaky_app(fail_first=2)
    with UvicornServer(app) as server:
        out = asyncio.run(ask(OpenAICompatibleGenerator(base_url=f"{server.url}/v1", retries=2)))
    assert out["replies"] == ["ok"] and out["meta"][0]["attempts"] == 3 and app.state.calls["n"] == 3
    bad = _flaky_app(fail_first=10, status=400)
    with UvicornServer(bad) as server, pytest.raises(GeneratorError, match="400"):
        asyncio.run(ask(OpenAICompatibleGenerator(base_url=f"{server.url}/v1", retries=3)))
    assert bad.state.calls["n"] == 1
    slow = _flaky_app(fail_first=0, delay_s=2.0)
    with UvicornServer(slow) as server, pytest.raises(GeneratorTimeoutError):
        asyncio.run(ask(OpenAICompatibleGenerator(base_url=f"{server.url}/v1", timeout_s=0.3, retries=0)))
    cut = FastAPI()
    calls = {"n": 0}

    @cut.post("/v1/completions")
    async def broken_stream() -> object:
        calls["n"] += 1

        async def events():  # type: ignore[no-untyped-def]
            yield b'data: {"choices": [{"text": "half"}]}\n\n'
            raise ConnectionResetError("the stream breaks after text went out")

        return StreamingResponse(events(), media_type="text/event-stream")

    pieces: list[str] = []

    async def ask_streaming(gen: OpenAICompatibleGenerator) -> dict:  # type: ignore[type-arg]
        try:
            return await gen.run_async(prompt="p", streaming_callback=pieces.append)
        finally:
            await gen.aclose()

    with UvicornServer(cut) as server, pytest.raises(GeneratorError):
        asyncio.run(ask_streaming(OpenAICompatibleGenerator(base_url=f"{server.url}/v1", retries=3)))
    assert pieces == ["half"] and calls["n"] == 1  # text reached the caller: no second attempt


def test_timeout_and_unreachable_server() -> None:
    slow = _flaky_app(fail_first=0, delay_s=2.0)
    with UvicornServer(slow) as server, pytest.raises(GeneratorTimeoutError):
        OpenAICompatibleGenerator(base_url=f"{server.url}/v1", timeout_s=0.3, retries=0).run(prompt="p")
    from workbench.testing import free_port

    with pytest.raises(GeneratorError):
        OpenAICompatibleGenerator(base_url=f"http://127.0.0.1:{free_port()}/v1", retries=1).run(prompt="p")
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleGenerator(base_url="127.0.0.1:8001")


def test_llm_service_validates_input(llm_service: str) -> None:
    r = httpx.post(f"{llm_service}/completions", json={"prompt": ""})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request"
    r = httpx.post(f"{llm_service}/chat/completions", json={"messages": "hi"})
    assert r.status_code == 400
    r = httpx.post(f"{llm_service}/completions", content=b"{not json")
    assert r.status_code == 400
    whole = httpx.post(f"{llm_service}/completions", json={"prompt": CONTEXT_PROMPT}).json()
    assert _is_fee_span(whole["choices"][0]["text"]) and whole["simulated"] is True


def test_simulated_failures_are_503_with_retry_after() -> None:
    app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=1, tpot_ms=0, failure_rate=1.0)))
    with UvicornServer(app) as server:
        r = httpx.post(f"{server.url}/v1/completions", json={"prompt": CONTEXT_PROMPT})
    assert r.status_code == 503 and r.headers["retry-after"] == "1"


@pytest.mark.slow
def test_llama_cpp_gemma_answers_from_context() -> None:
    gen = LlamaCppGenerator("gemma-3-270m", max_tokens=16)
    chunks: list[str] = []
    out = gen.run(prompt=CONTEXT_PROMPT, streaming_callback=chunks.append)
    assert "600" in out["replies"][0]
    assert chunks and out["meta"][0]["completion_tokens"] >= 1 and out["meta"][0]["ttft_ms"] > 0
    assert "\n" not in out["replies"][0]
    with pytest.raises(GeneratorError, match="needs a prompt"):
        gen.run(prompt="")


@pytest.mark.slow
def test_llama_cpp_chat_model_uses_messages() -> None:
    gen = LlamaCppGenerator("smollm2-135m", max_tokens=12, stop=[])
    assert gen.chat
    out = gen.run(messages=[{"role": "user", "content": "Say hello."}])
    assert out["replies"][0] and out["meta"][0]["completion_tokens"] > 0


@pytest.mark.slow
def test_transformers_generator_loads_gguf_and_streams() -> None:
    gen = TransformersGenerator("smollm2-135m", max_tokens=8, stop=[])
    chunks: list[str] = []
    out = gen.run(messages=[{"role": "user", "content": "Say hello."}], streaming_callback=chunks.append)
    assert out["replies"][0] and chunks and out["meta"][0]["completion_tokens"] > 0
