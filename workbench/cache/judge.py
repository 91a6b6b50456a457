"""The semantic layer's judge tier: between two similarities, a model decides whether two questions ask
for the same answer.

The decision of :class:`~workbench.cache.semantic.SemanticCache`, for a candidate at cosine similarity
``s`` to the query:

- ``s < threshold``: not a candidate;
- ``threshold <= s < accept_above``: the judge decides ("do these two questions ask for the same answer?"),
  after the rules (:class:`~workbench.cache.verifier.RuleVerifier`) when ``rules_in_band`` (a rules refusal
  is final), alone otherwise;
- ``s >= accept_above``: the rules alone decide.

A :class:`PairJudge` is a model behind that question: :class:`LocalJudge` scores a bundled GGUF chat
model's yes/no logits in process (llama.cpp, loaded by
:class:`~workbench.components.LlamaCppGenerator`); :class:`RemoteJudge` asks any OpenAI-compatible chat
model for a one-word reply. :class:`JudgeTier` owns the band, the verdict cache (an in-process LRU keyed
by the pair, and the cache backend, so every worker shares a verdict) and the failure rule: a judge that
fails, or gives no verdict within the tier's ``timeout_s`` (the request path never waits longer), refuses (the
request becomes a miss) and is counted; ``breaker_failures`` failures in a row open a
:class:`~workbench.tools.breaker.CircuitBreaker` (the tools' breaker), so for ``retry_interval_s`` the band's
candidates are refused without asking, then one probe call decides whether it closes again::

    tier = JudgeTier(LocalJudge("qwen2.5-coder-1.5b"), accept_above=0.98)
    sem = SemanticCache(embedder, MemoryBackend(), threshold=0.93, judge=tier)
    tier.stats()        # calls, failures, cached verdicts, latency per call
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from workbench.cache.backends.base import CacheBackend
from workbench.cache.keys import digest
from workbench.cache.steps import Plan
from workbench.config import CacheJudgeConfig
from workbench.errors import ConfigError, GeneratorError, GeneratorTimeoutError
from workbench.percentiles import PERCENTILE_METHOD, percentiles
from workbench.tools.breaker import CircuitBreaker

if TYPE_CHECKING:
    from workbench.components import OpenAICompatibleGenerator
    from workbench.components.generators.verdict import VerdictModel

__all__ = ["JUDGE_INSTRUCTION", "JudgeTier", "LocalJudge", "PairJudge", "RemoteJudge", "judge_messages",
           "parse_verdict"]

_DEFAULTS = CacheJudgeConfig()
log = logging.getLogger("workbench.cache.judge")

#: What the judge is told (the system message): the question, and what makes two answers differ.
JUDGE_INSTRUCTION = (
    "You decide whether two questions from customers can share one cached answer. Say yes only if the same "
    "reply correctly answers both. Say no if they differ in product, tier, amount, period, direction, channel, "
    "place, or if one of them is negated. Answer yes or no."
)

#: Two worked examples per answer, given as earlier turns (the prefix is the same for every pair, so a local
#: model evaluates it once and then only the pair's own tokens).
_EXAMPLES: tuple[tuple[str, str, str], ...] = (
    ("what is the annual fee of the gold card", "gold card yearly fee?", "yes"),
    ("how do i raise my limit", "how do i lower my limit", "no"),
    ("信用卡丢了怎么挂失", "卡丢了怎么办 怎么挂失", "yes"),
    ("三个月定期利率", "一年定期利率", "no"),
)
_YES = re.compile(r"^\W*(yes|y|same|true|是|对|相同)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*((no|n|different|false)\b|否|不)", re.IGNORECASE)


def judge_messages(a: str, b: str) -> list[dict[str, str]]:
    """The chat messages that ask whether questions ``a`` and ``b`` share an answer.

    ```python
    judge_messages("gold card fee", "platinum card fee")[-1]    # {'role': 'user', 'content': 'Q1: ...'}
    ```
    """
    msgs = [{"role": "system", "content": JUDGE_INSTRUCTION}]
    for x, y, verdict in _EXAMPLES:
        msgs += [{"role": "user", "content": f"Q1: {x}\nQ2: {y}"}, {"role": "assistant", "content": verdict}]
    msgs.append({"role": "user", "content": f"Q1: {a}\nQ2: {b}"})
    return msgs


def parse_verdict(reply: str) -> bool:
    """A judge's reply as a verdict.

    :param reply: the model's text (``"yes"``, ``"No."``, ``"是"`` ...).
    :returns: ``True`` for yes, ``False`` for no.
    :raises GeneratorError: the reply is neither (a garbage reply is a failure, never a guess).
    """
    if _YES.match(reply):
        return True
    if _NO.match(reply):
        return False
    raise GeneratorError(f"the judge replied {reply[:60]!r}, neither yes nor no")


@runtime_checkable
class PairJudge(Protocol):
    """A model asked whether two questions ask for the same answer (raises on failure, never guesses)."""

    name: str
    """Identifies the model and its settings: part of every verdict's cache key."""

    def same_answer(self, a: str, b: str) -> bool: ...

    async def asame_answer(self, a: str, b: str) -> bool: ...

    def close(self) -> None: ...


