"""Properties of the answer and retrieval metrics on open-ended inputs (hypothesis): bounds, symmetry,
identity, the best-over-references rule, and monotonicity in the cut-off."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.evaluation.metrics import (
    average_precision,
    cmrc_em,
    cmrc_f1,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    rouge_l,
    squad_em,
    squad_f1,
)
from workbench.evaluation.metrics.answer import cmrc_tokens, squad_tokens

ENGLISH = st.text(st.sampled_from("abc xyz THE an a . , ! ' - 12"), max_size=30)
CHINESE = st.text(st.sampled_from("金卡年费多少元，。《》 gold 10"), max_size=20)
REFS_EN = st.lists(ENGLISH, min_size=1, max_size=4)
REFS_ZH = st.lists(CHINESE, min_size=1, max_size=4)
DOCS = st.sampled_from([f"d{i}" for i in range(8)])
RUNS = st.lists(DOCS, max_size=8, unique=True)
QRELS = st.dictionaries(DOCS, st.integers(min_value=1, max_value=3), min_size=1, max_size=5)
KS = st.integers(min_value=1, max_value=10)


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(ENGLISH, REFS_EN)
def test_squad_scores_are_bounded_and_em_implies_full_f1(prediction: str, references: list[str]) -> None:
    em, f1 = squad_em(prediction, references), squad_f1(prediction, references)
    assert em in (0.0, 1.0) and 0.0 <= f1 <= 1.0
    if em == 1.0 and squad_tokens(prediction):
        assert f1 == 1.0


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(ENGLISH, ENGLISH)
def test_squad_is_symmetric_and_an_answer_matches_itself(a: str, b: str) -> None:
    assert squad_f1(a, [b]) == squad_f1(b, [a]) and squad_em(a, [b]) == squad_em(b, [a])
    assert squad_em(a, [a]) == 1.0
    assert squad_f1(a, [a]) == (1.0 if squad_tokens(a) else 0.0)


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(ENGLISH, REFS_EN)
def test_the_best_reference_counts(prediction: str, references: list[str]) -> None:
    assert squad_f1(prediction, references) == max(squad_f1(prediction, [r]) for r in references)
    assert squad_em(prediction, references) == max(squad_em(prediction, [r]) for r in references)


@settings(max_examples=60, deadline=None)
@given(CHINESE, REFS_ZH)
def test_cmrc_scores_are_bounded_symmetric_and_best_of_references(prediction: str, references: list[str]) -> None:
    em, f1 = cmrc_em(prediction, references), cmrc_f1(prediction, references)
    assert em in (0.0, 1.0) and 0.0 <= f1 <= 1.0
    assert f1 == max(cmrc_f1(prediction, [r]) for r in references)
    other = references[0]
    assert math.isclose(cmrc_f1(prediction, [other]), cmrc_f1(other, [prediction]))
    assert cmrc_em(prediction, [prediction]) == 1.0
    assert cmrc_f1(prediction, [prediction]) == (1.0 if cmrc_tokens(prediction) else 0.0)


@settings(max_examples=60, deadline=None)
@given(st.one_of(ENGLISH, CHINESE), st.one_of(ENGLISH, CHINESE), st.sampled_from(["en", "zh"]))
def test_rouge_l_is_bounded_and_symmetric(a: str, b: str, lang: str) -> None:
    score = rouge_l(a, [b], lang=lang)
    assert 0.0 <= score <= 1.0
    assert math.isclose(score, rouge_l(b, [a], lang=lang))


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(RUNS, QRELS, KS)
def test_retrieval_scores_are_bounded(run: list[str], qrels: dict[str, int], k: int) -> None:
    for value in (recall_at_k(run, qrels, k), precision_at_k(run, qrels, k), hit_at_k(run, qrels, k),
                  reciprocal_rank(run, qrels, k), ndcg_at_k(run, qrels, k), average_precision(run, qrels, k)):
        assert 0.0 <= value <= 1.0 + 1e-12


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(RUNS, QRELS, KS, KS)
def test_cumulative_measures_grow_with_k(run: list[str], qrels: dict[str, int], j: int, k: int) -> None:
    lo, hi = sorted((j, k))
    for measure in (recall_at_k, hit_at_k, reciprocal_rank):
        assert measure(run, qrels, lo) <= measure(run, qrels, hi)


@settings(deadline=None)  # no per-example deadline: the machine is shared and busy
@given(QRELS, KS)
def test_the_ideal_ranking_scores_one(qrels: dict[str, int], k: int) -> None:
    ideal = sorted(qrels, key=lambda d: (-qrels[d], d))
    assert math.isclose(ndcg_at_k(ideal, qrels, k), 1.0)
    assert hit_at_k(ideal, qrels, k) == 1.0 and reciprocal_rank(ideal, qrels, k) == 1.0
    assert math.isclose(recall_at_k(ideal, qrels, k), min(k, len(qrels)) / len(qrels))
