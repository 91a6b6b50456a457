"""Honest cache-quality evaluation: the paraphrase and near-miss sets split into a tuning half and a test half
fixed by seed; the semantic layer's setting is picked on the tuning half only, and every reported wrong-hit
rate comes from the test half, with a Wilson 95% interval.

A *group* is the unit of the split: a paraphrase group (the cache stores its first paraphrase and is asked
the others; its id is its intent, so the English and Chinese groups of one intent, which are translations,
fall in the same half) or a near-miss pair (the cache stores ``a`` and is asked ``b``; its id is the pair's
id). The half of a group is a stable hash of its id and the seed (:func:`split_of`), so adding groups
never moves the others. Each half is its own world: the cache holds only that half's stored questions.

The picker cannot read the test half: :func:`pick_setting` takes a :class:`TuningHalf` and refuses
anything else, and a :class:`TuningHalf` holds tuning groups only (its constructor checks each one)::

    tuning, test = load_truth_split()
    choice = pick_setting(tuning, embedder)                 # a TestHalf here raises ConfigError
    report = evaluate_setting(test, embedder, choice.setting)
    report.wrong_hit_rate, report.wrong_hit_ci, report.paraphrases_served
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from workbench.cache.judge import JudgeTier, LocalJudge, judge_messages
from workbench.cache.keys import digest
from workbench.cache.normalizer import QueryNormalizer
from workbench.cache.semantic import REFUSAL_MARGIN
from workbench.cache.verifier import HitVerifier
from workbench.config import SemanticCacheConfig
from workbench.datasets import dataset_dir, load_dataset
from workbench.datasets.jsonl import read_records
from workbench.datasets.schema import NearMissPair, ParaphraseGroup
from workbench.errors import ConfigError, InputError
from workbench.evaluation.cache_quality import ProbeQuery, SemanticProbe

__all__ = [
    "TRUTH_SEED",
    "CacheSetting",
    "RecordedJudge",
    "TestHalf",
    "TruthChoice",
    "TruthGroup",
    "TruthProbe",
    "TruthResult",
    "TuningHalf",
    "evaluate_setting",
    "load_truth_split",
    "pick_setting",
    "split_of",
    "truth_groups",
    "wilson_interval",
]

#: The seed of the tuning/test split (fixed: changing it re-draws both halves).
TRUTH_SEED = 20261201
_Z95 = 1.959963984540054
_DEFAULTS = SemanticCacheConfig()
Split = Literal["tuning", "test"]


def split_of(group_id: str, seed: int = TRUTH_SEED) -> Split:
    """The half of a group: the low bit of ``sha256(f"{seed}:{group_id}")``.

    ```python
    split_of("cards.gold.annual_fee")        # 'tuning' or 'test', the same on every machine and run
    ```
    """
    return "tuning" if hashlib.sha256(f"{seed}:{group_id}".encode()).digest()[0] % 2 == 0 else "test"


def wilson_interval(k: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (95% by default); ``(0, 1)`` when ``n`` is 0.

    ```python
    wilson_interval(0, 400)       # (0.0, 0.0095): zero wrong in 400 hits still allows up to 0.95%
    ```
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise InputError(f"a proportion needs 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class TruthGroup:
    """One unit of the split (see the module docstring)."""

    group_id: str
    kind: Literal["paraphrase", "near_miss"]
    lang: str
    stored: tuple[tuple[str, str], ...]
    """``(text, intent)`` the cache holds."""
    asked: tuple[tuple[str, str], ...]
    """``(text, true intent)`` the cache is asked."""
    fresh: bool
    """Written without the verifier's lexicon in view (``source/cache_truth``)."""
    near_miss_kind: str | None = None


class _Half:
    split: ClassVar[Split]

    def __init__(self, groups: Iterable[TruthGroup], *, seed: int = TRUTH_SEED) -> None:
        self.groups = tuple(groups)
        self.seed = seed
        wrong = [g.group_id for g in self.groups if split_of(g.group_id, seed) != self.split]
        if wrong:
            raise InputError(f"{type(self).__name__} takes {self.split} groups only; {wrong[:3]} belong to the other "
                             "half (build the halves with load_truth_split)")

    def fresh(self) -> _Half:
        """The same half restricted to the groups written without the lexicon in view."""
        return type(self)((g for g in self.groups if g.fresh), seed=self.seed)

    def counts(self) -> dict[str, int]:
        """Groups and questions by kind."""
        par = [g for g in self.groups if g.kind == "paraphrase"]
        nm = [g for g in self.groups if g.kind == "near_miss"]
        return {"paraphrase_groups": len(par), "paraphrase_queries": sum(len(g.asked) for g in par),
                "near_miss_pairs": len(nm), "fresh_groups": sum(g.fresh for g in self.groups)}

    def __len__(self) -> int:
        return len(self.groups)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(groups={len(self.groups)}, seed={self.seed})"


