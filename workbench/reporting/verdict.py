"""The report's recommendation: which configuration to pick under a latency SLO and a minimum quality, what
every alternative gains or costs, and how sure the numbers are.

```python
verdict = recommend(results, ReportConfig(slo_p95_ms=500, min_quality=0.6))
verdict.pick, verdict.headline          # 'fast', 'Pick fast: correct 0.71 [0.64, 0.78], p95 41 ms ≤ 500 ms ...'
verdict.scores                          # one RunScore per compared run (quality with CI, p50/p95, goodput, cost)
verdict.separated                       # runs evaluated on other questions, with the reason they are apart
```

Rules, in order:

1. **Same questions.** Runs are grouped by the questions they answered (dataset hash and question ids). The
   group with the most runs (ties: the first run's) is compared; every other run is *separated* with the
   reason, and never enters the verdict, the headline table, the differences or the plots.
2. **Eligible** runs meet both bars: p95 latency ≤ ``slo_p95_ms`` (the load test's p95 when the run has one,
   else the evaluation pass's, one question at a time) and mean quality ≥ ``min_quality``.
3. Among eligible runs the best quality wins, unless a cheaper eligible run is **not significantly worse**:
   each run's quality is paired with the best's question by question (sign-flip permutation test,
   Holm-corrected over the runs compared); the cheapest of those statistically tied with the best is picked
   (cost: compute time per 1,000 questions, then p95).
4. With no eligible run there is no pick: the verdict names the best run within the SLO and the fastest run
   above the quality bar, so the user sees which bar to move.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.config import ReportConfig
from workbench.evaluation.experiment import ExperimentResult, bootstrap_delta, bootstrap_mean, holm_adjust
from workbench.percentiles import PERCENTILE_METHOD

__all__ = ["ReportConfig", "RunScore", "Verdict", "quality_metric_of", "recommend", "split_by_questions"]


@dataclass(frozen=True)
class RunScore:
    """One compared run's headline numbers."""

    config: str
    questions: int
    quality: float
    quality_low: float
    quality_high: float
    p50_ms: float
    p95_ms: float
    latency_source: str
    """``under load (R req/s)`` or ``one at a time`` (the evaluation pass)."""
    offered_rps: float
    goodput_rps: float
    compute_s_per_1k: float
    """Seconds of pipeline time to answer 1,000 questions one at a time (mean latency of the evaluation pass)."""
    tokens_per_1k: float
    meets_slo: bool
    meets_quality: bool
    flags: tuple[str, ...] = ()
    correct_goodput_rps: float = math.nan
    """Requests/s answered within the load test's SLO *and* correct (NaN without a scored load test)."""

    @property
    def goodput_share(self) -> float:
        """Goodput over offered load (NaN without a load test)."""
        if math.isnan(self.offered_rps) or self.offered_rps <= 0 or math.isnan(self.goodput_rps):
            return math.nan
        return self.goodput_rps / self.offered_rps

    @property
    def eligible(self) -> bool:
        """Meets both the SLO and the minimum quality."""
        return self.meets_slo and self.meets_quality


