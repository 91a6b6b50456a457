"""A short headless Locust run (subprocess) against the contract app, read into a LoadResult."""

import json

import numpy as np
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


def _share_in_bursts(res) -> float:  # type: ignore[no-untyped-def]
    """Share of requests sent within 2 ms of the one before (users in phase send together)."""
    start = np.sort(res.df.start_s.to_numpy())
    return float((np.diff(start) < 0.002).mean())


@pytest.mark.slow
def test_poisson_pacing_sends_no_bursts_and_records_lateness(contract_server: UvicornServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """constant_throughput users spawned together stay in phase (bursts); Poisson users do not."""
    wl = Workload(WorkloadSpec(seed=5))
    kw = {"users": 8, "run_time_s": 3, "rate_per_user": 5, "requests": 200}
    constant = run_locust(contract_server.url, wl, arrivals="constant", out_dir=tmp_path / "c", **kw)
    poisson = run_locust(contract_server.url, wl, arrivals="poisson", seed=1, spawn_rate=80, out_dir=tmp_path / "p",
                         **kw)
    assert constant.meta["arrivals"] == "constant" and poisson.meta["arrivals"] == "poisson"
    assert _share_in_bursts(constant) > 0.4 > 0.25 > _share_in_bursts(poisson)
    assert len(poisson) > 40 and (poisson.df.status == "ok").all()
    # each row knows when it was due, never after it was sent
    wait = poisson.df.wait_ms.to_numpy()
    assert (wait >= 0).all() and np.isfinite(wait).all() and (poisson.df.scheduled_s <= poisson.df.start_s).all()
    assert (constant.df.wait_ms == 0).all()  # constant pacing has no schedule to be late to
