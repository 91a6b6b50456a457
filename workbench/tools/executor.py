"""Run tool calls safely: policy, schema validation, snapshot cache, circuit breaker, concurrency limit,
timeout, retries for idempotent tools, and an audit record for every call or refusal.

```python
executor = ToolExecutor(registry, ToolPolicy({"bank": ("*",)}), audit=SQLiteAuditLog("audit.sqlite3"),
                        timeout_s=2.0, breaker_failures=5, breaker_reset_s=30, max_concurrency=8)
result = await executor.acall("bank", "u001", "get_bill", {"month": "2026-05"})
result.output, result.latency_ms, result.cached
```
Sync tools run in a thread pool per tool (a bulkhead: a hung tool can only tie up its own
``max_concurrency`` threads; calls beyond that fail fast with :class:`ToolBusyError`). A timed-out
call keeps its slot until its thread really returns, so a hanging tool cannot pile up threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.tools.audit import AuditLog, AuditRecord, InMemoryAuditLog, hash_arguments
from workbench.tools.breaker import Breaker, CircuitBreaker
from workbench.tools.errors import (
    CircuitOpenError,
    ToolArgumentError,
    ToolBusyError,
    ToolDeniedError,
    ToolError,
    ToolFailedError,
    ToolInputError,
    ToolNotFoundError,
    ToolTimeoutError,
)
from workbench.tools.policy import ToolPolicy
from workbench.tools.registry import ToolRegistry
from workbench.tools.snapshot import SnapshotCache
from workbench.tools.spec import ToolSpec

__all__ = ["ToolExecutor", "ToolResult"]


@dataclass(frozen=True)
class ToolResult:
    """A successful tool call."""

    tool: str
    version: str
    arguments: dict[str, Any]
    output: Any
    latency_ms: float
    attempts: int = 1
    cached: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


class _Slots:
    """A non-blocking counter of in-flight calls per tool."""

    def __init__(self, limit: int) -> None:
        self.limit, self.in_flight = limit, 0
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self.in_flight >= self.limit:
                return False
            self.in_flight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1


class ToolExecutor:
    """Executes registered tools under policy, limits and audit (see the module docstring)."""

    def __init__(self, registry: ToolRegistry, policy: ToolPolicy, *, audit: AuditLog | None = None,
                 timeout_s: float = 2.0, breaker_failures: int = 5, breaker_reset_s: float = 30.0,
                 max_concurrency: int = 8, retries: int = 1, snapshot_cache: SnapshotCache | None = None,
                 clock_ns: Callable[[], int] = time.perf_counter_ns,
                 breaker_factory: Callable[[str], Breaker] | None = None) -> None:
        if timeout_s <= 0 or max_concurrency < 1 or retries < 0:
            raise ValueError("timeout_s must be > 0, max_concurrency >= 1, retries >= 0")
        self.registry, self.policy = registry, policy
        self.audit: AuditLog = audit if audit is not None else InMemoryAuditLog()
        self.timeout_s, self.max_concurrency, self.retries = timeout_s, max_concurrency, retries
        self.breaker_failures, self.breaker_reset_s = breaker_failures, breaker_reset_s
        self.snapshot_cache = snapshot_cache
        self._clock_ns = clock_ns
        self._breaker_factory = breaker_factory
        self._breakers: dict[str, Breaker] = {}
        self._slots: dict[str, _Slots] = {}
        self._pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    # -- per-tool state ----------------------------------------------------------------------------
    def breaker(self, tool: str) -> Breaker:
        """The circuit breaker of ``tool`` (created on first use: ``breaker_factory(tool)`` when given, e.g. a
        :class:`~workbench.tools.breaker.SharedCircuitBreaker`, else a per-process one)."""
        with self._lock:
            b = self._breakers.get(tool)
            if b is None:
                b = self._breakers[tool] = self._breaker_factory(tool) if self._breaker_factory is not None else \
                    CircuitBreaker(failures=self.breaker_failures, reset_s=self.breaker_reset_s,
                                   clock_ns=self._clock_ns)
            return b

    def _slot(self, tool: str) -> _Slots:
        with self._lock:
            return self._slots.setdefault(tool, _Slots(self.max_concurrency))

    def _pool(self, tool: str) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            pool = self._pools.get(tool)
            if pool is None:
                pool = self._pools[tool] = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.max_concurrency, thread_name_prefix=f"tool-{tool}")
            return pool

    # -- calls -------------------------------------------------------------------------------------
    async def acall(self, tenant: str, user: str, name: str, arguments: dict[str, Any] | None = None, *,
                    version: str | None = None) -> ToolResult:
        """Call a tool for ``user`` of ``tenant``; raises a :class:`ToolError` or :class:`ToolArgumentError`."""
        start = time.perf_counter_ns()
        args = dict(arguments or {})

        def audit(status: str, spec_version: str = "?", error: str | None = None) -> None:
            self.audit.record(AuditRecord.of(user=user, tenant=tenant, tool=name, version=spec_version,
                                             arguments=args, status=status,
                                             latency_ms=(time.perf_counter_ns() - start) / 1e6, error=error))

        try:
            spec = self.registry.get(name, version)
        except ToolNotFoundError as exc:
            audit("not_found", version or "?", str(exc))
            raise
        try:
            self.policy.check(tenant, spec)
        except ToolDeniedError as exc:
            audit("denied", spec.version, str(exc))
            raise
        try:
            args = spec.validate(args)
        except ToolArgumentError as exc:
            audit("invalid", spec.version, str(exc))
            raise
        cache_key = f"{spec.name}:{spec.version}:{hash_arguments(args)}"
        if spec.cacheable and self.snapshot_cache is not None:
            hit = self.snapshot_cache.get(tenant, user, cache_key)
            if hit is not None:
                audit("cached", spec.version)
                return ToolResult(spec.name, spec.version, args, hit, (time.perf_counter_ns() - start) / 1e6,
                                  attempts=0, cached=True)
        context = {"user": user, "tenant": tenant}
        kwargs = {**args, **{k: context[k] for k in spec.context}}
        attempts = 0
        max_attempts = 1 + (self.retries if spec.idempotent else 0)
        while True:
            attempts += 1
            try:
                output = await self._attempt(spec, kwargs)
            except ToolInputError as exc:
                audit("invalid", spec.version, str(exc))
                raise
            except (ToolTimeoutError, ToolFailedError) as exc:
                if attempts < max_attempts and self.breaker(spec.name).state == "closed":
                    continue
                audit("timeout" if isinstance(exc, ToolTimeoutError) else "error", spec.version, str(exc))
                raise
            except ToolBusyError as exc:
                audit("busy", spec.version, str(exc))
                raise
            except CircuitOpenError as exc:
                audit("circuit_open", spec.version, str(exc))
                raise
            break
        if spec.cacheable and self.snapshot_cache is not None:
            self.snapshot_cache.set(tenant, user, cache_key, output, spec.cache_ttl_s)
        audit("ok", spec.version)
        return ToolResult(spec.name, spec.version, args, output, (time.perf_counter_ns() - start) / 1e6,
                          attempts=attempts)

    async def _attempt(self, spec: ToolSpec, kwargs: dict[str, Any]) -> Any:
        breaker = self.breaker(spec.name)
        if not breaker.allow():
            raise CircuitOpenError(f"tool {spec.name!r} is failing; its circuit is open",
                                   retry_after=breaker.retry_after_s())
        slots = self._slot(spec.name)
        if not slots.try_acquire():
            breaker.release_probe()
            raise ToolBusyError(f"tool {spec.name!r} already runs {self.max_concurrency} calls (tools.max_concurrency)")
        try:
            if spec.is_async:
                task = asyncio.ensure_future(spec.fn(**kwargs))
                task.add_done_callback(lambda _t: slots.release())
                fut: Any = task
            else:
                cf = self._pool(spec.name).submit(spec.fn, **kwargs)
                cf.add_done_callback(lambda _f: slots.release())
                fut = asyncio.wrap_future(cf)
        except BaseException:
            slots.release()
            raise
        try:
            output = await asyncio.wait_for(asyncio.shield(fut), timeout=self.timeout_s)
        except TimeoutError:
            if spec.is_async:
                fut.cancel()
            breaker.record_failure()
            raise ToolTimeoutError(f"tool {spec.name!r} did not answer within {self.timeout_s:g} s "
                                   "(tools.timeout_s)") from None
        except ToolInputError:
            breaker.record_success()           # the tool works; the input referred to nothing
            raise
        except ToolError:
            breaker.record_failure()
            raise
        except Exception as exc:
            breaker.record_failure()
            raise ToolFailedError(f"tool {spec.name!r} failed: {type(exc).__name__}: {exc}") from exc
        breaker.record_success()
        return output

    def call(self, tenant: str, user: str, name: str, arguments: dict[str, Any] | None = None, *,
             version: str | None = None) -> ToolResult:
        """Sync :meth:`acall` (works inside a running event loop too, via a helper thread)."""
        coro_fn = lambda: self.acall(tenant, user, name, arguments, version=version)  # noqa: E731
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro_fn())
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as ex:
            return ex.submit(lambda: asyncio.run(coro_fn())).result()

    def close(self) -> None:
        """Shut the tool thread pools down (running calls finish in the background)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for p in pools:
            p.shutdown(wait=False, cancel_futures=True)