class TuningHalf(_Half):
    """The groups a setting may be picked on."""

    split = "tuning"


class TestHalf(_Half):
    """The groups every reported number comes from (never given to :func:`pick_setting`)."""

    split = "test"
    __test__ = False  # not a pytest test class


def _fresh_keys(root: Path) -> tuple[set[tuple[str, str]], set[str]]:
    part = root / "source" / "cache_truth"
    groups = {(g.intent, g.lang) for g in read_records(part / "paraphrases.jsonl", ParaphraseGroup)} \
        if (part / "paraphrases.jsonl").is_file() else set()
    pairs = {p.id for p in read_records(part / "near_misses.jsonl", NearMissPair)} \
        if (part / "near_misses.jsonl").is_file() else set()
    return groups, pairs


def truth_groups(dataset: str = "meridian_bank", *, normalizer: QueryNormalizer | None = None) -> list[TruthGroup]:
    """Every paraphrase group and near-miss pair of ``dataset``, normalized, as groups of the split.

    Paraphrase groups that share an intent (the two languages) become one group: its first paraphrase of
    each language is stored, the others are asked.
    """
    norm = normalizer or QueryNormalizer()
    ds = load_dataset(dataset)
    fresh_groups, fresh_pairs = _fresh_keys(dataset_dir(dataset))
    by_intent: dict[str, list[ParaphraseGroup]] = {}
    for g in ds.paraphrases:
        by_intent.setdefault(g.intent, []).append(g)
    out: list[TruthGroup] = []
    for intent, groups in sorted(by_intent.items()):
        stored = tuple((norm(g.paraphrases[0]), intent) for g in groups)
        asked = tuple((norm(p), intent) for g in groups for p in g.paraphrases[1:])
        out.append(TruthGroup(intent, "paraphrase", "+".join(sorted({g.lang for g in groups})), stored, asked,
                              fresh=all((g.intent, g.lang) in fresh_groups for g in groups)))
    for p in ds.near_misses:
        out.append(TruthGroup(p.id, "near_miss", p.lang, ((norm(p.a), p.intent_a),), ((norm(p.b), p.intent_b),),
                              fresh=p.id in fresh_pairs, near_miss_kind=p.kind))
    return out


def load_truth_split(dataset: str = "meridian_bank", *, seed: int = TRUTH_SEED) -> tuple[TuningHalf, TestHalf]:
    """The tuning half and the test half of ``dataset``'s cache-quality groups (fixed by ``seed``)."""
    groups = truth_groups(dataset)
    return (TuningHalf((g for g in groups if split_of(g.group_id, seed) == "tuning"), seed=seed),
            TestHalf((g for g in groups if split_of(g.group_id, seed) == "test"), seed=seed))


@dataclass(frozen=True)
class CacheSetting:
    """What the semantic layer decides with (the ``cache.semantic`` fields a picker may choose)."""

    threshold: float = _DEFAULTS.threshold
    refusal_margin: float = REFUSAL_MARGIN
    accept_above: float | None = None
    """The judge's upper bound (``None``: no judge, the rules alone decide)."""
    cutoff: float = _DEFAULTS.judge.cutoff
    """The local judge's score cutoff."""
    rules_in_band: bool = _DEFAULTS.judge.rules_in_band
    """The rules still refuse inside the judge's band (``False``: the judge alone decides there)."""

    @property
    def label(self) -> str:
        """``t=0.96 m=0.02``, ``t=0.93 m=0.02 judge<0.97 c=1.0`` or ``... c=1.0 alone`` (no rules in the band)."""
        base = f"t={self.threshold:.2f} m={self.refusal_margin:.2f}"
        if self.accept_above is None:
            return base
        return f"{base} judge<{self.accept_above:.2f} c={self.cutoff:g}" + ("" if self.rules_in_band else " alone")


@dataclass(frozen=True)
class TruthResult:
    """A setting's outcome on one half."""

    setting: CacheSetting
    half: Split
    paraphrase_queries: int
    near_miss_queries: int
    hits: int
    wrong_hits: int
    misses: int
    paraphrases_served: int
    """Paraphrase queries served their own intent's answer."""
    near_misses_served_wrong: int
    wrong_hit_rate: float
    """Wrong hits / hits (0 without hits)."""
    wrong_hit_ci: tuple[float, float]
    """Wilson 95% interval of the wrong-hit rate."""
    paraphrase_served_rate: float
    """Paraphrases served their own answer / paraphrase queries."""
    judge: dict[str, Any] = field(default_factory=dict)
    """The judge tier's counters for this run (empty without a judge)."""

    @property
    def judge_calls_per_lookup(self) -> float:
        """Calls that reached the judge per query (verdicts found in the tier's own cache are not calls)."""
        queries = self.paraphrase_queries + self.near_miss_queries
        return self.judge.get("asked", 0) / queries if queries else 0.0

    def meets(self, target_wrong_hit_rate: float = 0.01, min_served: float = 0.60) -> bool:
        """Whether the upper end of the wrong-hit interval is at most the target and enough paraphrases are served."""
        return self.wrong_hit_ci[1] <= target_wrong_hit_rate and self.paraphrase_served_rate >= min_served

    def to_record(self) -> dict[str, Any]:
        """A flat dict (for a DataFrame or JSON)."""
        d = asdict(self)
        d.update(setting=self.setting.label, **{f"setting_{k}": v for k, v in asdict(self.setting).items()})
        d["wrong_hit_ci_low"], d["wrong_hit_ci_high"] = self.wrong_hit_ci
        del d["wrong_hit_ci"]
        d["judge_calls_per_lookup"] = self.judge_calls_per_lookup
        return d


