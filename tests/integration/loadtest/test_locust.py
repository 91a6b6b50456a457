"""A short headless Locust run (subprocess) against the contract app, read into a LoadResult."""

import json

import pytest

from workbench.loadtest import Workload, WorkloadSpec, read_locust_json, run_locust
from workbench.testing import UvicornServer


def test_locust_run_matches_its_json_totals(contract_server: UvicornServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wl = Workload(WorkloadSpec(seed=4, stream_share=0.3))
    res = run_locust(contract_server.url, wl, users=4, run_time_s=3, rate_per_user=10, requests=200,
                     out_dir=tmp_path)
    totals = res.meta["locust_json"]
    assert res.meta["source"] == "locust-events" and res.meta["per_request"]
    assert len(res) == totals["num_requests"] > 20
    assert (res.df.status == "ok").all() and totals["num_failures"] == 0
    assert (res.df.tokens == 4).all()  # the final response's fields reached the rows, streamed or not
    assert (res.df.latency_ms >= 10).all()
    assert res.summary()["throughput_rps"] <= 4 * 10 * 1.3  # constant_throughput paces the users
    # the JSON alone gives the same totals (reconstructed rows)
    agg = read_locust_json(tmp_path / "locust.json")
    assert not agg.meta["per_request"] and len(agg) == totals["num_requests"]
    assert agg.summary()["latency_ms"]["p50"] == pytest.approx(res.summary()["latency_ms"]["p50"], abs=2.0)
    sent = {json.loads(line)["index"] for line in (tmp_path / "workload.jsonl").read_text().splitlines()}
    assert set(res.df["index"]) <= sent
