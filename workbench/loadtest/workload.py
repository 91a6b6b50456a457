"""Seeded request streams drawn from the project's dataset: the traffic shape of a bank's help app.

Each request's intent follows a Zipf law over the dataset's intents (the popularity ranking and
probabilities come from :class:`workbench.evaluation.streams.ZipfSampler`, the same law the cache
benchmarks use); a share is worded as a paraphrase of the intent, a share is a personalized question
(about the customer's own data, with its user), and a share starts a multi-turn conversation whose
follow-ups arrive interleaved with other traffic under one session id. Tenants and users are drawn
per request. The same spec and seed give the same stream.

```python
wl = Workload(WorkloadSpec(zipf_s=1.1, paraphrase_share=0.3, personalized_share=0.05, seed=7))
items = wl.items(1000)               # [WorkItem(index, request=ChatRequest(...), intent, kind, turn)]
wl.save_items(items, "workload.jsonl")
```
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.datasets import BankDataset, Conversation, load_dataset
from workbench.errors import ConfigError, DatasetError
from workbench.evaluation.streams import ZipfSampler
from workbench.serving.schema import ChatRequest

__all__ = ["ItemKind", "WorkItem", "Workload", "WorkloadSpec"]

ItemKind = Literal["question", "paraphrase", "personalized", "turn"]


class WorkloadSpec(BaseModel):
    """Everything that shapes a request stream (saved in every result's manifest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = "meridian_bank"
    seed: int = 0
    zipf_s: float = Field(1.1, gt=0)
    """Zipf exponent over intents (rank r has weight 1/r^s): higher = a few hot questions dominate."""
    paraphrase_share: float = Field(0.3, ge=0, le=1)
    """Share of shared-knowledge requests worded as a paraphrase (when the intent has paraphrases)."""
    personalized_share: float = Field(0.05, ge=0, le=1)
    """Share of requests that ask about the customer's own data (``personalized=True``)."""
    session_share: float = Field(0.05, ge=0, le=1)
    """Share of draws that start a multi-turn conversation (its follow-ups come later, same session)."""
    stream_share: float = Field(0.0, ge=0, le=1)
    """Share of requests that ask for a streamed answer."""
    languages: tuple[str, ...] = ("en", "zh")
    tenants: tuple[str, ...] = ("default",)
    tenant_weights: tuple[float, ...] | None = None
    users_per_tenant: int = Field(1000, ge=1)

    @model_validator(mode="after")
    def _check(self) -> WorkloadSpec:
        if not self.tenants:
            raise ValueError("tenants must name at least one tenant")
        if self.tenant_weights is not None and len(self.tenant_weights) != len(self.tenants):
            raise ValueError("tenant_weights needs one weight per tenant")
        if self.personalized_share + self.session_share > 1:
            raise ValueError("personalized_share + session_share must be <= 1")
        return self


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One request of a workload, with what the dataset knows about it."""

    index: int
    request: ChatRequest
    intent: str
    kind: ItemKind
    turn: int = 0
    """0 for single questions and a conversation's first turn; 1, 2, ... for follow-ups."""
    references: tuple[str, ...] | None = None
    """The dataset's gold answers to this request (its question's, or its intent's in its language for a
    paraphrase); ``None``: not known, the answer is not scored."""

    def to_dict(self) -> dict[str, Any]:
        d = {"index": self.index, "request": self.request.model_dump(exclude_none=True), "intent": self.intent,
             "kind": self.kind, "turn": self.turn}
        if self.references is not None:
            d["references"] = list(self.references)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkItem:
        refs = d.get("references")
        return cls(int(d["index"]), ChatRequest.model_validate(d["request"]), str(d["intent"]), d["kind"],
                   int(d.get("turn", 0)), tuple(refs) if refs is not None else None)


class Workload:
    """A reproducible request stream built from a :class:`WorkloadSpec` over a dataset.

    ```python
    Workload(WorkloadSpec(seed=1)).items(5)[0].request.question
    ```
    """

    def __init__(self, spec: WorkloadSpec | None = None, *, dataset: BankDataset | None = None) -> None:
        self.spec = spec or WorkloadSpec()
        ds = dataset or load_dataset(self.spec.dataset)
        langs = set(self.spec.languages)
        questions: dict[str, list[str]] = {}
        #: gold answers by question text, and by (intent, language) for paraphrases
        self._gold: dict[str, tuple[str, ...]] = {}
        self._intent_gold: dict[tuple[str, str], tuple[str, ...]] = {}
        for q in ds.questions:
            if q.lang in langs:
                questions.setdefault(q.intent, []).append(q.question)
                self._gold[q.question] = q.answers
                key = (q.intent, q.lang)
                self._intent_gold[key] = tuple(dict.fromkeys((*self._intent_gold.get(key, ()), *q.answers)))
        if not questions:
            raise DatasetError(f"no questions in languages {sorted(langs)}", path=self.spec.dataset,
                               field="languages")
        self._sampler = ZipfSampler(questions, s=self.spec.zipf_s, seed=self.spec.seed)
        self._paraphrases: dict[str, list[str]] = {}
        for g in ds.paraphrases:
            if g.lang in langs:
                self._paraphrases.setdefault(g.intent, []).extend(g.paraphrases)
                for text in g.paraphrases:
                    if (g.intent, g.lang) in self._intent_gold:
                        self._gold.setdefault(text, self._intent_gold[(g.intent, g.lang)])
        self._personal = [p for p in ds.personalized if p.lang in langs]
        self._conversations: list[Conversation] = [c for c in ds.conversations if c.lang in langs]
        if self.spec.personalized_share and not self._personal:
            raise ConfigError("personalized_share > 0 but the dataset has no personalized questions in these "
                              "languages", field="workload.personalized_share")
        if self.spec.session_share and not self._conversations:
            raise ConfigError("session_share > 0 but the dataset has no conversations in these languages",
                              field="workload.session_share")
        w = np.asarray(self.spec.tenant_weights or [1.0] * len(self.spec.tenants), dtype=np.float64)
        self._tenant_p = w / w.sum()

    def __repr__(self) -> str:
        return f"Workload({self.spec!r})"

    @property
    def intents(self) -> list[str]:
        """Intents by popularity rank (most popular first)."""
        return list(self._sampler.intents)

    @property
    def intent_probabilities(self) -> np.ndarray:
        """Zipf probability of each intent in :attr:`intents`."""
        return self._sampler.probabilities

    def items(self, n: int) -> list[WorkItem]:
        """The first ``n`` items of the stream (the same for the same spec)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        it = self.iter_items()
        return [next(it) for _ in range(n)]

    def iter_items(self) -> Iterator[WorkItem]:
        """The endless stream (closed-loop runners draw from it as long as they run)."""
        spec = self.spec
        rng = np.random.default_rng([spec.seed, 0x10AD])
        active: deque[tuple[str, str, str, Conversation, int]] = deque()
        index = 0
        session_no = 0
        chunk = 4096
        while True:
            ranks = rng.choice(len(self._sampler.intents), size=chunk, p=self._sampler.probabilities)
            u = rng.random((chunk, 6))
            tenants = rng.choice(len(spec.tenants), size=chunk, p=self._tenant_p)
            users = rng.integers(0, spec.users_per_tenant, size=chunk)
            for k in range(chunk):
                tenant = spec.tenants[int(tenants[k])]
                user = f"u{int(users[k]):05d}"
                stream = bool(u[k, 5] < spec.stream_share)
                # a pending follow-up of an open conversation goes first half of the time
                if active and u[k, 0] < 0.5:
                    tenant_c, user_c, session, conv, turn = active.popleft()
                    t = conv.turns[turn]
                    req = ChatRequest(question=t.question, tenant=tenant_c, user=user_c, session=session,
                                      stream=stream)
                    if turn + 1 < len(conv.turns):
                        active.append((tenant_c, user_c, session, conv, turn + 1))
                    yield WorkItem(index, req, t.intent, "turn", turn, t.answers)
                    index += 1
                    continue
                draw = u[k, 1]
                if draw < spec.personalized_share:
                    p = self._personal[int(u[k, 2] * len(self._personal)) % len(self._personal)]
                    req = ChatRequest(question=p.question, tenant=p.tenant, user=p.user, personalized=True,
                                      stream=stream)
                    yield WorkItem(index, req, p.intent, "personalized", references=p.answers)
                elif draw < spec.personalized_share + spec.session_share:
                    conv = self._conversations[int(u[k, 2] * len(self._conversations)) % len(self._conversations)]
                    session_no += 1
                    session = f"s{spec.seed}-{session_no}"
                    req = ChatRequest(question=conv.turns[0].question, tenant=tenant, user=user, session=session,
                                      stream=stream)
                    active.append((tenant, user, session, conv, 1))
                    yield WorkItem(index, req, conv.turns[0].intent, "turn", 0, conv.turns[0].answers)
                else:
                    intent = self._sampler.intents[int(ranks[k])]
                    paras = self._paraphrases.get(intent)
                    if paras and u[k, 3] < spec.paraphrase_share:
                        text, kind = paras[int(u[k, 4] * len(paras)) % len(paras)], "paraphrase"
                    else:
                        texts = self._sampler.texts[int(ranks[k])]
                        text, kind = texts[int(u[k, 4] * len(texts)) % len(texts)], "question"
                    req = ChatRequest(question=text, tenant=tenant, user=user, stream=stream)
                    yield WorkItem(index, req, intent, kind, references=self._gold.get(text))  # type: ignore[arg-type]
                index += 1

    # -- files (the locustfile reads these) ----------------------------------------------------
    @staticmethod
    def save_items(items: Sequence[WorkItem], path: str | Path) -> Path:
        """Write items as JSON lines."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("w", encoding="utf-8") as f:
            for it in items:
                f.write(json.dumps(it.to_dict(), ensure_ascii=False) + "\n")
        return p

    @staticmethod
    def load_items(path: str | Path) -> list[WorkItem]:
        """Read items written by :meth:`save_items`."""
        p = Path(path)
        if not p.is_file():
            raise DatasetError("workload file does not exist; write one with Workload.save_items", path=str(p))
        out = []
        with p.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        out.append(WorkItem.from_dict(json.loads(line)))
                    except (ValueError, KeyError) as exc:
                        raise DatasetError(f"bad workload line: {exc}", path=str(p), line=line_no) from None
        return out