@dataclass
class Verdict:
    """The recommendation and everything it rests on."""

    policy: ReportConfig
    metric: str
    pick: str | None
    headline: str
    reasons: list[str]
    scores: list[RunScore]
    alternatives: pd.DataFrame
    """One row per other compared run: paired quality difference against the pick (CI, p, Holm p), p95 and cost
    ratios, and a sentence of what it gains or costs."""
    separated: list[tuple[ExperimentResult, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def headline_frame(self) -> pd.DataFrame:
        """The short table: quality with CI, p50/p95, goodput, cost per 1,000 questions, verdict marks."""
        rows = []
        for s in self.scores:
            share = s.goodput_share
            rows.append({
                "config": s.config + (" ★" if s.config == self.pick else ""),
                "questions": s.questions,
                self.metric: f"{s.quality:.3f} [{s.quality_low:.3f}, {s.quality_high:.3f}]",
                "p50 ms": _ms(s.p50_ms),
                "p95 ms": _ms(s.p95_ms),
                "latency": s.latency_source,
                "goodput req/s": "-" if math.isnan(s.goodput_rps) else
                f"{s.goodput_rps:.1f} of {s.offered_rps:g} ({share:.0%})",
                "correct goodput req/s": "-" if math.isnan(s.correct_goodput_rps) else f"{s.correct_goodput_rps:.1f}",
                "compute s / 1k q": _ms(s.compute_s_per_1k),
                "tokens / 1k q": "-" if math.isnan(s.tokens_per_1k) else f"{s.tokens_per_1k:,.0f}",
                "SLO": "yes" if s.meets_slo else "no",
                "quality bar": "yes" if s.meets_quality else "no",
                "flags": "; ".join(s.flags),
            })
        return pd.DataFrame(rows)


def _ms(value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _question_key(result: ExperimentResult) -> tuple[str, frozenset[str]]:
    ids = frozenset(str(q) for q in result.rows.get("question_id", pd.Series(dtype=str)).tolist())
    return str(result.manifest.get("dataset", {}).get("hash")), ids


def _describe(result: ExperimentResult) -> str:
    ds = result.manifest.get("dataset", {})
    return f"{len(result.rows)} questions of {ds.get('name')} (dataset hash {ds.get('hash')})"


def split_by_questions(results: Sequence[ExperimentResult]) -> tuple[list[ExperimentResult],
                                                                     list[tuple[ExperimentResult, str]]]:
    """The runs answered on the same questions as most others (ties: the first run's), and every other run
    with the reason it cannot be compared with them.

    ```python
    compared, separated = split_by_questions([fast_150, default_150, quality_40])
    separated[0][1]     # 'evaluated on 40 questions of ... ; the compared runs used 150 ... (40 in common) ...'
    ```
    """
    groups: dict[tuple[str, frozenset[str]], list[ExperimentResult]] = {}
    for r in results:
        groups.setdefault(_question_key(r), []).append(r)
    order = list(groups)
    main = max(order, key=lambda k: (len(groups[k]), -order.index(k)))
    compared = groups[main]
    ref = compared[0]
    separated = []
    for key in order:
        if key == main:
            continue
        for r in groups[key]:
            common = len(key[1] & main[1])
            separated.append((r, f"evaluated on {_describe(r)}; the compared runs used {_describe(ref)} "
                                 f"({common} in common). Averages over different questions are not comparable, so "
                                 "it is shown apart and left out of the verdict."))
    return compared, separated


def quality_metric_of(results: Sequence[ExperimentResult], wanted: str) -> str:
    """``wanted`` when every run has it, else the first of f1, ndcg@10, mrr, hit@1 that every run has."""
    for col in (wanted, "f1", "ndcg@10", "mrr", "hit@1"):
        if all(col in r.rows and r.rows[col].notna().any() for r in results):
            return col
    raise ValueError(f"the runs share no quality column ({wanted}, f1, ndcg@10, mrr, hit@1)")


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _overload_flag(load: dict[str, Any], offered: float, goodput: float) -> str:
    """What an overloaded load run did with the requests it was offered: goodput against the offer, the shares
    shed and failed (a request still running when the run ended is failed), the shares of the answers served at
    a degraded level and within the run's SLO (when the run recorded them), and, when some went unanswered,
    that the latency percentiles are of the answered ones only."""
    text = f"overloaded: goodput {goodput:.1f} of {offered:g} req/s offered ({goodput / offered:.0%})"
    shed, failed = (0.0 if math.isnan(v) else v for v in (_num(load.get("shed_rate")), _num(load.get("error_rate"))))
    parts = [f"{v:.0%} {what}" for v, what in ((shed, "shed"), (failed, "failed or unfinished")) if v > 0]
    attained, degraded = _num(load.get("slo_attainment")), _num(load.get("degraded_share"))
    if not math.isnan(degraded) and degraded > 0:
        parts.append(f"{degraded:.0%} of the answers at a degraded level")
    if not math.isnan(attained):
        parts.append(f"{attained:.0%} of the answers within the load run's SLO")
    if shed or failed:
        requests = _num(load.get("requests"))
        answered = "" if math.isnan(requests) else f" {round(requests * (1 - shed - failed))} of {int(requests)}"
        parts.append(f"its latency percentiles are of the{answered} answered requests only")
    elif math.isnan(attained):
        parts.append("the answers came later than the load run's SLO")
    return "; ".join([text, *parts])


def _score(r: ExperimentResult, metric: str, policy: ReportConfig) -> RunScore:
    mean, low, high = bootstrap_mean(r.rows[metric].to_numpy(dtype=float), resamples=policy.resamples,
                                     confidence=policy.confidence, seed=policy.seed)
    overall = r.summary.get("overall", {})
    load = r.summary.get("load") if isinstance(r.summary.get("load"), dict) else None
    offered = goodput = correct_goodput = math.nan
    if load is not None and not math.isnan(_num(load.get("latency_p95_ms"))):
        p50, p95 = _num(load.get("latency_p50_ms")), _num(load.get("latency_p95_ms"))
        offered, goodput = _num(load.get("offered_rps")), _num(load.get("goodput_rps"))
        correct_goodput = _num(load.get("correct_goodput_rps"))
        source = f"under load ({offered:g} req/s)"
    else:
        p50, p95 = _num(overall.get("latency_p50_ms")), _num(overall.get("latency_p95_ms"))
        source = "one at a time"
    mean_ms = _num(r.rows["latency_total_ms"].mean()) if "latency_total_ms" in r.rows else math.nan
    tokens = _num(r.rows["tokens"].mean()) * 1000 if "tokens" in r.rows else math.nan
    flags = []
    if load is not None and not math.isnan(offered) and offered > 0 and not math.isnan(goodput) \
            and goodput < policy.goodput_flag_ratio * offered:
        flags.append(_overload_flag(load, offered, goodput))
    errors = int(_num(overall.get("errors")) or 0)
    if errors:
        flags.append(f"{errors} question(s) failed")
    if r.manifest.get("labels", {}).get("simulated"):
        flags.append("simulated LLM")
    return RunScore(r.name, len(r.rows), mean, low, high, p50, p95, source, offered, goodput, mean_ms, tokens,
                    meets_slo=not math.isnan(p95) and p95 <= policy.slo_p95_ms,
                    meets_quality=not math.isnan(mean) and mean >= policy.min_quality, flags=tuple(flags),
                    correct_goodput_rps=correct_goodput)


def _paired(results: dict[str, ExperimentResult], base: str, others: Sequence[str], metric: str,
            policy: ReportConfig) -> dict[str, dict[str, float]]:
    """Quality differences ``other − base`` paired by question, with Holm over ``others``."""
    out = {}
    for name in others:
        d = bootstrap_delta(results[base].rows, results[name].rows, metric, resamples=policy.resamples,
                            confidence=policy.confidence, seed=policy.seed)
        out[name] = {"delta": d.delta, "low": d.ci_low, "high": d.ci_high, "p": d.p_value, "n": d.n}
    for name, p in zip(out, holm_adjust([v["p"] for v in out.values()]), strict=True):
        out[name]["p_holm"] = p
    return out


def _cheapest(scores: Sequence[RunScore]) -> RunScore:
    return min(scores, key=lambda s: (math.inf if math.isnan(s.compute_s_per_1k) else s.compute_s_per_1k,
                                      math.inf if math.isnan(s.p95_ms) else s.p95_ms))


def _ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return "-"
    return f"{a / b:.2g}×"


def recommend(results: Sequence[ExperimentResult], policy: ReportConfig | None = None) -> Verdict:
    """The verdict over ``results`` (see the module docstring for the rules)."""
    policy = policy or ReportConfig()
    if not results:
        raise ValueError("recommend needs at least one run")
    compared, separated = split_by_questions(results)
    metric = quality_metric_of(compared, policy.quality_metric)
    notes = []
    if metric != policy.quality_metric:
        notes.append(f"quality is {metric}: not every run has {policy.quality_metric!r}")
    by_name = {r.name: r for r in compared}
    scores = [_score(r, metric, policy) for r in compared]
    by_score = {s.config: s for s in scores}
    eligible = [s for s in scores if s.eligible]
    bars = f"p95 ≤ {policy.slo_p95_ms:g} ms and {metric} ≥ {policy.min_quality:g}"
    reasons: list[str] = []
    pick: RunScore | None = None
    if eligible:
        best = max(eligible, key=lambda s: s.quality)
        tied = [best]
        if len(eligible) > 1:
            vs_best = _paired(by_name, best.config, [s.config for s in eligible if s is not best], metric, policy)
            tied += [by_score[n] for n, v in vs_best.items() if not v["p_holm"] < policy.alpha]
        pick = _cheapest(tied)
        headline = (f"Pick {pick.config}: {metric} {pick.quality:.3f} [{pick.quality_low:.3f}, {pick.quality_high:.3f}], "
                    f"p95 {_ms(pick.p95_ms)} ms ({pick.latency_source}), {_ms(pick.compute_s_per_1k)} s of compute "
                    f"per 1,000 questions; it meets {bars}.")
        if pick is not best:
            reasons.append(f"{best.config} scores {best.quality - pick.quality:+.3f} higher, but the difference is "
                           f"not significant after Holm correction (alpha {policy.alpha:g}), and {pick.config} is "
                           "cheaper.")
        elif len(tied) > 1:
            rest = [s.config for s in tied if s is not pick]
            reasons.append(f"{', '.join(rest)} {'is' if len(rest) == 1 else 'are'} not significantly different "
                           f"(Holm-corrected, alpha {policy.alpha:g}) and cost{'s' if len(rest) == 1 else ''} more.")
        elif len(eligible) > 1:
            reasons.append(f"It is significantly better than every other eligible configuration "
                           f"(Holm-corrected, alpha {policy.alpha:g}).")
        others = [s.config for s in scores if s is not pick and not s.eligible]
        if others:
            reasons.append("Not eligible: " + "; ".join(
                f"{n} ({'misses the SLO' if not by_score[n].meets_slo else ''}"
                f"{' and ' if not by_score[n].meets_slo and not by_score[n].meets_quality else ''}"
                f"{'below the quality bar' if not by_score[n].meets_quality else ''})" for n in others) + ".")
    else:
        headline = f"No configuration meets both bars ({bars})."
        fast_ok = [s for s in scores if s.meets_slo]
        good_ok = [s for s in scores if s.meets_quality]
        if fast_ok:
            s = max(fast_ok, key=lambda x: x.quality)
            reasons.append(f"Within the SLO, the best is {s.config} with {metric} {s.quality:.3f} "
                           f"[{s.quality_low:.3f}, {s.quality_high:.3f}]: lower the quality bar or improve it.")
        if good_ok:
            s = min(good_ok, key=lambda x: x.p95_ms)
            reasons.append(f"Above the quality bar, the fastest is {s.config} with p95 {_ms(s.p95_ms)} ms "
                           f"({s.latency_source}): relax the SLO or speed it up.")
        if not fast_ok and not good_ok:
            reasons.append("No configuration meets either bar.")
    base = pick.config if pick is not None else max(scores, key=lambda s: s.quality).config
    alternatives = _alternatives(by_name, by_score, base, metric, policy)
    cold = [(r.name, (r.summary.get("warmup") or {}).get("cold_start_ms")) for r in compared]
    if any(ms is not None for _, ms in cold):
        notes.append("latency of the evaluation pass excludes one warm-up question per run; its cold start: "
                     + ", ".join(f"{n} {_ms(_num(ms))} ms" for n, ms in cold) + ".")
    if separated:
        notes.append(f"{len(separated)} run(s) evaluated on other questions are shown apart (see 'Not compared').")
    notes.append(f"latency percentiles: {PERCENTILE_METHOD}; quality intervals: percentile bootstrap over questions "
                 f"({policy.resamples} resamples, seed {policy.seed}, {policy.confidence:.0%}); differences paired "
                 f"by question, p-values by sign-flip permutation, Holm-corrected over the alternatives.")
    return Verdict(policy, metric, pick.config if pick else None, headline, reasons, scores, alternatives,
                   separated, notes)


def _alternatives(by_name: dict[str, ExperimentResult], by_score: dict[str, RunScore], base: str, metric: str,
                  policy: ReportConfig) -> pd.DataFrame:
    others = [n for n in by_name if n != base]
    if not others:
        return pd.DataFrame()
    paired = _paired(by_name, base, others, metric, policy)
    ref = by_score[base]
    rows = []
    for name in others:
        v, s = paired[name], by_score[name]
        significant = v["p_holm"] < policy.alpha
        if significant:
            gain = f"{'gains' if v['delta'] > 0 else 'loses'} {abs(v['delta']):.3f} {metric}"
        else:
            gain = f"no significant {metric} difference ({v['delta']:+.3f})"
        cost = (f"p95 {_ratio(s.p95_ms, ref.p95_ms)} and compute {_ratio(s.compute_s_per_1k, ref.compute_s_per_1k)} "
                f"of {base}'s")
        bars = "" if s.eligible else (" Misses the SLO." if not s.meets_slo else " Below the quality bar.")
        rows.append({
            "config": name, "vs": base, f"Δ {metric}": v["delta"], "ci_low": v["low"], "ci_high": v["high"],
            "p": v["p"], "p_holm": v["p_holm"], "paired questions": v["n"],
            "p95 ratio": _ratio(s.p95_ms, ref.p95_ms), "compute ratio": _ratio(s.compute_s_per_1k,
                                                                                ref.compute_s_per_1k),
            "in short": f"{gain}; {cost}.{bars}",
        })
    return pd.DataFrame(rows)