class RecordedJudge:
    """A :class:`~workbench.cache.LocalJudge` whose scores are kept in a JSON file (evaluation re-runs cost nothing).

    The file records the model and a digest of the judge's instruction and examples; a file written for
    another model or prompt is ignored. ``cutoff`` turns a score into a verdict, as the local judge does.
    """

    def __init__(self, judge: LocalJudge, path: str | Path | None = None, *, cutoff: float = 0.0) -> None:
        self.judge = judge
        self.cutoff = cutoff
        self.path = Path(path) if path is not None else None
        self.prompt = digest(json.dumps(judge_messages("{a}", "{b}"), ensure_ascii=False), size=16)
        self.scores: dict[str, float] = {}
        self.computed = 0
        self.latencies_ms: list[float] = []
        """Wall time of each score computed by the model in this process (recorded ones cost nothing)."""
        if self.path is not None and self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("model") == judge.model and data.get("prompt") == self.prompt:
                self.scores = {k: float(v) for k, v in data.get("scores", {}).items()}

    @property
    def name(self) -> str:
        """As the local judge's name: model and cutoff."""
        return f"local:{self.judge.model}@{self.cutoff:g}"

    @staticmethod
    def _key(a: str, b: str) -> str:
        return json.dumps(sorted((a, b)), ensure_ascii=False)

    def score(self, a: str, b: str) -> float:
        """The recorded score, or the model's (then recorded)."""
        key = self._key(a, b)
        if key not in self.scores:
            t0 = time.perf_counter_ns()
            self.scores[key] = self.judge.score(a, b)
            self.latencies_ms.append((time.perf_counter_ns() - t0) / 1e6)
            self.computed += 1
            self.save()  # a score costs seconds of model time; writing the file costs milliseconds
        return self.scores[key]

    def same_answer(self, a: str, b: str) -> bool:
        """``score >= cutoff``."""
        return self.score(a, b) >= self.cutoff

    async def asame_answer(self, a: str, b: str) -> bool:
        """Same as :meth:`same_answer` (evaluation runs blocking)."""
        return self.same_answer(a, b)

    def save(self) -> None:
        """Write the scores to the file (when one was given)."""
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"model": self.judge.model, "prompt": self.prompt, "scores": self.scores},
                                            ensure_ascii=False, indent=0), encoding="utf-8")

    def close(self) -> None:
        """Save, and close the model's worker."""
        self.save()
        self.judge.close()


