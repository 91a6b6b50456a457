"""GuideLLM's chat benchmark against our two OpenAI-compatible servers, beside our own runner on the same server.

Issue 16, item 7 and its target: GuideLLM (installed by ``scripts/setup.sh`` in its own venv) runs its streamed
chat benchmark against ``workbench serve`` and ``workbench serve-llm``, and its time to first token (TTFT) and
inter-token latency (ITL) agree with our runner's within 5% on the same server.

Servers, each a real process on 127.0.0.1:

* ``serve-llm (simulated)``: ``workbench serve-llm --backend simulated`` (fixed TTFT and time per token, no jitter;
  simulated timings, labelled so);
* ``serve``: ``workbench serve fast`` with its generator the simulated ``serve-llm`` above (generator.kind=openai,
  abstention off so every question reaches the generator): the whole RAG request path streamed;
* ``serve-llm (smollm2-135m)``: a real model through llama.cpp (``--llama none`` leaves it out).

Per server, both tools send ``--requests`` synchronous requests (one at a time) cycling through the same 10 English
questions of our workload (seeded), in the same order, with the same messages and no token limit of their own (both
get the server's default; tests/integration/serving/test_guidellm.py checks the bodies). Two designs (``--mode``;
``auto``, the default, takes the first on the simulated servers and the second on the real model):

* side by side: our runner (``ClosedLoopRunner`` + ``HttpSender`` with the OpenAI endpoint mapping) loops while
  GuideLLM runs, and only our requests started inside GuideLLM's benchmark window count: both see the same moments
  of a shared machine. Right for the simulated servers, whose times are sleeps, not computation;
* one after the other: ours sends half of them, then GuideLLM all of them alone, then ours the other half (a
  linear drift of the machine's speed cancels). Needed on the real model, whose first-token time is computation
  that a busy neighbour slows down (below).

The real model runs two llama.cpp instances (one pool). Ratios are ours / GuideLLM's, of medians and of means.

The real model's TTFT gap (ours 1.66x GuideLLM's median in the former side-by-side design, 16 requests each at load
13-17) was the machine, not either tool. Evidence (a probe server logging, per request, the llama.cpp call's time to
the first chunk and the prompt tokens reused from the instance's previous request): both tools' prompts are the
same 37 tokens with the same 24 reused (the chat template's system prompt; no request ever found its whole prompt
cached, so prompt-prefix reuse favoured neither); the role-only opening chunk arrives with the first token
(GuideLLM's first_request_iteration and first_token_iteration 0.15 ms apart); and with our client and a plain httpx
client sending GuideLLM's exact body interleaved request by request (ABBA, 20 each, load 4), the TTFT medians were
195 vs 208 ms and the server's own times 168 vs 176 ms. The gap is the server's prompt time itself (one llama.cpp
thread per instance, ~13 new tokens), which on a shared 2-core machine moves with whatever else runs: the
side-by-side design gave 1.12 and 1.23 in two more runs at load 4-6 with the server's own time differing as much
(362 vs 295 ms), and it is not symmetric, because GuideLLM's client burns 235 ms of CPU per 64-token streamed
request against our runner's 42 ms (both measured on the same server, load 4): beside each other, our requests'
prompts share the cores with a far busier neighbour than GuideLLM's do. One after the other, ours then GuideLLM gave
1.27 while the load fell from 5.3 to 4.3 (every question slower for whichever went first); with ours' halves around
GuideLLM and 30 requests each, 1.01 (median) / 0.98 (mean) at load 4.

Definitions: both tools take the output tokens from ``usage.completion_tokens``. GuideLLM's TTFT starts when the
request headers are sent, ours when the request is issued (closed loop: the same moment, give or take the JSON
encoding). GuideLLM's ITL ends at the *last token line*; our ``tpot_ms`` ends at the *end of the response* (after the
finish chunk, the usage chunk and ``[DONE]``), so the table also gives GuideLLM's per-request timings recomputed
with our end (``itl_to_end``): the like-for-like ratio.

Run (about 3.5 minutes on 2 shared cores; ``--quick``: 20 GuideLLM requests, no real model, about 1.5 minutes):

    .venv/bin/python bench/bench_guidellm.py
    .venv/bin/python bench/bench_guidellm.py --quick
    .venv/bin/python bench/bench_guidellm.py --requests 100 --llama-requests 8 --ttft-ms 150 --tpot-ms 15

Writes bench/results/guidellm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from statistics import fmean
from typing import Any

import httpx
import pandas as pd

import workbench  # noqa: F401  (offline switches first)
from workbench.loadtest import ClosedLoopRunner, Workload, WorkloadSpec
from workbench.loadtest.endpoint import EndpointMapping
from workbench.loadtest.http import HttpSender
from workbench.loadtest.workload import WorkItem
from workbench.percentiles import PERCENTILE_METHOD, percentile
from workbench.serving.guidellm_runner import (
    GUIDELLM_ENV,
    GUIDELLM_VERSION,
    guidellm_command,
    guidellm_executable,
    read_report,
    write_prompts,
)
from workbench.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "guidellm.json"
#: Questions per run of our runner beside GuideLLM (GuideLLM cycles through the same ones).
BATCH = 10
#: The tools one after the other (ours half, GuideLLM, ours half) or at the same time.
SEQUENTIAL, SIDE_BY_SIDE, AUTO = "one after the other", "side by side", "auto"
WORKBENCH = str(Path(sys.executable).parent / "workbench")


class Server:
    """A ``workbench`` server command in its own process (own session), ready once ``/readyz`` or ``/health`` is 200."""

    def __init__(self, name: str, args: list[str], *, health: str, model: str) -> None:
        self.name, self.model, self.port = name, model, free_port()
        self.log = Path(tempfile.mkstemp(prefix="wb-guidellm-", suffix=".log")[1])
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([WORKBENCH, *args, "--port", str(self.port)], cwd=ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.health = health

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self, timeout_s: float = 600.0) -> Server:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}{self.health}", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        self.close()
        raise RuntimeError(f"{self.name} was not ready after {timeout_s:g} s")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def questions(n: int, seed: int) -> list[WorkItem]:
    spec = WorkloadSpec(seed=seed, stream_share=1.0, languages=("en",), personalized_share=0.0, session_share=0.0)
    return Workload(spec).items(n)


def warm_up(url: str, items: list[WorkItem], n: int = 3) -> None:
    for it in items[:n]:
        with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=120,
                          json={"messages": [{"role": "user", "content": it.request.question}], "stream": True}) as r:
            r.raise_for_status()
            for _ in r.iter_lines():
                pass


def ours(url: str, model: str, items: list[WorkItem], requests: int | None = None) -> pd.DataFrame:
    """One synchronous run of our runner cycling through ``items`` (``requests`` of them, default one pass);
    ``wall_start`` = each request's start, Unix time."""
    sender = HttpSender(url, timeout_s=120, mapping=EndpointMapping(kind="openai", model=model))
    wall0 = time.time()
    df = asyncio.run(ClosedLoopRunner(sender, items, users=1, max_requests=requests or len(items)).run()).df
    return df.assign(wall_start=wall0 + df.start_s)


