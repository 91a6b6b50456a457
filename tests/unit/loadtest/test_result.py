import json

import numpy as np
import pandas as pd
import pytest

from workbench.errors import DatasetError
from workbench.loadtest.result import COLUMNS, RUN_SAMPLE, RUN_SCHEMA, LoadResult
from workbench.loadtest.stats import SLO
from workbench.percentiles import PERCENTILE_METHOD


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
    doc = json.loads((tmp_path / "run" / "run.json").read_text())
    assert doc["aggregates"]["requests"] == 200 and doc["meta"]["runner"] == "test"
    assert doc["requests"]["file"] == f"requests.{fmt}" and (tmp_path / "run" / f"requests.{fmt}").is_file()
    back = LoadResult.load(tmp_path / "run")
    pd.testing.assert_frame_equal(back.df, result.df, check_dtype=False)
    assert back.summary()["latency_ms"] == pytest.approx(result.summary()["latency_ms"])
    assert list(back.df.columns) == list(COLUMNS)


def test_run_json_is_self_describing_with_named_percentiles_and_a_seeded_sample(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(300)
    for i, row in enumerate(rows):  # text that looks like a number stays text; a pipe and a newline survive the CSV
        row.update(answer="42" if i % 2 else "a | b\nc", verdict=("correct" if i % 3 else "wrong")
                   if row["status"] == "ok" else None)
    meta = {"runner": "open-loop", "config": "fast", "config_hash": "abc", "target_url": None,
            "workload": {"seed": 3}, "run_profile": {"name": "constant", "rate": 20.0}, "slo": {"e2el_ms": 60.0}}
    res = LoadResult.from_rows(rows, meta)
    res.save(tmp_path / "r")                                        # the default: run.json + requests.csv
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["requests.csv", "run.json"]
    doc = json.loads((tmp_path / "r" / "run.json").read_text())     # strict JSON: no NaN anywhere
    assert doc["schema"] == RUN_SCHEMA and doc["config"]["name"] == "fast" and doc["workload"] == {"seed": 3}
    assert doc["profile"] == {"name": "constant", "rate": 20.0} and doc["slo"] == {"e2el_ms": 60.0}
    assert doc["environment"]["versions"]["python"]
    assert doc["percentiles"]["method"] == PERCENTILE_METHOD and doc["percentiles"]["names"] == ["p50", "p90", "p95", "p99"]
    agg = doc["aggregates"]
    assert set(agg["latency_ms"]) == set(agg["ttft_ms"]) == {"p50", "p90", "p95", "p99"}
    assert agg["latency_ms"]["p99"] == pytest.approx(res.summary()["latency_ms"]["p99"])
    assert agg["goodput_rps"] > 0 and agg["correct_goodput_rps"] > 0
    lo, hi = agg["correct_goodput_ci95"]
    assert lo <= agg["correct_goodput_rps"] <= hi <= agg["goodput_rps"]
    sample = doc["sample"]
    assert sample["size"] == RUN_SAMPLE and sample["of"] == 300 and sample["seed"] == 0
    assert "uniform" in sample["method"] and len(sample["rows"]) == RUN_SAMPLE
    idx = [r[sample["columns"].index("index")] for r in sample["rows"]]
    assert idx == sorted(idx) and len(set(idx)) == RUN_SAMPLE
    lat = dict(zip(res.df["index"], res.df["latency_ms"], strict=True))
    assert all(r[sample["columns"].index("latency_ms")] == pytest.approx(lat[i]) for r, i in zip(sample["rows"], idx,
                                                                                                   strict=True))
    res.save(tmp_path / "r2")
    assert json.loads((tmp_path / "r2" / "run.json").read_text())["sample"]["rows"] == sample["rows"]  # seeded
    back = LoadResult.load(tmp_path / "r")
    assert back.df["answer"].tolist() == res.df["answer"].tolist() and back.df["answer"].iloc[1] == "42"
    pd.testing.assert_frame_equal(back.df, res.df, check_dtype=False)
    assert back.meta == json.loads(json.dumps(res.meta, default=str))


def test_an_older_run_still_loads_and_a_foreign_schema_is_refused(tmp_path, result: LoadResult) -> None:  # type: ignore[no-untyped-def]
    old = tmp_path / "old"
    old.mkdir()
    result.df.to_parquet(old / "requests.parquet", index=False)    # the format before run.json
    (old / "manifest.json").write_text(json.dumps({"meta": result.meta, "summary": {}, "rows_file": "requests.parquet",
                                                   "columns": list(COLUMNS)}, default=str))
    assert LoadResult.is_run_dir(old) and not LoadResult.is_run_dir(tmp_path)
    pd.testing.assert_frame_equal(LoadResult.load(old).df, result.df, check_dtype=False)
    result.save(tmp_path / "new")
    doc = json.loads((tmp_path / "new" / "run.json").read_text())
    (tmp_path / "new" / "run.json").write_text(json.dumps({**doc, "schema": "something.else/1"}))
    with pytest.raises(DatasetError, match="schema"):
        LoadResult.load(tmp_path / "new")
    with pytest.raises(DatasetError):
        LoadResult.load(tmp_path)
    with pytest.raises(ValueError):
        result.save(tmp_path / "x", fmt="xlsx")


def test_summary_row_and_plot(result: LoadResult) -> None:
    row = result.summary_row(SLO(e2e_ms=50), run="x")
    assert row["run"] == "x" and "latency_p99_ms" in row and "hit_rate_exact" in row and "goodput_rps" in row
    import matplotlib.pyplot as plt

    fig = result.plot()
    assert len(fig.axes) == 3
    plt.close(fig)


def test_rows_without_the_optional_columns_are_filled_in() -> None:
    """Rows from another tool may lack columns: ``stream`` and ``simulated`` become False, the rest missing."""
    rows = [{k: v for k, v in r.items() if k not in ("stream", "simulated", "http_status")} for r in _rows(20)]
    res = LoadResult.from_rows(rows, {"runner": "elsewhere"})
    assert list(res.df.columns) == list(COLUMNS) and not res.df["simulated"].any() and not res.df["stream"].any()
    assert res.df["simulated"].dtype == bool and res.summary()["requests"] == 20
