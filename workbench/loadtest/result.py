"""One load-test run: a row per request in a pandas DataFrame, a manifest, and the summary built from them.

Columns (times in seconds from the run's start, durations in ms):

``index, intent, kind, tenant, user, session, stream, worker`` what was sent, by which virtual user
``scheduled_s, start_s, first_token_s, end_s``              when it was due, sent, first token, done
``latency_ms``      end − **scheduled** start (open loop: no coordinated omission)
``service_ms``      end − actual start;  ``wait_ms`` actual − scheduled start (client-side lateness)
``ttft_ms``         first token − scheduled start (non-streamed: the whole response is the first token)
``tokens, tpot_ms`` output tokens; time per output token after the first (streamed only)
``status``          ``ok`` | ``shed`` (overloaded / HTTP 429) | ``error``;  ``http_status`` (HTTP runs)
``cache_layer, variant, degradation_level, simulated, error``  from the response, or the error text
``itl_max_ms``      the largest gap between two successive streamed tokens (NaN: fewer than two)
``answer, verdict`` the answer text; ``correct`` | ``partly`` | ``wrong`` against the item's gold by
                    :func:`~workbench.evaluation.metrics.answer.match_answer` (None: not scored)

A saved run is a folder: ``run.json`` (schema :data:`RUN_SCHEMA`: config, target, workload, profile, SLO,
environment, the aggregates with their percentiles named ``p50``/``p95``/``p99`` and the method, a seeded
sample of per-request timings) and ``requests.csv`` (every row). Older runs (``manifest.json`` +
``requests.parquet``) still load.

The measured window (``meta["measured"] = {"from_s", "to_s"}``, set by ``warmup`` / ``cooldown``) leaves
the warm-up and cool-down out: latency, attainment and quality are over the requests *scheduled* in it,
throughput and goodput count the requests that *ended* in it, per second of it. Without one, the window
runs from the first scheduled start to the last end.

```python
result = await OpenLoopRunner(target, workload, profile).run()
result.summary(slo=SLO(ttft_ms=300, e2e_ms=1000))["latency_ms"]["p99"]
result.timeseries()            # one row per second
result.save("runs/peak-cache-on"); LoadResult.load("runs/peak-cache-on")   # run.json + requests.csv
```
"""

from __future__ import annotations

import json
import math
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import DatasetError
from workbench.evaluation.cache_truth import wilson_interval
from workbench.loadtest.stats import SLO, slo_mask
from workbench.percentiles import DEFAULT_PERCENTILES, PERCENTILE_METHOD, percentile_key, percentiles

__all__ = ["COLUMNS", "LoadResult", "RUN_FILE", "RUN_SAMPLE", "RUN_SCHEMA", "run_environment"]

COLUMNS: tuple[str, ...] = (
    "index", "intent", "kind", "tenant", "user", "session", "stream", "worker",
    "scheduled_s", "start_s", "first_token_s", "end_s",
    "latency_ms", "service_ms", "wait_ms", "ttft_ms", "tokens", "tpot_ms",
    "status", "http_status", "cache_layer", "variant", "degradation_level", "simulated", "error",
    "itl_max_ms", "answer", "verdict",
)
CACHE_LAYERS = ("exact", "semantic", "user")
TEXT_COLUMNS: tuple[str, ...] = ("intent", "kind", "tenant", "user", "session", "status", "cache_layer", "variant",
                                 "error", "answer", "verdict")
#: The file a saved run is described by, and its schema (``name/version``; a reader checks the name).
RUN_FILE = "run.json"
RUN_SCHEMA = "workbench.loadtest.run/1"
#: Requests whose timings ``run.json`` carries inline (the rest are in the rows file).
RUN_SAMPLE = 200
SAMPLE_COLUMNS: tuple[str, ...] = (
    "index", "status", "scheduled_s", "start_s", "first_token_s", "end_s", "latency_ms", "ttft_ms", "service_ms",
    "wait_ms", "tpot_ms", "itl_max_ms", "tokens", "cache_layer", "degradation_level", "verdict",
)


