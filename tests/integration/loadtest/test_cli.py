import pytest
from click.testing import CliRunner

from workbench.loadtest import LoadResult
from workbench.loadtest.cli import loadtest
from workbench.testing import UvicornServer


def test_cli_http_open_loop_saves_a_run(contract_server: UvicornServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    r = CliRunner().invoke(loadtest, ["fast", "--url", contract_server.url, "--profile", "morning-peak",
                                      "--duration", "2", "--rate", "30", "--out", str(out), "--no-progress",
                                      "--slo-e2e-ms", "500"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "throughput" in r.output and "goodput" in r.output
    res = LoadResult.load(out)
    assert res.meta["profile"]["name"] == "morning-peak" and res.meta["config"] == "fast"
    assert len(res) > 5 and (res.df.status == "ok").all()


def test_cli_in_process_closed_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(loadtest, ["fast", "--concurrency", "2", "--duration", "1", "--out", str(tmp_path / "r")],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    res = LoadResult.load(tmp_path / "r")
    assert res.meta["runner"] == "closed-loop" and len(res) >= 1
    assert (res.df.status == "ok").all(), res.df.error.dropna().unique()[:3]


def test_cli_standard_profile_with_warmup_slo_and_score(contract_server: UvicornServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    r = CliRunner().invoke(loadtest, ["fast", "--url", contract_server.url, "--profile", "constant", "--rate", "40",
                                      "--max-seconds", "2", "--warmup", "0.25", "--cooldown", "10%", "--score",
                                      "--slo", "e2el_ms=500", "--slo", "ttft_ms=400", "--out", str(out),
                                      "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "measured 0.5-1.8 s" in r.output and "correct 0.0%" in r.output  # the contract app answers "ok"
    res = LoadResult.load(out)
    assert res.meta["measured"]["from_s"] == 0.5 and res.meta["slo"] == {"ttft_ms": 400.0, "e2el_ms": 500.0}
    assert res.meta["run_profile"]["name"] == "constant" and res.df.verdict.notna().any()


def test_cli_sweep_over_http(contract_server: UvicornServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(loadtest, ["fast", "--url", contract_server.url, "--profile", "sweep", "--steps", "3",
                                      "--duration", "1", "--concurrency", "4", "--out", str(tmp_path / "s")],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    import pandas as pd

    curve = pd.read_csv(tmp_path / "s" / "curve.csv")
    assert curve.profile.tolist() == ["synchronous", "throughput", "constant"]
    assert len(list((tmp_path / "s" / "runs").iterdir())) == 3


@pytest.mark.slow
def test_cli_find_capacity_of_a_slotted_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """2 slots of 20 ms behind real uvicorn: about 100 req/s; the search brackets it."""
    import json

    from workbench.loadtest import create_contract_app
    from workbench.loadtest.target import SlotTarget

    with UvicornServer(create_contract_app(SlotTarget(service_s=0.02, slots=2))) as server:
        r = CliRunner().invoke(loadtest, ["fast", "--url", server.url, "--find-capacity", "--slo", "e2el_ms=60",
                                          "--duration", "1.5", "--time-budget", "90", "--out", str(tmp_path / "c")],
                               catch_exceptions=False)
    assert r.exit_code == 0, r.output
    cap = json.loads((tmp_path / "c" / "capacity.json").read_text())
    # the confirmation ran (constant rate at the capacity found, then 1.2x it) and its verdict is printed
    assert [c["factor"] for c in cap["confirmation"]] == [1.0, 1.2] and cap["confirmed"] in (True, False)
    assert cap["confirmation_line"] in r.output and cap["search_s"] + cap["confirm_s"] > 0
    assert cap["curve"][-1]["run"].startswith("confirm 1.2x")
    # by construction at most 2 / 20 ms = 100 req/s (sleeps overshoot; the synchronous step's rate also pays the
    # HTTP round trip, so it bounds the capacity from below: 2 x it)
    sync = cap["curve"][0]["throughput_rps"]
    assert 0.75 * 2 * sync <= cap["rate_rps"] <= 1.05 * 100, (cap["rate_rps"], sync)
    assert "req/s under SLO(e2el_ms=60)" in r.output


class _ColdTarget:
    """A service whose first answer takes ``cold_s`` longer (models loading), counting what it answers: the one
    fault a test cannot cause on a real engine reliably (its models may already be loaded in this process)."""

    def __init__(self, cold_s: float) -> None:
        from workbench.loadtest import DelayTarget

        self.inner, self.cold_s, self.answered = DelayTarget(delay_s=0.005), cold_s, 0

    async def handle(self, request):  # type: ignore[no-untyped-def]
        import asyncio

        if self.answered == 0:
            await asyncio.sleep(self.cold_s)
        self.answered += 1
        return await self.inner.handle(request)


def test_a_plain_run_warms_up_first_and_reports_the_cold_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from workbench.loadtest import create_contract_app

    target = _ColdTarget(cold_s=0.5)
    with UvicornServer(create_contract_app(target)) as server:
        args = ["fast", "--url", server.url, "--profile", "constant", "--rate", "40", "--max-requests", "12",
                "--duration", "2", "--no-progress"]
        r = CliRunner().invoke(loadtest, [*args, "--warm-requests", "6", "--out", str(tmp_path / "w")],
                               catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert target.answered == 6 + 12                         # the warm-up was sent, then the measured run
        res = LoadResult.load(tmp_path / "w")
        assert len(res) == 12                                    # ... and only the measured run is in the result
        warm = res.meta["warm_up"]
        assert warm["requests"] == 6 and warm["errors"] == 0
        assert warm["cold_start_ms"] >= 500 > res.summary()["latency_ms"]["p50"]   # the cold answer is not measured
        assert "cold start (not measured): first request" in r.output
        r = CliRunner().invoke(loadtest, [*args, "--warm-requests", "0", "--out", str(tmp_path / "n")],
                               catch_exceptions=False)
        assert r.exit_code == 0, r.output
        assert target.answered == 18 + 12 and "warm_up" not in LoadResult.load(tmp_path / "n").meta
        assert "cold start" not in r.output


def test_an_in_process_run_warms_its_own_engine_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(loadtest, ["fast", "--concurrency", "2", "--max-requests", "6", "--duration", "5",
                                      "--warm-requests", "3", "--no-progress", "--out", str(tmp_path / "r")],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    res = LoadResult.load(tmp_path / "r")
    assert res.meta["warm_up"]["requests"] == 3 and res.meta["warm_up"]["errors"] == 0 and len(res) == 6
    assert "cold start (not measured)" in r.output


@pytest.mark.parametrize(("profile", "pacing"), [("constant", "constant"), ("poisson", "poisson")])
def test_cli_locust_paces_users_by_profile(contract_server: UvicornServer, tmp_path, profile: str, pacing: str) -> None:  # type: ignore[no-untyped-def]
    """--locust --profile constant keeps Locust's even pacing; every other open-loop profile gets Poisson users."""
    out = tmp_path / "run"
    r = CliRunner().invoke(loadtest, ["fast", "--url", contract_server.url, "--locust", "--profile", profile,
                                      "--rate", "20", "--duration", "2", "--out", str(out), "--no-progress"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    res = LoadResult.load(out)
    assert res.meta["arrivals"] == pacing and len(res) > 5