class _Deadline:
    """Runs a blocking call on one worker thread with a timeout (a call that overran is left to finish)."""

    def __init__(self, name: str, timeout_s: float) -> None:
        if not timeout_s > 0:
            raise ConfigError(f"timeout_s must be > 0, got {timeout_s}", field="cache.semantic.judge.timeout_s")
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"wb-judge-{name}")

    def call(self, fn: Callable[[], Any]) -> Any:
        future = self._pool.submit(fn)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()  # still queued behind an overrunning call: never started
            raise GeneratorTimeoutError(f"the judge gave no verdict within {self.timeout_s:g} s") from None

    async def acall(self, fn: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._pool, fn), self.timeout_s)
        except TimeoutError:
            raise GeneratorTimeoutError(f"the judge gave no verdict within {self.timeout_s:g} s") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class LocalJudge:
    """A GGUF chat model in process, scored by its next-token logits: ``log P(yes) - log P(no) >= cutoff``.

    One forward pass per pair (no sampling), and the instruction and examples form a prefix the model
    keeps evaluated between calls, so a call processes only the pair's own tokens. The scores of the last
    ``memo_entries`` pairs are remembered (:meth:`score`), so trying another ``cutoff`` costs nothing.

    :param model: a bundled GGUF chat model (``qwen2.5-coder-1.5b``, ``qwen2.5-coder-0.5b``) or a path.
    :param cutoff: the score at or above which the questions share an answer.
    :param threads: llama.cpp threads.
    :param timeout_s: a score not computed in time raises :class:`GeneratorTimeoutError`.
    :param memo_entries: scores remembered (least recently used go first).
    :raises ConfigError: a non-positive timeout.

    ```python
    judge = LocalJudge("qwen2.5-coder-1.5b")
    judge.score("gold card fee", "whats the yearly fee on the gold card")   # e.g. 4.1
    judge.same_answer("how do i raise my limit", "how do i lower my limit")  # False
    ```
    """

    def __init__(self, model: str = _DEFAULTS.model, *, cutoff: float = _DEFAULTS.cutoff,
                 threads: int = _DEFAULTS.threads, timeout_s: float = _DEFAULTS.timeout_s,
                 context_window: int = 1024, memo_entries: int = _DEFAULTS.lru_entries) -> None:
        self.model = model
        self.cutoff = float(cutoff)
        self.threads = threads
        self.context_window = context_window
        self._deadline = _Deadline("local", timeout_s)
        self._verdict: VerdictModel | None = None
        self._lock = threading.Lock()
        self._scores: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._memo_lock = threading.Lock()
        self.memo_entries = memo_entries

    @property
    def name(self) -> str:
        """``local:{model}@{cutoff}``."""
        return f"local:{self.model}@{self.cutoff:g}"

    def warm_up(self) -> None:
        """Load the model (once).

        :raises ModelNotFoundError: the model is not installed.
        """
        with self._lock:
            if self._verdict is not None:
                return
            from workbench.components.generators.verdict import VerdictModel

            verdict = VerdictModel(self.model, threads=self.threads, context_window=self.context_window,
                                   yes=("yes", "Yes", "是"), no=("no", "No", "否"), purpose="the local judge")
            verdict.warm_up()
            self._verdict = verdict

    def _score_now(self, a: str, b: str) -> float:
        # runs on the judge's one worker thread only: one llama.cpp context, one evaluation at a time
        self.warm_up()
        assert self._verdict is not None
        return self._verdict.score(judge_messages(a, b))

    def _recall(self, key: tuple[str, str]) -> float | None:
        with self._memo_lock:
            found = self._scores.get(key)
            if found is not None:
                self._scores.move_to_end(key)
            return found

    def _keep(self, key: tuple[str, str], score: float) -> float:
        with self._memo_lock:
            self._scores[key] = score
            while len(self._scores) > self.memo_entries:
                self._scores.popitem(last=False)
        return score

    def score(self, a: str, b: str) -> float:
        """``log P(yes) - log P(no)`` for the pair (remembered; the pair is unordered).

        :raises GeneratorTimeoutError: not computed within ``timeout_s``.
        :raises GeneratorError: the model failed.
        """
        key = (a, b) if a <= b else (b, a)
        found = self._recall(key)
        return found if found is not None else self._keep(key, self._deadline.call(partial(self._score_now, *key)))

    async def ascore(self, a: str, b: str) -> float:
        """Async form of :meth:`score` (the model runs on the judge's worker thread)."""
        key = (a, b) if a <= b else (b, a)
        found = self._recall(key)
        if found is not None:
            return found
        return self._keep(key, await self._deadline.acall(partial(self._score_now, *key)))

    def same_answer(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` ask for the same answer (``score >= cutoff``)."""
        return self.score(a, b) >= self.cutoff

    async def asame_answer(self, a: str, b: str) -> bool:
        """Async form of :meth:`same_answer`."""
        return await self.ascore(a, b) >= self.cutoff

    def close(self) -> None:
        """Stop the worker thread."""
        self._deadline.close()

    def __repr__(self) -> str:
        return f"LocalJudge(model={self.model!r}, cutoff={self.cutoff:g})"


class RemoteJudge:
    """Any OpenAI-compatible chat model, asked for a one-word yes/no reply (parsed by :func:`parse_verdict`).

    :param generator: an :class:`~workbench.components.OpenAICompatibleGenerator` with ``chat=True``.
    :param timeout_s: a reply not received in time raises :class:`GeneratorTimeoutError`.

    ```python
    judge = RemoteJudge.from_config(cfg.cache.semantic.judge)     # kind: openai, base_url, model
    ```
    """

    def __init__(self, generator: OpenAICompatibleGenerator, *, timeout_s: float = _DEFAULTS.timeout_s) -> None:
        self.generator = generator
        self.timeout_s = timeout_s
        self._deadline = _Deadline("remote", timeout_s)

    @classmethod
    def from_config(cls, cfg: CacheJudgeConfig) -> RemoteJudge:
        """The remote judge ``cfg`` describes.

        :raises ConfigError: no ``base_url``, or ``api_key_env`` names an unset variable.
        """
        from workbench.components import OpenAICompatibleGenerator

        if not cfg.base_url:
            raise ConfigError("an openai judge needs the server's base_url", field="cache.semantic.judge.base_url")
        key = None
        if cfg.api_key_env:
            key = os.environ.get(cfg.api_key_env)
            if key is None:
                raise ConfigError(f"environment variable {cfg.api_key_env} is not set",
                                  field="cache.semantic.judge.api_key_env")
        gen = OpenAICompatibleGenerator(base_url=cfg.base_url, model=cfg.model, api_key=key, max_tokens=2,
                                        temperature=0.0, timeout_s=cfg.timeout_s, retries=0, stop=["\n"], chat=True)
        return cls(gen, timeout_s=cfg.timeout_s)

    @property
    def name(self) -> str:
        """``openai:{base_url}:{model}``."""
        return f"openai:{self.generator.base_url}:{self.generator.model}"

    def same_answer(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` ask for the same answer.

        :raises GeneratorTimeoutError: no reply within ``timeout_s``.
        :raises GeneratorError: the server failed or replied neither yes nor no.
        """
        out = self._deadline.call(partial(self.generator.run, messages=judge_messages(a, b)))
        return parse_verdict(out["replies"][0])

    async def asame_answer(self, a: str, b: str) -> bool:
        """Async form of :meth:`same_answer` (native asyncio HTTP)."""
        try:
            out = await asyncio.wait_for(self.generator.run_async(messages=judge_messages(a, b)), self.timeout_s)
        except TimeoutError:
            raise GeneratorTimeoutError(f"the judge gave no verdict within {self.timeout_s:g} s") from None
        return parse_verdict(out["replies"][0])

    def close(self) -> None:
        """Close the HTTP client and the worker thread."""
        self.generator.close()
        self._deadline.close()


class JudgeTier:
    """The judge's band, its verdict cache and its failure rule (see the module docstring).

    :param judge: the model.
    :param accept_above: at or above this similarity the judge is not asked.
    :param verdict_ttl_s: how long a verdict lives in the cache backend.
    :param lru_entries: verdicts kept in process.
    :param retry_interval_s: how long the circuit breaker stays open (candidates in the band refused without
        asking) before one probe call is let through; 0: no breaker, every candidate asks.
    :param rules_in_band: the rules still refuse in the band (the judge only sees what they accept); when
        ``False`` the judge alone decides there (it also sees the paraphrases the rules would refuse).
    :param timeout_s: the longest a lookup waits for a verdict (then a refusal, counted as a failure; the
        call itself is left to finish on the tier's worker thread); ``None``: the judge's own deadline only.
    :param breaker_failures: failures in a row that open the breaker.
    :param shared_verdicts: also read and write verdicts in the cache backend (``False``: in process only, as
        an evaluation that counts the judge's calls per setting needs).
    :param clock: seconds (monotonic), for the breaker.
    :raises ConfigError: non-positive sizes or timeout.
    """

    def __init__(self, judge: PairJudge, *, accept_above: float = _DEFAULTS.accept_above,
                 verdict_ttl_s: float = _DEFAULTS.verdict_ttl_s, lru_entries: int = _DEFAULTS.lru_entries,
                 retry_interval_s: float = _DEFAULTS.retry_interval_s, rules_in_band: bool = _DEFAULTS.rules_in_band,
                 timeout_s: float | None = None, breaker_failures: int = 1, shared_verdicts: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if lru_entries < 1 or not verdict_ttl_s > 0 or retry_interval_s < 0 or breaker_failures < 1:
            raise ConfigError("lru_entries, verdict_ttl_s and breaker_failures must be positive, retry_interval_s "
                              ">= 0", field="cache.semantic.judge")
        self.judge = judge
        self.accept_above = accept_above
        self.verdict_ttl_s = verdict_ttl_s
        self.lru_entries = lru_entries
        self.retry_interval_s = retry_interval_s
        self.rules_in_band = rules_in_band
        self.shared_verdicts = shared_verdicts
        self.timeout_s = timeout_s
        self._deadline = _Deadline("tier", timeout_s) if timeout_s is not None else None
        self._clock = clock
        self.breaker = CircuitBreaker(failures=breaker_failures, reset_s=retry_interval_s,
                                      clock_ns=lambda: int(clock() * 1e9)) if retry_interval_s > 0 else None
        """Opens after ``breaker_failures`` failures in a row (``None`` when ``retry_interval_s`` is 0)."""
        self._verdicts: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._lock = threading.Lock()
        self._latencies_ns: list[int] = []
        self.counts = {"asked": 0, "yes": 0, "no": 0, "failures": 0, "skipped": 0, "cached_local": 0,
                       "cached_shared": 0}
        """``asked`` the model, its ``yes``/``no``, ``failures`` (errors, timeouts, garbage), ``skipped``
        (refused without asking: the breaker is open), verdicts found ``cached_local``/``cached_shared``."""

    @classmethod
    def from_config(cls, cfg: CacheJudgeConfig, *, judge: PairJudge | None = None,
                    clock: Callable[[], float] = time.monotonic) -> JudgeTier | None:
        """The tier ``cfg`` describes (``None`` when ``kind`` is ``none`` and no ``judge`` is given)."""
        if judge is None:
            if cfg.kind == "none":
                return None
            judge = (LocalJudge(cfg.model, cutoff=cfg.cutoff, threads=cfg.threads, timeout_s=cfg.timeout_s)
                     if cfg.kind == "local" else RemoteJudge.from_config(cfg))
        return cls(judge, accept_above=cfg.accept_above, verdict_ttl_s=cfg.verdict_ttl_s,
                   lru_entries=cfg.lru_entries, retry_interval_s=cfg.retry_interval_s,
                   rules_in_band=cfg.rules_in_band, timeout_s=cfg.timeout_s, clock=clock)

    def in_band(self, similarity: float) -> bool:
        """Whether a candidate at ``similarity`` (already at or above the threshold) is the judge's to decide."""
        return similarity < self.accept_above

    @staticmethod
    def _pair(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)

    def verdict_key(self, prefix: str, a: str, b: str) -> str:
        """The backend key of the verdict on a pair (unordered; the judge's name is part of it)."""
        return f"{prefix}:judge:{digest(self.judge.name, *self._pair(a, b))}"

    def _remember(self, pair: tuple[str, str], verdict: bool) -> None:
        with self._lock:
            self._verdicts[pair] = verdict
            self._verdicts.move_to_end(pair)
            while len(self._verdicts) > self.lru_entries:
                self._verdicts.popitem(last=False)

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def _timed(self, t0: int, verdict: bool | None, error: BaseException | None = None) -> bool | None:
        with self._lock:
            self._latencies_ns.append(time.perf_counter_ns() - t0)
            if len(self._latencies_ns) > 10_000:
                del self._latencies_ns[:5_000]
            self.counts["failures" if verdict is None else "yes" if verdict else "no"] += 1
        if self.breaker is None:
            if verdict is None:
                log.warning("cache judge %s failed (%s: %s)", self.judge.name, type(error).__name__, error)
            return verdict
        if verdict is not None:
            self.breaker.record_success()
            return verdict
        opened = self.breaker.opened_count
        self.breaker.record_failure()
        if self.breaker.opened_count > opened:
            log.warning("cache judge %s failed (%s: %s); its candidates are refused for %g s",
                        self.judge.name, type(error).__name__, error, self.retry_interval_s)
        return None

    def _ask(self, a: str, b: str) -> bool | None:
        t0 = time.perf_counter_ns()
        try:
            call = partial(self.judge.same_answer, a, b)
            return self._timed(t0, bool(call() if self._deadline is None else self._deadline.call(call)))
        except Exception as exc:  # a failing judge must never break a lookup: it refuses
            return self._timed(t0, None, exc)

    async def _aask(self, a: str, b: str) -> bool | None:
        t0 = time.perf_counter_ns()
        try:
            pending = self.judge.asame_answer(a, b)
            if self.timeout_s is None:
                return self._timed(t0, bool(await pending))
            try:
                return self._timed(t0, bool(await asyncio.wait_for(pending, self.timeout_s)))
            except TimeoutError:
                raise GeneratorTimeoutError(f"the judge gave no verdict within {self.timeout_s:g} s") from None
        except Exception as exc:  # see _ask
            return self._timed(t0, None, exc)

    def plan_verdict(self, backend: CacheBackend, prefix: str, query: str, candidate: str) -> Plan[bool | None]:
        """Plan: the verdict on a pair: the in-process LRU, else the backend, else the judge (then stored).

        Returns ``None`` when the judge failed, timed out or its breaker is open (the caller refuses).
        """
        pair = self._pair(query, candidate)
        with self._lock:
            known = self._verdicts.get(pair)
            if known is not None:
                self._verdicts.move_to_end(pair)
        if known is not None:
            self._count("cached_local")
            return known
        key = self.verdict_key(prefix, query, candidate)
        if self.shared_verdicts:
            blob = yield (backend.get, backend.aget, (key,))
            if blob in (b"1", b"0"):
                self._count("cached_shared")
                self._remember(pair, blob == b"1")
                return blob == b"1"
        if self.breaker is not None and not self.breaker.allow():
            self._count("skipped")
            return None
        self._count("asked")
        verdict: bool | None = yield (self._ask, self._aask, pair)
        if verdict is None:
            return None
        self._remember(pair, verdict)
        if self.shared_verdicts:
            yield (backend.set, backend.aset, (key, b"1" if verdict else b"0", self.verdict_ttl_s))
        return verdict

    def stats(self) -> dict[str, Any]:
        """The counters and the latency of the calls that reached the model (ms: mean, p50, p95)."""
        with self._lock:
            lat = [x / 1e6 for x in self._latencies_ns]
            return {"judge": self.judge.name, "accept_above": self.accept_above, "rules_in_band": self.rules_in_band,
                    "timeout_s": self.timeout_s, "breaker": self.breaker.state if self.breaker is not None else None,
                    **self.counts,
                    "verdicts_in_process": len(self._verdicts),
                    "latency_ms": {"mean": sum(lat) / len(lat) if lat else math.nan, **percentiles(lat, (50, 95)),
                                   "method": PERCENTILE_METHOD}}

    def close(self) -> None:
        """Close the judge (its worker thread, its HTTP client) and the tier's worker thread."""
        self.judge.close()
        if self._deadline is not None:
            self._deadline.close()

    def __repr__(self) -> str:
        return f"JudgeTier({self.judge.name!r}, accept_above={self.accept_above})"
