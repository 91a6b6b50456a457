"""Load runs against endpoints that are not ours, on real uvicorn (127.0.0.1): a team's own RAG route described
by a mapping (request template, answer and sources paths), and an OpenAI-compatible chat endpoint; answers
scored against the gold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from workbench.loadtest import ClosedLoopRunner, LoadResult, Workload, WorkloadSpec
from workbench.loadtest.cli import loadtest
from workbench.loadtest.endpoint import EndpointMapping
from workbench.loadtest.http import HttpSender
from workbench.serving import SimulatedBackend, SimulatedLLM, create_llm_app
from workbench.testing import UvicornServer


@pytest.fixture(scope="module")
def items() -> list:
    return [it for it in Workload(WorkloadSpec(seed=8, stream_share=0.5)).items(200) if it.references]


@pytest.fixture(scope="module")
def team_server(items: list) -> Iterator[UvicornServer]:
    """A help desk's own route: POST /ask {query, uid, options} -> {result: {text, refs}}; every third answer wrong."""
    gold = {it.request.question: it.references[0] for it in items}
    seen: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/ask")
    async def ask(body: dict[str, Any]) -> dict[str, Any]:
        seen.append(body)
        n = len(seen)
        text = "Please visit a branch." if n % 3 == 0 else gold.get(body["query"], "?")
        return {"result": {"text": text, "refs": [{"id": "d1"}, {"id": "d2"}]}}

    app.state.seen = seen
    with UvicornServer(app) as server:
        server.seen = seen  # type: ignore[attr-defined]
        yield server


MAPPING = {"kind": "custom", "path": "/ask", "template": {"query": "{question}", "uid": "{user}",
                                                         "options": {"top_k": 5}},
           "answer_path": "result.text", "sources_path": "result.refs", "headers": {"x-team": "help-desk"}}


async def test_custom_endpoint_is_loaded_and_scored(team_server: UvicornServer, items: list) -> None:
    sender = HttpSender(team_server.url, mapping=EndpointMapping.model_validate(MAPPING))
    res = await ClosedLoopRunner(sender, items, users=3, max_requests=60, score=True).run()
    s = res.summary()
    assert s["ok"] == 60
    assert s["correct_share"] == pytest.approx(40 / 60)  # every third wrong
    body = team_server.seen[-1]  # type: ignore[attr-defined]
    assert set(body) == {"query", "uid", "options"} and body["options"] == {"top_k": 5}
    assert body["query"] in {it.request.question for it in items}
    bad = HttpSender(team_server.url, mapping=EndpointMapping.model_validate({**MAPPING, "answer_path": "result.x"}))
    res = await ClosedLoopRunner(bad, items, users=1, max_requests=3).run()
    assert (res.df.status == "error").all() and res.df.error.str.contains("no answer text at result.x").all()


def test_cli_endpoint_file(team_server: UvicornServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    f = tmp_path / "mapping.yaml"
    f.write_text(yaml.safe_dump(MAPPING))
    r = CliRunner().invoke(loadtest, ["fast", "--url", team_server.url, "--endpoint", str(f), "--profile", "poisson",
                                      "--rate", "20", "--duration", "1.5", "--score", "--out", str(tmp_path / "r"),
                                      "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    res = LoadResult.load(tmp_path / "r")
    assert res.meta["endpoint"]["kind"] == "custom" and (res.df.status == "ok").all()
    assert res.df.verdict.notna().sum() > 0
    assert CliRunner().invoke(loadtest, ["fast", "--api", "openai"]).exit_code != 0  # an endpoint needs a --url


@pytest.fixture(scope="module")
def llm_server() -> Iterator[UvicornServer]:
    app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=5, tpot_ms=2, slots=4, jitter=0)), model_name="sim")
    with UvicornServer(app) as server:
        yield server


async def test_openai_endpoint_streams_and_answers(llm_server: UvicornServer, items: list) -> None:
    sender = HttpSender(llm_server.url, mapping=EndpointMapping(kind="openai", model="sim"))
    res = await ClosedLoopRunner(sender, items, users=2, max_requests=30, score=True).run()
    df = res.df
    assert (df.status == "ok").all(), df.error.dropna().unique()[:3]
    assert df.answer.str.len().min() > 0  # the simulated LLM answers "I can only answer from a context."
    st = df[df.stream]
    assert len(st) and (st.ttft_ms < st.latency_ms).all() and (st.tokens > 1).all()
    assert st.itl_max_ms.notna().all()
    assert df[~df.stream].ttft_ms.equals(df[~df.stream].latency_ms)
    assert df.verdict.notna().all()  # scored (and wrong: it has no context)
