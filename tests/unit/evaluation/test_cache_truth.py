"""The honest cache evaluation: a split fixed by seed, a picker that sees the tuning half only, Wilson intervals."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from workbench.cache import NullVerifier
from workbench.cache.testing import HashingEmbedder
from workbench.datasets import DATASETS_DIR, load_dataset
from workbench.errors import ConfigError, InputError
from workbench.evaluation.cache_truth import (
    TRUTH_SEED,
    CacheSetting,
    TestHalf,
    TruthProbe,
    TuningHalf,
    evaluate_setting,
    load_truth_split,
    pick_setting,
    split_of,
    truth_groups,
    wilson_interval,
)

GRID = {"thresholds": (0.6, 0.7, 0.8, 0.9), "margins": (0.0, 0.02), "target_wrong_hit_rate": 0.5}


def test_the_sets_are_big_enough_in_both_languages() -> None:
    ds = load_dataset("meridian_bank")
    assert len(ds.paraphrases) >= 300 and len(ds.near_misses) >= 300
    assert min(Counter(g.lang for g in ds.paraphrases).values()) >= 150
    assert min(Counter(p.lang for p in ds.near_misses).values()) >= 150
    assert {p.kind for p in ds.near_misses} == {"antonym", "entity", "number", "negation", "scope"}


def test_the_split_is_a_stable_hash_of_the_group_id() -> None:
    assert split_of("cards.gold.annual_fee") == split_of("cards.gold.annual_fee", TRUTH_SEED)
    assert [split_of(f"g{i}") for i in range(8)] == [split_of(f"g{i}") for i in range(8)]
    flips = sum(split_of(f"g{i}", 1) != split_of(f"g{i}", 2) for i in range(400))
    assert 120 < flips < 280  # another seed re-draws about half
    tuning, test = load_truth_split()
    ids_tuning, ids_test = {g.group_id for g in tuning.groups}, {g.group_id for g in test.groups}
    assert not ids_tuning & ids_test and len(ids_tuning | ids_test) == len(truth_groups())
    assert 0.4 < len(tuning) / (len(tuning) + len(test)) < 0.6
    for half in (tuning, test):
        c = half.counts()
        assert c["paraphrase_groups"] >= 100 and c["near_miss_pairs"] >= 100 and c["fresh_groups"] >= 200


def test_the_languages_of_an_intent_stay_together() -> None:
    groups = {g.group_id: g for g in truth_groups()}
    both = [g for g in groups.values() if g.kind == "paraphrase" and g.lang == "en+zh"]
    assert len(both) >= 100 and all(len(g.stored) == 2 for g in both)


def test_a_half_holds_its_own_groups_only() -> None:
    tuning, test = load_truth_split()
    with pytest.raises(InputError, match="tuning groups only"):
        TuningHalf(tuning.groups + test.groups[:1])
    with pytest.raises(InputError, match="test groups only"):
        TestHalf(test.groups + tuning.groups[:1])


def test_the_picker_refuses_the_test_half() -> None:
    _, test = load_truth_split()
    with pytest.raises(ConfigError, match="tuning half only"):
        pick_setting(test, HashingEmbedder(), **GRID)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tuning half only"):
        pick_setting(list(test.groups), HashingEmbedder(), **GRID)  # type: ignore[arg-type]


def test_the_picker_cannot_be_moved_by_the_test_half(tmp_path: Path) -> None:
    """Rewrite every test-half paraphrase and near-miss of a copy of the dataset: the tuning half, and so the
    setting picked, stay exactly the same."""
    copy = tmp_path / "meridian_bank"
    shutil.copytree(DATASETS_DIR / "meridian_bank", copy)
    for name, key in (("paraphrases.jsonl", "intent"), ("near_misses.jsonl", "id")):
        rows = [json.loads(line) for line in (copy / name).read_text(encoding="utf-8").splitlines()]
        for row in rows:
            if split_of(row[key]) == "test":
                if "paraphrases" in row:
                    row["paraphrases"] = [p + " xyz" for p in reversed(row["paraphrases"])]
                else:
                    row["a"], row["b"] = row["b"], "something else entirely"
        (copy / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tuning, test = load_truth_split()
    tuning2, test2 = load_truth_split(str(copy))
    assert tuning2.groups == tuning.groups and test2.groups != test.groups
    emb = HashingEmbedder()
    first, second = pick_setting(tuning, emb, **GRID), pick_setting(tuning2, emb, **GRID)
    assert first.setting == second.setting and first.result == second.result
    assert [r.to_record() for r in first.tried] == [r.to_record() for r in second.tried]


def test_the_picker_meets_its_constraint_on_the_tuning_half() -> None:
    tuning, _ = load_truth_split()
    choice = pick_setting(tuning, HashingEmbedder(), **GRID)
    assert choice.result.half == "tuning" and choice.result.wrong_hit_ci[1] <= 0.5
    allowed = [r for r in choice.tried if r.hits and r.wrong_hit_ci[1] <= 0.5]
    assert choice.result.paraphrase_served_rate == max(r.paraphrase_served_rate for r in allowed)
    with pytest.raises(ConfigError, match="no setting"):
        pick_setting(tuning, HashingEmbedder(), thresholds=(0.3,), margins=(0.0,), target_wrong_hit_rate=0.0,
                     verifier=NullVerifier())


def test_an_evaluation_counts_every_query_once() -> None:
    _, test = load_truth_split()
    probe = TruthProbe(test, HashingEmbedder())
    r = probe.evaluate(CacheSetting(0.8, 0.02))
    assert r.half == "test" and r.hits + r.misses == r.paraphrase_queries + r.near_miss_queries
    assert r.paraphrases_served + r.wrong_hits <= r.hits
    assert r.wrong_hit_ci[0] <= r.wrong_hit_rate <= r.wrong_hit_ci[1]
    assert r == evaluate_setting(test, HashingEmbedder(), CacheSetting(0.8, 0.02))
    looser = probe.evaluate(CacheSetting(0.6, 0.02))
    assert looser.hits >= r.hits
    with pytest.raises(ConfigError, match="pass the judge"):
        probe.evaluate(CacheSetting(0.8, 0.02, accept_above=0.95))
    fresh = test.fresh()
    assert isinstance(fresh, TestHalf) and 0 < len(fresh) < len(test) and all(g.fresh for g in fresh.groups)


def test_wilson_interval() -> None:
    low, high = wilson_interval(5, 100)
    assert low == pytest.approx(0.0215, abs=1e-4) and high == pytest.approx(0.1118, abs=1e-4)
    assert wilson_interval(0, 400) == (0.0, pytest.approx(0.00951, abs=1e-4))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(InputError):
        wilson_interval(5, 4)


def test_a_probe_can_ask_a_seeded_sample() -> None:
    _, test = load_truth_split()
    emb = HashingEmbedder()
    full = TruthProbe(test, emb)
    a, b = TruthProbe(test, emb, sample=50, seed=3), TruthProbe(test, emb, sample=50, seed=3)
    assert a.probe.queries == b.probe.queries and len(a.probe.queries) == 50
    assert set(a.probe.queries) < set(full.probe.queries) and a.probe.stored == full.probe.stored
    assert TruthProbe(test, emb, sample=50, seed=4).probe.queries != a.probe.queries
    r = a.evaluate(CacheSetting(0.8, 0.02))
    assert r.paraphrase_queries + r.near_miss_queries == 50


class RefusingJudge:
    """Says "different" to every pair and counts the calls (a stand-in for a model's verdicts, not its quality)."""

    name = "refusing"

    def __init__(self) -> None:
        self.cutoff = 0.0
        self.calls = 0

    def same_answer(self, a: str, b: str) -> bool:
        self.calls += 1
        return False

    async def asame_answer(self, a: str, b: str) -> bool:
        return self.same_answer(a, b)

    def close(self) -> None:
        pass


def test_a_judge_setting_counts_its_own_calls_per_lookup() -> None:
    tuning, _ = load_truth_split()
    probe = TruthProbe(tuning, HashingEmbedder(), sample=120, seed=5)
    judge = RefusingJudge()
    with_rules = probe.evaluate(CacheSetting(0.6, 0.02, accept_above=1.0), judge)
    again = probe.evaluate(CacheSetting(0.6, 0.02, accept_above=1.0), judge)
    alone = probe.evaluate(CacheSetting(0.6, 0.02, accept_above=1.0, rules_in_band=False), judge)
    assert with_rules.hits == 0 and with_rules.judge["asked"] > 0
    assert again.judge["asked"] == with_rules.judge["asked"]  # no verdict carried over from the last setting
    assert judge.calls == 2 * with_rules.judge["asked"] + alone.judge["asked"]
    assert alone.judge_calls_per_lookup > with_rules.judge_calls_per_lookup  # the rules no longer filter the band
    assert with_rules.judge_calls_per_lookup == with_rules.judge["asked"] / 120
    assert alone.setting.label.endswith("alone") and alone.to_record()["judge_calls_per_lookup"] > 0