class TruthProbe:
    """One half held in a real semantic layer (embedded once), evaluated at any setting.

    :param half: a :class:`TuningHalf` or a :class:`TestHalf`.
    :param embedder: embeds questions (``embed_queries``), e.g. ``load_embedding_model("e5-small")``.
    :param verifier: the rules (default: the bank lexicon's).
    :param top_k: candidates per lookup.
    :param sample: ask only this many of the half's queries, drawn with ``seed`` (the cache still holds every
        stored question of the half): for settings whose every query costs a model call.
    """

    def __init__(self, half: TuningHalf | TestHalf, embedder: Any, *, verifier: HitVerifier | None = None,
                 top_k: int = 4, sample: int | None = None, seed: int = TRUTH_SEED) -> None:
        if not isinstance(half, TuningHalf | TestHalf):
            raise ConfigError(f"a TruthProbe holds a TuningHalf or a TestHalf, not {type(half).__name__}")
        self.half = half
        stored: dict[str, str] = {}
        for g in half.groups:
            for text, intent in g.stored:
                stored.setdefault(text, intent)
        queries = [ProbeQuery(text, intent, g.kind) for g in half.groups for text, intent in g.asked
                   if text not in stored]  # identical to a stored text: an exact hit, not a semantic one
        if sample is not None and sample < len(queries):
            keep = sorted(random.Random(seed).sample(range(len(queries)), sample))
            queries = [queries[i] for i in keep]
        self.sample = sample
        self.probe = SemanticProbe(embedder, stored, queries, verifier=verifier, top_k=top_k)

    def evaluate(self, setting: CacheSetting, judge: Any = None) -> TruthResult:
        """The setting's outcome on this half; ``judge`` (a PairJudge) is used when the setting has a band."""
        tier = None
        if setting.accept_above is not None:
            if judge is None:
                raise ConfigError("this setting has a judge band: pass the judge", field="cache.semantic.judge")
            judge.cutoff = setting.cutoff
            # a fresh tier per evaluation, verdicts in process only: its counters are this setting's own calls
            tier = JudgeTier(judge, accept_above=setting.accept_above, retry_interval_s=0.0,
                             rules_in_band=setting.rules_in_band, shared_verdicts=False)
        served = self.probe.run(threshold=setting.threshold, refusal_margin=setting.refusal_margin, judge=tier)
        pq = nq = hits = wrong = par_right = nm_wrong = 0
        for q, (intent, _) in zip(self.probe.queries, served, strict=True):
            if q.kind == "paraphrase":
                pq += 1
            else:
                nq += 1
            if intent is None:
                continue
            hits += 1
            if intent != q.intent:
                wrong += 1
                nm_wrong += q.kind == "near_miss"
            elif q.kind == "paraphrase":
                par_right += 1
        return TruthResult(setting, self.half.split, pq, nq, hits, wrong, pq + nq - hits, par_right, nm_wrong,
                           wrong / hits if hits else 0.0, wilson_interval(wrong, hits),
                           par_right / pq if pq else 0.0, tier.stats() if tier is not None else {})


def evaluate_setting(half: TuningHalf | TestHalf, embedder: Any, setting: CacheSetting, *, judge: Any = None,
                     verifier: HitVerifier | None = None) -> TruthResult:
    """One setting on one half (see :class:`TruthProbe` to evaluate several without re-embedding)."""
    return TruthProbe(half, embedder, verifier=verifier).evaluate(setting, judge)


@dataclass
class TruthChoice:
    """What :func:`pick_setting` chose, and every setting it tried (all on the tuning half)."""

    setting: CacheSetting
    result: TruthResult
    tried: list[TruthResult]
    rule: str


def pick_setting(tuning: TuningHalf, embedder: Any, *,
                 thresholds: Sequence[float] = tuple(round(0.88 + 0.01 * i, 2) for i in range(12)),
                 margins: Sequence[float] = (0.0, 0.02, 0.04),
                 judge: Any = None, accept_above: Sequence[float] = (), cutoffs: Sequence[float] = (0.0,),
                 rules_in_band: Sequence[bool] = (True,), target_wrong_hit_rate: float = 0.01, verifier: HitVerifier | None = None,
                 probe: TruthProbe | None = None) -> TruthChoice:
    """The setting that serves the most paraphrases on the tuning half while the upper end of its wrong-hit
    interval (Wilson 95%) stays at or below ``target_wrong_hit_rate``; ties go to the higher threshold.

    Tries every threshold × margin with the rules alone, and, with a ``judge``, every threshold × margin ×
    ``accept_above`` (above the threshold) × ``cutoff`` × ``rules_in_band``.

    :param tuning: the tuning half: the only data this function sees.
    :param embedder: the cache's embedding model.
    :param probe: a :class:`TruthProbe` of ``tuning`` already built (saves embedding it again).
    :returns: the choice, with every setting tried.
    :raises ConfigError: ``tuning`` is not a :class:`TuningHalf` (a test half never reaches the picker), or no
        setting meets the target.
    """
    if type(tuning) is not TuningHalf:
        raise ConfigError(f"pick_setting takes the tuning half only, got {type(tuning).__name__}: settings are "
                          "chosen on the tuning half and reported on the test half")
    if probe is None:
        probe = TruthProbe(tuning, embedder, verifier=verifier)
    elif probe.half is not tuning:
        raise ConfigError("the probe must hold this tuning half")
    settings = [CacheSetting(t, m) for t in thresholds for m in margins]
    if judge is not None:
        settings += [CacheSetting(t, m, a, c, r) for t in thresholds for m in margins for a in accept_above if a > t
                     for c in cutoffs for r in rules_in_band]
    tried = [probe.evaluate(s, judge) for s in settings]
    ok = [r for r in tried if r.hits and r.wrong_hit_ci[1] <= target_wrong_hit_rate]
    if not ok:
        raise ConfigError(f"no setting keeps the upper end of the wrong-hit interval at or below "
                          f"{target_wrong_hit_rate:.1%} on the tuning half", field="cache.semantic.threshold")
    best = max(ok, key=lambda r: (r.paraphrase_served_rate, r.setting.threshold, -r.setting.refusal_margin))
    return TruthChoice(best.setting, best, tried, f"max paraphrases served, Wilson upper <= {target_wrong_hit_rate}")