def run_environment() -> dict[str, Any]:
    """Versions and machine facts for a manifest."""
    import importlib.metadata as md

    versions = {"python": sys.version.split()[0]}
    for pkg in ("rag-serving-workbench", "numpy", "pandas", "httpx", "locust", "uvicorn", "fastapi"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    import os

    return {"versions": versions, "machine": {"platform": platform.platform(), "cpus": os.cpu_count()}}


@dataclass
class LoadResult:
    """The rows of one run and its manifest (``meta``); everything else is computed from those.

    ``meta`` holds the runner, target, profile, workload spec, rates, seed, start time, versions and
    machine, and ``per_request`` (False when rows were reconstructed from aggregates, e.g. Locust's
    JSON histogram).
    """

    df: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_rows(cls, rows: list[tuple[Any, ...]] | list[dict[str, Any]] | pd.DataFrame,
                  meta: dict[str, Any]) -> LoadResult:
        """Rows as tuples in :data:`COLUMNS` order, dicts or a DataFrame; sorted by scheduled start."""
        if isinstance(rows, pd.DataFrame):
            df = rows.reindex(columns=list(COLUMNS))
        elif rows and isinstance(rows[0], dict):
            df = pd.DataFrame(rows).reindex(columns=list(COLUMNS))
        else:
            df = pd.DataFrame(rows, columns=list(COLUMNS))
        df = df.sort_values(["scheduled_s", "index"], kind="stable").reset_index(drop=True)
        for col in ("scheduled_s", "start_s", "first_token_s", "end_s", "latency_ms", "service_ms", "wait_ms",
                    "ttft_ms", "tpot_ms", "itl_max_ms"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        for col in ("tokens", "degradation_level", "worker", "index"):
            df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype("int64")
        df["http_status"] = pd.to_numeric(df["http_status"], errors="coerce").astype("Int64")
        for col in ("stream", "simulated"):
            df[col] = df[col].astype(object).where(df[col].notna(), False).astype(bool)  # a missing column too
        for col in ("intent", "kind", "tenant", "user", "session", "status", "cache_layer", "variant", "error",
                    "answer", "verdict"):
            df[col] = df[col].astype("object").where(df[col].notna(), None)
        m = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"), "per_request": True, **meta}
        m.setdefault("environment", run_environment())
        return cls(df, m)

    def __len__(self) -> int:
        return len(self.df)

    def __repr__(self) -> str:
        s = self.summary()
        return (f"LoadResult({self.meta.get('runner')}, {s['requests']} requests, {s['throughput_rps']:.1f} req/s, "
                f"p50 {s['latency_ms']['p50']:.1f} ms, p99 {s['latency_ms']['p99']:.1f} ms)")

    # -- numbers -------------------------------------------------------------------------------
    @property
    def measured(self) -> tuple[float, float] | None:
        """The measured window ``(from_s, to_s)`` in scheduled-start seconds, or ``None`` (the whole run)."""
        m = self.meta.get("measured")
        return (float(m["from_s"]), float(m["to_s"])) if m else None

    @property
    def window_s(self) -> float:
        """The measured window's length, else from the first scheduled start to the last end."""
        if self.measured is not None:
            a, b = self.measured
            return b - a
        if self.df.empty:
            return 0.0
        return float(self.df["end_s"].max() - self.df["scheduled_s"].min())

    def _masks(self) -> tuple[np.ndarray, np.ndarray]:
        """(scheduled in the measured window, ended in it): every row when there is none."""
        df = self.df
        if self.measured is None:
            everything = np.ones(len(df), dtype=bool)
            return everything, everything
        a, b = self.measured
        sched, end = df["scheduled_s"].to_numpy(), df["end_s"].to_numpy()
        return (sched >= a) & (sched < b), (end >= a) & (end < b)

    def slo_met(self, slo: SLO) -> np.ndarray:
        """Per row: succeeded and met every bound of ``slo`` (see :mod:`workbench.loadtest.stats`)."""
        df = self.df
        return slo_mask((df["status"] == "ok").to_numpy(), df["ttft_ms"].to_numpy(), df["latency_ms"].to_numpy(),
                        slo, tpot_ms=df["tpot_ms"].to_numpy(), itl_max_ms=df["itl_max_ms"].to_numpy())

    def summary(self, slo: SLO | None = None, *, ps: tuple[float, ...] = DEFAULT_PERCENTILES) -> dict[str, Any]:
        """Throughput, goodput under ``slo``, latency percentiles, error/shed rates, cache hit rates, and,
        when answers were scored, their quality (``quality``: correct share with a Wilson 95% interval,
        correct goodput, and the share and correct share per degradation level and per cache layer).

        Latency, TTFT, TPOT, ITL and service-time percentiles ``ps`` are over successful requests in the
        measured window, by nearest rank (``percentile_method``; see :mod:`workbench.percentiles`); rates
        are per request sent; ``lateness_ms`` is how late the client sent (scheduled → actual start).
        Correct goodput counts a request that succeeded, met ``slo`` and whose answer is ``correct``: a
        degraded or cached wrong answer is not good. When only a sample was scored, it is goodput × the
        correct share among the scored requests that met the SLO; ``correct_goodput_ci95`` is goodput × the
        Wilson 95% interval of that share (the sampling of the scores, not the run-to-run spread).
        """
        if slo is None and self.meta.get("slo"):
            slo = SLO.from_dict(self.meta["slo"])
        in_win, ended = self._masks()
        full = self.df
        df = full[in_win]
        n = len(df)
        ok = (df["status"] == "ok").to_numpy()
        okdf = df[ok]
        window = self.window_s
        ok_ended = int(((full["status"] == "ok").to_numpy() & ended).sum())
        sched = df["scheduled_s"]
        offered_span = float(sched.max() - sched.min()) if n > 1 else 0.0
        out: dict[str, Any] = {
            "requests": n,
            "ok": int(ok.sum()),
            "shed": int((df["status"] == "shed").sum()),
            "errors": int((df["status"] == "error").sum()),
            "window_s": window,
            "measured": dict(zip(("from_s", "to_s"), self.measured, strict=True)) if self.measured else None,
            "offered_rps": (n - 1) / offered_span if offered_span > 0 else math.nan,
            "throughput_rps": ok_ended / window if window > 0 else math.nan,
            "completed_rps": int(ended.sum()) / window if window > 0 else math.nan,
            "tokens_per_s": float(full["tokens"][ended & (full["status"] == "ok").to_numpy()].sum()) / window
            if window > 0 else math.nan,
            "percentile_method": PERCENTILE_METHOD,
            "latency_ms": percentiles(okdf["latency_ms"].to_numpy(), ps),
            "ttft_ms": percentiles(okdf["ttft_ms"].to_numpy(), ps),
            "tpot_ms": percentiles(okdf["tpot_ms"].to_numpy(), ps),
            "itl_max_ms": percentiles(okdf["itl_max_ms"].to_numpy(), ps),
            "service_ms": percentiles(okdf["service_ms"].to_numpy(), ps),
            "wait_ms": percentiles(df["wait_ms"].to_numpy(), (50.0, 99.0)),
            "lateness_ms": {**percentiles(df["wait_ms"].to_numpy(), (50.0, 99.0)),
                            "max": float(df["wait_ms"].max()) if n else math.nan},
            "latency_mean_ms": float(okdf["latency_ms"].mean()) if len(okdf) else math.nan,
        }
        out["error_rate"] = out["errors"] / n if n else math.nan
        out["shed_rate"] = out["shed"] / n if n else math.nan
        layers = okdf["cache_layer"].fillna("miss")
        out["cache_hit_rate"] = {layer: float((layers == layer).mean()) if len(okdf) else math.nan
                                 for layer in (*CACHE_LAYERS, "miss")}
        out["cache_hit_rate"]["any"] = 1.0 - out["cache_hit_rate"]["miss"] if len(okdf) else math.nan
        out["degradation_levels"] = {int(k): int(v) for k, v in okdf["degradation_level"].value_counts().items()}
        out["variants"] = {str(k): int(v) for k, v in okdf["variant"].dropna().value_counts().items()}
        met_ended = None
        if slo is not None:
            met = self.slo_met(slo)
            met_ended = met & ended
            out["slo"] = slo.to_dict()
            out["goodput_rps"] = float(met_ended.sum()) / window if window > 0 else math.nan
            out["slo_attainment"] = float(met[in_win].mean()) if n else math.nan
        quality = self._quality(in_win, ended, met_ended, window)
        if quality is not None:
            out["quality"] = quality
            out["correct_share"] = quality["correct_share"]
            if "correct_goodput_rps" in quality:
                out["correct_goodput_rps"] = quality["correct_goodput_rps"]
                out["correct_goodput_ci95"] = quality["correct_goodput_ci95"]
        return out

    def _quality(self, in_win: np.ndarray, ended: np.ndarray, met_ended: np.ndarray | None,
                 window: float) -> dict[str, Any] | None:
        df = self.df
        verdict = df["verdict"].to_numpy()
        scored = np.array([v is not None for v in verdict], dtype=bool) & (df["status"] == "ok").to_numpy()
        if not scored.any():
            return None
        correct = verdict == "correct"
        sw = scored & in_win
        k, m = int((correct & sw).sum()), int(sw.sum())
        lo, hi = wilson_interval(k, m)
        ok_win = int(((df["status"] == "ok").to_numpy() & in_win).sum())
        q: dict[str, Any] = {
            "scored": m, "of_ok": ok_win, "sampled": m < ok_win, "correct_share": k / m if m else math.nan,
            "correct_share_ci95": [lo, hi], "partly_share": float((verdict[sw] == "partly").mean()) if m else math.nan,
            "matcher": "workbench.evaluation.metrics.answer.match_answer",
        }
        if met_ended is not None and window > 0:
            met_scored = met_ended & scored
            share = float(correct[met_scored].mean()) if met_scored.any() else math.nan
            good = float(met_ended.sum()) / window
            q["correct_goodput_rps"] = good * share if met_scored.any() else 0.0
            q["correct_within_slo_share"] = share
            lo_c, hi_c = wilson_interval(int((correct & met_scored).sum()), int(met_scored.sum()))
            q["correct_goodput_ci95"] = [good * lo_c, good * hi_c]
        by: dict[str, dict[str, Any]] = {}
        for col, key in (("degradation_level", "by_degradation_level"), ("cache_layer", "by_cache_layer")):
            vals = df[col].to_numpy() if col == "degradation_level" else df[col].fillna("miss").to_numpy()
            by[key] = {}
            for v in sorted({x for x in vals[sw]}, key=str):
                sel = sw & (vals == v)
                by[key][str(v)] = {"share": float(sel.sum()) / m, "scored": int(sel.sum()),
                                   "correct_share": float(correct[sel].mean())}
        q.update(by)
        return q

    def summary_row(self, slo: SLO | None = None, **extra: Any) -> dict[str, Any]:
        """The summary flattened to one dict (``latency_ms.p99`` → ``latency_p99_ms``), for a comparison table."""
        s = self.summary(slo)
        row: dict[str, Any] = dict(extra)
        for k, v in s.items():
            if isinstance(v, dict) and k in ("latency_ms", "ttft_ms", "tpot_ms", "itl_max_ms", "service_ms", "wait_ms",
                                             "lateness_ms"):
                base = k[:-3]
                row.update({f"{base}_{p}_ms": x for p, x in v.items()})
            elif k == "cache_hit_rate":
                row.update({f"hit_rate_{layer}": x for layer, x in v.items()})
            elif k in ("slo", "measured", "quality"):
                continue
            elif not isinstance(v, dict):
                row[k] = v
        return row

    def timeseries(self, bin_s: float = 1.0) -> pd.DataFrame:
        """One row per ``bin_s`` seconds: offered (by scheduled start), completed/ok/shed/errors (by end),
        throughput and tokens per second, and latency p50/p95/p99 (nearest rank) of the requests that
        ended in the bin."""
        df = self.df
        if df.empty:
            return pd.DataFrame(columns=["t_s", "offered", "completed", "ok", "shed", "errors", "throughput_rps",
                                         "tokens_per_s", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"])
        t0 = float(df["scheduled_s"].min())
        nb = math.floor((float(df["end_s"].max()) - t0) / bin_s) + 1
        sb = np.minimum(((df["scheduled_s"] - t0) // bin_s).astype(int).to_numpy(), nb - 1)
        eb = np.minimum(((df["end_s"] - t0) // bin_s).astype(int).to_numpy(), nb - 1)
        status = df["status"].to_numpy()
        ok = status == "ok"
        lat = df["latency_ms"].to_numpy()
        tok = df["tokens"].to_numpy()
        rows = []
        for b in range(nb):
            ended = eb == b
            okb = ended & ok
            p = percentiles(lat[okb], (50, 95, 99))
            rows.append({"t_s": t0 + b * bin_s, "offered": int((sb == b).sum()), "completed": int(ended.sum()),
                         "ok": int(okb.sum()), "shed": int((ended & (status == "shed")).sum()),
                         "errors": int((ended & (status == "error")).sum()),
                         "throughput_rps": okb.sum() / bin_s, "tokens_per_s": tok[okb].sum() / bin_s,
                         "latency_p50_ms": p["p50"], "latency_p95_ms": p["p95"], "latency_p99_ms": p["p99"]})
        return pd.DataFrame(rows)

    # -- persistence ---------------------------------------------------------------------------
    def run_document(self, *, rows_file: str = "requests.csv", sample: int = RUN_SAMPLE, seed: int = 0) -> dict[str, Any]:
        """The self-describing ``run.json`` of this run (schema :data:`RUN_SCHEMA`), as a strict-JSON-ready dict.

        :param rows_file: the file beside it that holds every request (one row each, :data:`COLUMNS`).
        :param sample: at most this many requests' timings inline (a seeded uniform sample; all when fewer).
        :param seed: the sample's seed.
        :returns: ``schema``, ``created_at``, ``config``, ``target``, ``runner``, ``workload``, ``profile``,
            ``slo``, ``environment``, ``aggregates`` (:meth:`summary`, percentiles named ``p50``...),
            ``percentiles`` (method, names, over what), ``requests`` (file, columns, units), ``sample``
            (the timings and how they were drawn) and ``meta`` (everything the runner recorded).
        """
        m = self.meta
        summary = self.summary()
        n = len(self.df)
        k = min(max(int(sample), 0), n)
        picked = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False)) if k < n else np.arange(n)
        cols = [c for c in SAMPLE_COLUMNS if c in self.df.columns]
        rows = self.df.iloc[picked][cols].astype(object).where(self.df.iloc[picked][cols].notna(), None)
        doc = {
            "schema": RUN_SCHEMA,
            "created_at": m.get("created_at"),
            "config": {"name": m.get("config"), "hash": m.get("config_hash"), "overrides": m.get("overrides")},
            "target": {"url": m.get("target_url"), "sender": m.get("sender"), "endpoint": m.get("endpoint")},
            "runner": m.get("runner"),
            "label": m.get("label"),
            "workload": m.get("workload"),
            "profile": m.get("run_profile") or m.get("profile"),
            "slo": summary.get("slo"),
            "environment": m.get("environment"),
            "percentiles": {"method": PERCENTILE_METHOD, "names": [percentile_key(p) for p in DEFAULT_PERCENTILES],
                            "over": "successful requests scheduled in the measured window",
                            "latency_from": m.get("latency_from", "scheduled start")},
            "aggregates": summary,
            "requests": {"file": rows_file, "count": n, "columns": list(COLUMNS),
                         "units": {"*_s": "seconds from the run's start", "*_ms": "milliseconds"}},
            "sample": {"method": "uniform without replacement, numpy default_rng(seed), in scheduled order"
                       if k < n else "every request", "seed": seed, "size": k, "of": n, "columns": cols,
                       "rows": rows.to_numpy().tolist()},
            "meta": m,
        }
        return _clean(doc)

    def save(self, directory: str | Path, *, fmt: str = "csv", sample: int = RUN_SAMPLE) -> Path:
        """Write ``run.json`` (:meth:`run_document`) and every request to ``requests.csv`` (or
        ``requests.parquet`` with ``fmt="parquet"``) into ``directory``; returns the folder.

        :raises ValueError: ``fmt`` is neither ``csv`` nor ``parquet``.
        """
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        rows_file = f"requests.{fmt}"
        if fmt == "parquet":
            self.df.to_parquet(d / rows_file, index=False)
        else:
            self.df.to_csv(d / rows_file, index=False)
        doc = self.run_document(rows_file=rows_file, sample=sample)
        (d / RUN_FILE).write_text(json.dumps(doc, indent=2, default=_json_default, ensure_ascii=False,
                                             allow_nan=False), encoding="utf-8")
        return d

    @staticmethod
    def is_run_dir(directory: str | Path) -> bool:
        """True when ``directory`` holds a saved load run: ``run.json``, or an older ``manifest.json`` with its
        ``rows_file`` (the format before ``run.json``)."""
        d = Path(directory)
        if (d / RUN_FILE).is_file():
            return True
        mf = d / "manifest.json"
        if not mf.is_file():
            return False
        try:
            return "rows_file" in json.loads(mf.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return False

    @classmethod
    def load(cls, directory: str | Path) -> LoadResult:
        """Read a run written by :meth:`save`: ``run.json`` with its rows file, or an older run's
        ``manifest.json`` with ``requests.parquet`` / ``.csv``.

        :raises DatasetError: no run here, an unknown schema, or its rows file is missing.
        """
        d = Path(directory)
        doc_path = d / RUN_FILE if (d / RUN_FILE).is_file() else d / "manifest.json"
        if not doc_path.is_file():
            raise DatasetError("no run.json (nor an older manifest.json): not a saved load-test run", path=str(d))
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
        if doc_path.name == RUN_FILE:
            if str(doc.get("schema", "")).split("/")[0] != RUN_SCHEMA.split("/")[0]:
                raise DatasetError(f"run.json schema {doc.get('schema')!r} is not {RUN_SCHEMA!r}", path=str(doc_path))
            rows_name = doc["requests"]["file"]
        else:
            rows_name = doc.get("rows_file", "")
        rows = d / rows_name
        if not rows_name or not rows.is_file():
            raise DatasetError("the run's rows file is missing", path=str(rows))
        df = pd.read_parquet(rows) if rows.suffix == ".parquet" else _read_rows_csv(rows)
        res = cls.from_rows(df, doc["meta"])
        res.meta = doc["meta"]
        return res

    # -- plots (matplotlib, lazily) ------------------------------------------------------------
    def plot(self, **kwargs: Any) -> Any:
        """Throughput and latency over time, and the latency CDF (see :func:`workbench.loadtest.plots.plot_result`)."""
        from workbench.loadtest.plots import plot_result

        return plot_result(self, **kwargs)


def _clean(o: Any) -> Any:
    """NaN → None, recursively (strict JSON)."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    if isinstance(o, float | np.floating) and math.isnan(o):
        return None
    return o


def _read_rows_csv(path: Path) -> pd.DataFrame:
    """``requests.csv`` with text columns kept as text (an answer "42" stays a string; only empty cells are missing)."""
    return pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, na_values=[""])


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)
