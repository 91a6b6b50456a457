"""The HTTP runner against real uvicorn on 127.0.0.1 (bounded runs)."""

from workbench.loadtest import (
    SLO,
    ClosedLoopRunner,
    HttpSender,
    LoadProfile,
    OpenLoopRunner,
    WorkItem,
    Workload,
    WorkloadSpec,
)
from workbench.serving.schema import ChatRequest
from workbench.testing import UvicornServer


async def test_open_loop_over_http_with_streaming(contract_server: UvicornServer) -> None:
    wl = Workload(WorkloadSpec(seed=1, stream_share=0.5))
    runner = OpenLoopRunner(HttpSender(contract_server.url), wl, LoadProfile.steady(40, 1.0), slo=SLO(e2e_ms=10_000))
    res = await runner.run()
    df = res.df
    assert len(df) == len(runner.offsets) and (df.status == "ok").all() and (df.http_status == 200).all()
    assert (df.tokens == 4).all()
    st, ns = df[df.stream], df[~df.stream]
    assert len(st) and len(ns)
    assert (st.ttft_ms < st.latency_ms).all() and (st.tpot_ms > 0).all()
    assert (ns.ttft_ms == ns.latency_ms).all()
    assert (df.service_ms >= 10).all()  # the server's 10 ms delay is in every answer
    s = res.summary()
    assert s["goodput_rps"] == s["throughput_rps"]


async def test_closed_loop_over_http_counts_sheds(shedding_server: UvicornServer) -> None:
    res = await ClosedLoopRunner(HttpSender(shedding_server.url), Workload(), users=6, max_requests=60).run()
    s = res.summary()
    assert s["requests"] == 60 and s["shed"] > 0 and s["ok"] > 0 and s["errors"] == 0
    shed = res.df[res.df.status == "shed"]
    assert (shed.http_status == 429).all() and shed.error.str.contains("Retry-After: 3").all()


async def test_bad_request_and_dead_server_are_errors(contract_server: UvicornServer) -> None:
    bad = WorkItem(0, ChatRequest.model_construct(question="", tenant="default", stream=False), "x", "question")
    res = await ClosedLoopRunner(HttpSender(contract_server.url), [bad], users=1, max_requests=3).run()
    assert (res.df.status == "error").all() and (res.df.http_status == 400).all()
    assert res.df.error.str.contains("invalid_request").all()
    from workbench.testing import free_port

    dead = HttpSender(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    res = await ClosedLoopRunner(dead, Workload(), users=1, max_requests=2).run()
    assert (res.df.status == "error").all() and res.df.error.str.contains("Connect").all()