def stats(values: list[float]) -> dict[str, float]:
    return {"median": round(float(percentile(values, 50)), 2), "mean": round(fmean(values), 2), "n": len(values)} \
        if values else {"median": float("nan"), "mean": float("nan"), "n": 0}


def ratio(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: round(a[k] / b[k], 3) for k in ("median", "mean")}


def compare(server: Server, items: list[WorkItem], out_dir: Path, *, guidellm_requests: int,
            mode: str = SEQUENTIAL) -> dict[str, Any]:
    """Both tools on ``server``, cycling through ``items`` in the same order, one request at a time each.

    ``mode`` :data:`SEQUENTIAL`: our runner sends half of ``guidellm_requests``, then GuideLLM all of them alone, then
    ours the other half (a linear drift of the machine's speed cancels; neither tool's requests share the server
    with the other's). :data:`SIDE_BY_SIDE`: ours loops while GuideLLM runs, and only our requests started inside
    GuideLLM's benchmark window count (the same moments of a loaded machine; but each tool's requests then compete
    with the other's, and on llama.cpp one tool's question primes an instance's prompt cache for the other)."""
    warm_up(server.url, items)
    data = write_prompts([items[i % len(items)].request.question for i in range(guidellm_requests)],
                         out_dir / f"prompts-{server.port}.jsonl")
    out = out_dir / f"{server.port}.json"
    t0 = time.perf_counter()
    cmd = guidellm_command(server.url, data, requests=guidellm_requests, output=out)
    log_path = out_dir / f"{server.port}.log"
    runs = []
    if mode == SEQUENTIAL:
        runs.append(ours(server.url, server.model, items, guidellm_requests // 2))
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **GUIDELLM_ENV})
        while mode == SIDE_BY_SIDE and proc.poll() is None:
            runs.append(ours(server.url, server.model, items))
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"guidellm exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
    rep = read_report(out)
    guidellm_s = time.perf_counter() - t0
    if mode == SEQUENTIAL:
        # the second half goes on through the questions where the first half stopped
        rest = guidellm_requests - guidellm_requests // 2
        start = (guidellm_requests // 2) % len(items)
        runs.append(ours(server.url, server.model, items[start:] + items[:start], rest))
    df = pd.concat(runs, ignore_index=True)
    if mode == SIDE_BY_SIDE:
        df = df[(df.wall_start >= rep.window[0]) & (df.wall_start <= rep.window[1])]
    ok = df[df.status == "ok"]
    o_ttft, o_itl = stats(list(ok.ttft_ms)), stats(list(ok.tpot_ms.dropna()))
    g_ttft, g_itl, g_itl_end = stats(rep.ttft_ms), stats(rep.itl_ms), stats(rep.itl_to_end_ms)
    return {
        "server": server.name, "mode": mode,
        "guidellm_requests": guidellm_requests, "guidellm_wall_s": round(guidellm_s, 1),
        "guidellm": {"successful": rep.successful, "errored": rep.errored, "incomplete": rep.incomplete,
                     "errors": rep.errors[:3], "ttft_ms": g_ttft, "itl_ms": g_itl, "itl_to_end_ms": g_itl_end,
                     "output_tokens": stats([float(x) for x in rep.output_tokens]), "own_summary": rep.summary},
        "ours": {"requests": len(df), "ok": len(ok), "errors": int((df.status == "error").sum()),
                 "ttft_ms": o_ttft, "tpot_ms": o_itl, "output_tokens": stats([float(x) for x in ok.tokens])},
        "per_request_ms": {"ours_ttft": [round(float(x), 1) for x in ok.ttft_ms],
                           "guidellm_ttft": [round(x, 1) for x in rep.ttft_ms],
                           "ours_tpot": [round(float(x), 2) for x in ok.tpot_ms.dropna()],
                           "guidellm_itl": [round(x, 2) for x in rep.itl_ms]},
        "ratios_ours_over_guidellm": {"ttft": ratio(o_ttft, g_ttft), "itl_vs_guidellm_itl": ratio(o_itl, g_itl),
                                      "itl_like_for_like": ratio(o_itl, g_itl_end)},
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'server':29} {'GL ok/err':>9} {'TTFT ours':>9} {'GL':>6} {'ratio':>6} {'ITL ours':>8} {'GL':>6} "
            f"{'ratio':>6} {'GL@end':>6} {'ratio':>6}")
    lines = [head]
    for r in rows:
        g, o, q = r["guidellm"], r["ours"], r["ratios_ours_over_guidellm"]
        lines.append(f"{r['server']:29} {g['successful']:>5}/{g['errored']:<3} {o['ttft_ms']['median']:>9.1f} "
                     f"{g['ttft_ms']['median']:>6.1f} {q['ttft']['median']:>6.3f} {o['tpot_ms']['median']:>8.2f} "
                     f"{g['itl_ms']['median']:>6.2f} {q['itl_vs_guidellm_itl']['median']:>6.3f} "
                     f"{g['itl_to_end_ms']['median']:>6.2f} {q['itl_like_for_like']['median']:>6.3f}")
    lines.append("  medians in ms; ratio = ours / GuideLLM; GL@end = GuideLLM's ITL ended at the response end "
                 "(our tpot_ms's end): the like-for-like ITL")
    for r in rows:
        q = r["ratios_ours_over_guidellm"]
        lines.append(f"  means, {r['server']}: TTFT {q['ttft']['mean']:.3f}, ITL {q['itl_vs_guidellm_itl']['mean']:.3f} "
                     f"(@end {q['itl_like_for_like']['mean']:.3f})")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=60, help="GuideLLM's requests per simulated server (ours loops beside it)")
    ap.add_argument("--ttft-ms", type=float, default=100.0, help="simulated LLM: time to first token")
    ap.add_argument("--tpot-ms", type=float, default=10.0, help="simulated LLM: time per output token")
    ap.add_argument("--llama", default="smollm2-135m", help="real model for serve-llm (llama.cpp), or 'none'")
    ap.add_argument("--llama-requests", type=int, default=30, help="requests per tool against the real model")
    ap.add_argument("--mode", choices=[AUTO, SEQUENTIAL, SIDE_BY_SIDE], default=AUTO,
                    help="the tools one after the other, at the same time, or (auto) side by side on the simulated "
                         "servers and one after the other on the real model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="20 requests, no real model")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.quick:
        args.requests, args.llama = 20, "none"
    guidellm_executable()  # fail early with the set-up hint
    items = questions(BATCH, args.seed)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="wb-guidellm-") as tmp:
        llm = Server("serve-llm (simulated)", ["serve-llm", "--backend", "simulated", "--ttft-ms", f"{args.ttft_ms:g}",
                                                "--tpot-ms", f"{args.tpot_ms:g}", "--jitter", "0", "--slots", "8"],
                     health="/health", model="simulated")
        servers, real = [llm], None
        try:
            llm.wait()
            serve = Server("serve (fast + simulated LLM)",
                           ["serve", "fast", "--set", "generator.kind=openai",
                            "--set", f"generator.base_url={llm.url}/v1", "--set", "generator.model=simulated",
                            "--set", "generator.retries=0", "--set", "abstention.enabled=false"],
                           health="/readyz", model="fast")
            servers.append(serve)
            if args.llama != "none":
                real = Server(f"serve-llm ({args.llama})", ["serve-llm", "--model", args.llama, "--threads", "1",
                                                                   "--instances", "2"],
                              health="/health", model=args.llama)
                servers.append(real)
            for s in servers:
                s.wait()
                rows.append(compare(s, items, Path(tmp),
                                    guidellm_requests=args.llama_requests if s is real else args.requests,
                                    mode=args.mode if args.mode != AUTO else SEQUENTIAL if s is real else SIDE_BY_SIDE))
                print(table(rows[-1:]), flush=True)
        finally:
            for s in reversed(servers):
                s.close()
    result = {
        "what": "GuideLLM's streamed chat benchmark vs our runner (ClosedLoopRunner + HttpSender, OpenAI mapping) on "
                "the same servers, same questions, one request at a time each; --mode " + args.mode + " (each row names its design)",
        "guidellm_version": GUIDELLM_VERSION, "percentiles": PERCENTILE_METHOD,
        "simulated_llm": {"ttft_ms": args.ttft_ms, "tpot_ms": args.tpot_ms, "jitter": 0, "simulated": True},
        "requests_each": args.requests, "llama_requests_each": args.llama_requests, "seed": args.seed,
        "definitions": {
            "ttft": "GuideLLM: first content line - request headers sent; ours: first content chunk - request issued",
            "itl (GuideLLM)": "(last token line - first token line) / (usage.completion_tokens - 1)",
            "tpot_ms (ours)": "(end of response - first token) / (usage.completion_tokens - 1)",
            "itl_to_end (GuideLLM, recomputed)": "(request_end - first token line) / (output tokens - 1): our definition",
        },
        "rows": rows,
        "load_avg_before": [round(x, 2) for x in load_before], "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(time.perf_counter() - t0, 1), "python": platform.python_version(),
        "command": " ".join([".venv/bin/python", "bench/bench_guidellm.py", *sys.argv[1:]]),
    }
    print("\n" + table(rows))
    print(f"load average before/after: {result['load_avg_before']} / {result['load_avg_after']}; "
          f"wall {result['wall_s']} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
