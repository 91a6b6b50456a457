import json

import numpy as np
import pandas as pd
import pytest

from workbench.loadtest.result import COLUMNS, LoadResult
from workbench.loadtest.stats import SLO


def _rows(n: int = 200, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sched = i * 0.05  # 20 req/s for 10 s
        lat = float(rng.exponential(40.0)) + 1.0
        status = "ok" if i % 10 else ("shed" if i % 20 == 0 else "error")
        rows.append({"index": i, "intent": "a.b", "kind": "question", "tenant": "default", "user": "u1",
                     "session": None, "stream": False, "worker": -1, "scheduled_s": sched, "start_s": sched,
                     "first_token_s": sched + lat / 2e3, "end_s": sched + lat / 1e3, "latency_ms": lat,
                     "service_ms": lat, "wait_ms": 0.0, "ttft_ms": lat / 2, "tokens": 4, "tpot_ms": np.nan,
                     "status": status, "http_status": None,
                     "cache_layer": ("exact" if i % 3 == 0 else None) if status == "ok" else None,
                     "variant": None, "degradation_level": 0, "simulated": False, "error": None})
    return rows


@pytest.fixture
def result() -> LoadResult:
    return LoadResult.from_rows(_rows(), {"runner": "test"})


def test_summary_against_numpy(result: LoadResult) -> None:
    df = result.df
    ok = df[df.status == "ok"]
    s = result.summary(SLO(ttft_ms=30, e2e_ms=60))
    assert s["requests"] == 200 and s["ok"] == 180 and s["shed"] == 10 and s["errors"] == 10
    assert s["shed_rate"] == pytest.approx(0.05) and s["error_rate"] == pytest.approx(0.05)
    window = df.end_s.max() - df.scheduled_s.min()
    assert s["window_s"] == pytest.approx(window)
    assert s["throughput_rps"] == pytest.approx(180 / window)
    assert s["tokens_per_s"] == pytest.approx(180 * 4 / window)
    for p in (50, 90, 95, 99):  # nearest rank: numpy's inverted_cdf, and always a latency that was observed
        assert s["latency_ms"][f"p{p}"] == pytest.approx(np.percentile(ok.latency_ms, p, method="inverted_cdf"))
        assert s["latency_ms"][f"p{p}"] in set(ok.latency_ms)
    good = ((df.status == "ok") & (df.ttft_ms <= 30) & (df.latency_ms <= 60)).sum()
    assert s["goodput_rps"] == pytest.approx(good / window)
    assert s["cache_hit_rate"]["exact"] == pytest.approx((ok.cache_layer == "exact").mean())
    assert s["cache_hit_rate"]["any"] + s["cache_hit_rate"]["miss"] == pytest.approx(1.0)
    assert s["percentile_method"] == "nearest-rank"


def test_percentiles_are_nearest_rank_worked_by_hand() -> None:
    """Latencies 10, 20, 30, 40 ms: p50 is rank ceil(0.5·4) = 2 → 20 ms (linear interpolation would say 25),
    p90, p95 and p99 are rank 4 → 40 ms; the one shed request's 1000 ms is not a success and is left out."""
    rows = _rows(5)
    for row, lat in zip(rows, (1000.0, 40.0, 10.0, 30.0, 20.0), strict=True):
        row.update(latency_ms=lat, service_ms=lat, ttft_ms=lat)
    res = LoadResult.from_rows(rows, {"runner": "test"})
    s = res.summary()
    assert s["ok"] == 4 and s["shed"] == 1
    assert s["latency_ms"] == {"p50": 20.0, "p90": 40.0, "p95": 40.0, "p99": 40.0}
    assert s["ttft_ms"]["p50"] == 20.0 and s["service_ms"]["p99"] == 40.0


def test_timeseries_accounts_for_every_request(result: LoadResult) -> None:
    ts = result.timeseries(1.0)
    assert ts["offered"].sum() == 200
    assert ts["completed"].sum() == 200
    assert ts["ok"].sum() == 180
    assert ts["offered"].iloc[3] == 20
    assert (ts["latency_p50_ms"].dropna() <= ts["latency_p99_ms"].dropna()).all()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_save_and_load(tmp_path, result: LoadResult, fmt: str) -> None:  # type: ignore[no-untyped-def]
    result.save(tmp_path / "run", fmt=fmt)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["summary"]["requests"] == 200 and manifest["meta"]["runner"] == "test"
    back = LoadResult.load(tmp_path / "run")
    pd.testing.assert_frame_equal(back.df, result.df, check_dtype=False)
    assert back.summary()["latency_ms"] == pytest.approx(result.summary()["latency_ms"])
    assert list(back.df.columns) == list(COLUMNS)


def test_summary_row_and_plot(result: LoadResult) -> None:
    row = result.summary_row(SLO(e2e_ms=50), run="x")
    assert row["run"] == "x" and "latency_p99_ms" in row and "hit_rate_exact" in row and "goodput_rps" in row
    import matplotlib.pyplot as plt

    fig = result.plot()
    assert len(fig.axes) == 3
    plt.close(fig)
