"""Isolation audit: a randomized multi-tenant run with cache, memory and tools on, checked for leaks.

Every user's personal data carries a marker (the ``get_secret_code`` tool of :func:`write_marker_plugin`
answers ``SECRET-<tenant>-<user>``), so a leak is visible in any text. :func:`leak_workload` mixes, from
one seed: shared help-centre questions with and without a session, personal questions (the tool, and the
per-user cache layer), follow-ups, anonymous callers, users naming another user's session, and session
ids reused in other tenants. :func:`run_leak_audit` sends them concurrently to an
:class:`~workbench.serving.engine.AsyncEngine` and counts, precisely:

- **marker leaks**: a response (answer or sources) or a stored turn containing a marker other than the
  requester's own (an anonymous requester: any marker);
- **shared-cache leaks**: a hit from a shared layer (``exact``, ``semantic``) whose answer no context-free,
  non-personal miss of the same tenant produced, or that carries any marker; a ``user``-layer hit whose
  answer no personal answer of the same tenant and user produced (a cache hands out only what it was
  given by a request it may serve; an answer that used a session's history must never come back);
- **session leaks**: a request answered on a session that belongs to another user (the owner the store
  holds); a stored turn
  its session's owner did not send to that tenant and session; acknowledged turns missing from the store or
  stored turns never acknowledged; a stored follow-up whose standalone form cannot be reproduced from the
  previous turn of its own session (the context came from elsewhere).

```python
report = await run_leak_audit(engine, leak_workload(1_000, seed=7))
report.leaks        # 0
```
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.serving.schema import ChatRequest, ChatResponse

__all__ = ["LeakReport", "leak_workload", "marker", "run_leak_audit", "write_marker_plugin"]

_MARKER = re.compile(r"SECRET-[A-Za-z0-9_@-]+")  # ids here have no dots: a sentence ends the marker
_PLUGIN = '''"""Marker tool of the isolation audit: each user's secret code names its tenant and user."""

from workbench.tools.spec import tool


@tool(version="1.0", idempotent=True, cacheable=True, cache_ttl_s=300,
      keywords={"en": ("secret code", "security word")}, answer={"en": "Your secret code is {code}."})
def get_secret_code(user: str, tenant: str) -> dict:
    """The customer's secret code."""
    return {"code": f"SECRET-{tenant}-{user}"}
