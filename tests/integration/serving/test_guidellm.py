"""GuideLLM (an independent benchmark tool, in the venv ``scripts/setup.sh`` builds) runs its streamed chat benchmark
against ``workbench serve``'s HTTP app on real uvicorn, with no error, and its time to first token agrees with our
runner's on the same server (issue 16, item 7; bench/bench_guidellm.py measures the agreement with more requests)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from workbench.errors import ConfigError
from workbench.loadtest import ClosedLoopRunner, Workload, WorkloadSpec
from workbench.loadtest.endpoint import EndpointMapping
from workbench.loadtest.http import HttpSender
from workbench.loadtest.target import DelayTarget
from workbench.percentiles import percentile
from workbench.serving.guidellm_runner import guidellm_executable, run_guidellm, write_prompts
from workbench.serving.http_app import create_app
from workbench.testing import UvicornServer

REQUESTS = 6
TOKENS = 8


@pytest.mark.slow
def test_guidellm_chat_benchmark_runs_against_serve_and_agrees_on_ttft(tmp_path: Path) -> None:
    try:
        guidellm_executable()
    except ConfigError as exc:
        pytest.fail(f"GuideLLM is part of the set-up: {exc}")
    items = Workload(WorkloadSpec(seed=4, stream_share=1.0, languages=("en",), personalized_share=0.0,
                                  session_share=0.0)).items(REQUESTS)
    data = write_prompts([it.request.question for it in items], tmp_path / "prompts.jsonl")
    # 60 ms to the first token, then a token every 5 ms: a first-token time well above scheduling noise
    app = create_app(DelayTarget(delay_s=0.06, tokens=TOKENS, tpot_s=0.005, answer="t " * TOKENS))
    with UvicornServer(app) as srv:
        httpx.post(f"{srv.url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]},
                   timeout=10).raise_for_status()  # warm: neither tool pays the first request's costs
        report = run_guidellm(srv.url, data, requests=REQUESTS, output=tmp_path / "guidellm.json", timeout_s=300)
        sender = HttpSender(srv.url, mapping=EndpointMapping(kind="openai", model="workbench"))
        ours = asyncio.run(ClosedLoopRunner(sender, items, users=1, max_requests=REQUESTS).run()).df
    seen = f"GuideLLM: {report}; ours: ttft {list(ours.ttft_ms)}, tokens {list(ours.tokens)}, {list(ours.error)}"
    assert report.errored == 0 and report.incomplete == 0, seen
    assert report.successful >= REQUESTS - 1, seen  # GuideLLM may stop before the last one it scheduled
    assert set(report.output_tokens) == {TOKENS}, seen  # read from usage.completion_tokens (include_usage chunk)
    assert (ours.status == "ok").all() and set(ours.tokens) == {TOKENS}, seen
    mine, theirs = percentile(list(ours.ttft_ms), 50), percentile(report.ttft_ms, 50)
    assert 0.8 < mine / theirs < 1.25, seen


@pytest.mark.slow
def test_guidellm_and_our_runner_send_the_same_conversation_and_length(tmp_path: Path) -> None:
    """The TTFT comparison on a real model is only fair if both tools ask the server the same thing: the same
    messages (GuideLLM sends ``content`` as a list of text parts, we send a string: the same text), and neither
    sets a token limit the other does not (both get the server's default, so both generate as many tokens)."""
    from fastapi import Request

    from workbench.serving.llm_server import SimulatedBackend, SimulatedLLM, create_llm_app
    from workbench.serving.openai_compat import message_text

    guidellm_executable()
    items = Workload(WorkloadSpec(seed=4, stream_share=1.0, languages=("en",), personalized_share=0.0,
                                  session_share=0.0)).items(3)
    data = write_prompts([it.request.question for it in items], tmp_path / "prompts.jsonl")
    app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=5, tpot_ms=1, jitter=0)))
    bodies: list[tuple[str, dict]] = []

    @app.middleware("http")
    async def capture(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path == "/v1/chat/completions":
            bodies.append((request.headers.get("user-agent", ""), json.loads(await request.body())))
        return await call_next(request)

    with UvicornServer(app) as srv:
        run_guidellm(srv.url, data, requests=3, output=tmp_path / "guidellm.json", timeout_s=300)
        sender = HttpSender(srv.url, mapping=EndpointMapping(kind="openai", model="simulated"))
        asyncio.run(ClosedLoopRunner(sender, items, users=1, max_requests=3).run())
    theirs = [b for ua, b in bodies if "httpx" in ua]
    mine = [b for ua, b in bodies if "aiohttp" in ua]
    assert len(theirs) >= 2 and len(mine) == 3, bodies

    def conversation(body: dict) -> list[tuple[str, str | None]]:
        return [(m["role"], message_text(m["content"])) for m in body["messages"]]

    assert [conversation(b) for b in theirs] == [conversation(b) for b in mine[:len(theirs)]]
    limits = ("max_tokens", "max_completion_tokens", "ignore_eos", "stop", "temperature")
    assert [{k: b.get(k) for k in limits} for b in theirs] == [{k: b.get(k) for k in limits} for b in mine[:len(theirs)]]
    assert all(b["stream"] and b["stream_options"]["include_usage"] for b in theirs + mine)