'''
SHARED = ("What is the gold card annual fee?", "How do I report a lost card?", "How long does a transfer take?",
          "How do I reset my password?", "What is the platinum card annual fee?", "Can I get a supplementary card?",
          "What is the credit limit of the classic card?", "How do I activate a new debit card?",
          "what is the gold card annual fee", "What's the interest rate of a time deposit?")
PERSONAL = ("what's my secret code?", "tell me my security word", "what is my secret code", "my secret code please")
FOLLOW_UPS = ("and for the platinum one?", "what about the gold card?", "and its annual fee?", "and for the classic one?")


def marker(tenant: str, user: str) -> str:
    """The marker of ``user`` of ``tenant``."""
    return f"SECRET-{tenant}-{user}"


def write_marker_plugin(folder: str | Path) -> Path:
    """Write the marker tool's plugin file into ``folder`` (use it as ``tools.plugins_dir``)."""
    path = Path(folder) / "secret_code.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_PLUGIN)
    return path


def leak_workload(n: int, *, seed: int = 0, tenants: tuple[str, ...] = ("default", "t2", "t3"),
                  users_per_tenant: int = 6, sessions_per_user: int = 2) -> list[ChatRequest]:
    """``n`` requests from one seed (see the module docstring for the mix)."""
    rng = random.Random(seed)
    people = [(t, f"u{i}") for t in tenants for i in range(users_per_tenant)] + [(t, None) for t in tenants]
    sessions = {(t, u): [f"{t}-{u or 'anon'}-s{k}" for k in range(sessions_per_user)] for t, u in people}
    out: list[ChatRequest] = []
    for _ in range(n):
        tenant, user = rng.choice(people)
        session: str | None = rng.choice(sessions[(tenant, user)]) if rng.random() < 0.6 else None
        kind = rng.random()
        personalized: bool | None = None
        if kind < 0.08:                                    # an intruder: another user's session of this tenant
            victim = rng.choice([p for p in people if p[0] == tenant and p != (tenant, user)])
            session = rng.choice(sessions[victim])
        elif kind < 0.12:                                  # the same session id in another tenant
            other = rng.choice([p for p in people if p[0] != tenant])
            session = rng.choice(sessions[other])
        r = rng.random()
        if r < 0.35:
            question = rng.choice(PERSONAL)
            personalized = rng.choice([None, True, True])
        elif r < 0.55 and session is not None:
            question = rng.choice(FOLLOW_UPS)
        else:
            question = rng.choice(SHARED)
        out.append(ChatRequest(question=question, tenant=tenant, user=user, session=session,
                               personalized=personalized))
    return out


@dataclass
class LeakReport:
    """The audit's counts (see the module docstring); :attr:`leaks` is their sum."""

    requests: int = 0
    answered: int = 0
    refused_intrusions: int = 0
    """Requests on another user's session, refused (404) as they must be."""
    errors: dict[str, int] = field(default_factory=dict)
    """Other refusals by error type (overload, ...): not leaks, but reported."""
    cache_hits: dict[str, int] = field(default_factory=dict)
    tool_answers: int = 0
    followups_rewritten: int = 0
    marker_leaks: int = 0
    shared_cache_leaks: int = 0
    session_leaks: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def leaks(self) -> int:
        """All leaks found."""
        return self.marker_leaks + self.shared_cache_leaks + self.session_leaks

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, with ``leaks``."""
        return {**asdict(self), "leaks": self.leaks}

    def _leak(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 20:
            self.examples.append(f"{kind}: {what}")


def _markers(text: str) -> set[str]:
    return set(_MARKER.findall(text))


async def run_leak_audit(engine: Any, requests: list[ChatRequest], *, concurrency: int = 16) -> LeakReport:
    """Send ``requests`` to ``engine`` (``concurrency`` at a time, in order) and audit responses and store.

    :param engine: an :class:`~workbench.serving.engine.AsyncEngine` with cache, memory and tools on, the
        marker plugin among its tools.
    :param requests: e.g. :func:`leak_workload`.
    :param concurrency: requests in flight.
    :returns: the :class:`LeakReport`.
    """
    from workbench.memory import rewrite_followup
    from workbench.memory.conversation import MemoryView

    report = LeakReport(requests=len(requests))
    results: list[tuple[ChatRequest, ChatResponse | WorkbenchError]] = []  # in order of completion
    queue: asyncio.Queue[ChatRequest] = asyncio.Queue()
    for req in requests:
        queue.put_nowait(req)

    async def client() -> None:
        while not queue.empty():
            req = queue.get_nowait()
            try:
                results.append((req, await engine.handle(req)))
            except WorkbenchError as exc:
                results.append((req, exc))

    await asyncio.gather(*[client() for _ in range(concurrency)])
    await asyncio.sleep(0.2)  # cache stores run after the responses

    store = engine.memory.store
    errors: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    context_free: dict[str, set[str]] = defaultdict(set)             # tenant -> answers of context-free misses
    personal: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    acked: Counter[tuple[str, str]] = Counter()
    sent_by: dict[tuple[str, str, str | None], set[str]] = defaultdict(set)
    owners: dict[tuple[str, str], str | None] = {}                   # as the store says: None is anonymous
    for req, _res in results:
        if req.session is not None and (req.tenant, req.session) not in owners:
            stored = store.owner(req.tenant, req.session)
            owners[(req.tenant, req.session)] = stored or None
    for req, res in results:
        key = (req.tenant, req.session) if req.session is not None else None
        if key is not None:
            sent_by[(req.tenant, req.session, req.user)].add(req.question)  # type: ignore[index]
        if not isinstance(res, ChatResponse):
            if res.type == "session_not_found" and key is not None and owners[key] != req.user:
                report.refused_intrusions += 1
            else:
                errors[res.type] += 1
            continue
        report.answered += 1
        if key is not None:
            acked[key] += 1
            if owners[key] != req.user:
                report._leak("session_leaks", f"{req.user} answered on {key}, owned by {owners[key]}")
        own = {marker(req.tenant, req.user)} if req.user is not None else set()
        text = res.answer + " ".join(s.text for s in res.sources)
        if _markers(text) - own:
            report._leak("marker_leaks", f"{req.tenant}/{req.user} got {sorted(_markers(text) - own)}")
        if res.cache_layer is not None:
            hits[res.cache_layer] += 1
        elif res.tool is not None:
            report.tool_answers += 1
            personal[(req.tenant, req.user)].add(res.answer)
        elif res.memory_turns == 0 and res.degradation_level == 0:
            context_free[req.tenant].add(res.answer)
    for req, res in results:
        if not isinstance(res, ChatResponse) or res.cache_layer is None:
            continue
        if res.cache_layer == "user":
            if res.answer not in personal[(req.tenant, req.user)]:
                report._leak("shared_cache_leaks", f"user-layer hit for {req.tenant}/{req.user}: {res.answer[:60]!r}")
        elif res.answer not in context_free[req.tenant] or _markers(res.answer):
            report._leak("shared_cache_leaks", f"{res.cache_layer} hit for {req.tenant}: {res.answer[:60]!r}")

    for (tenant, session), owner in owners.items():
        turns = store.turns(tenant, session)
        if len(turns) != acked[(tenant, session)]:
            report._leak("session_leaks", f"{tenant}/{session}: {acked[(tenant, session)]} acknowledged, "
                                          f"{len(turns)} stored")
        allowed = {marker(tenant, owner)} if owner is not None else set()
        for prev, turn in zip([None, *turns[:-1]], turns, strict=True):
            if turn.user not in sent_by[(tenant, session, owner)]:
                report._leak("session_leaks", f"{tenant}/{session} holds {turn.user!r}, never sent by its owner")
            if _markers(turn.assistant) - allowed:
                report._leak("marker_leaks", f"{tenant}/{session} stored {sorted(_markers(turn.assistant))}")
            view = MemoryView(tenant, session, (prev,) if prev is not None else (), None, 0, turn.seq - 1)
            expected = rewrite_followup(view, turn.user) if prev is not None else turn.user
            standalone = turn.meta.get("standalone", turn.user)
            report.followups_rewritten += standalone != turn.user
            if standalone != expected:
                report._leak("session_leaks", f"{tenant}/{session} turn {turn.seq}: {standalone!r} is not the "
                                              f"rewrite from its own previous turn ({expected!r})")
    report.errors, report.cache_hits = dict(errors), dict(hits)
    return report
