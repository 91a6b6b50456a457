"""Retrieval metrics on hand-computed cases (trec_eval definitions)."""

from __future__ import annotations

import math

import pytest

from workbench.evaluation.metrics import (
    average_precision,
    dedupe,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    rank_run,
    recall_at_k,
    reciprocal_rank,
    retrieval_scores,
)

RUN = ["d3", "d1", "d7", "d2"]
QRELS = {"d1": 1, "d2": 1, "d9": 1}


def test_recall_precision_hit_by_hand() -> None:
    assert recall_at_k(RUN, QRELS, 1) == 0.0
    assert recall_at_k(RUN, QRELS, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RUN, QRELS, 4) == pytest.approx(2 / 3)
    assert precision_at_k(RUN, QRELS, 2) == pytest.approx(0.5)
    # P@10 divides by 10 even though only 4 documents were retrieved (trec_eval P_k)
    assert precision_at_k(RUN, QRELS, 10) == pytest.approx(0.2)
    assert hit_at_k(RUN, QRELS, 1) == 0.0
    assert hit_at_k(RUN, QRELS, 2) == 1.0


def test_mrr_and_average_precision_by_hand() -> None:
    assert reciprocal_rank(RUN, QRELS) == pytest.approx(0.5)
    assert reciprocal_rank(RUN, QRELS, k=1) == 0.0
    # relevant at ranks 2 and 4: (1/2 + 2/4) / 3 relevant
    assert average_precision(RUN, QRELS) == pytest.approx((0.5 + 0.5) / 3)
    assert average_precision(RUN, QRELS, k=2) == pytest.approx(0.5 / 3)


def test_ndcg_graded_by_hand() -> None:
    qrels = {"a": 2, "b": 1, "c": 0}
    run = ["c", "b", "a"]
    dcg = 0 / math.log2(2) + 1 / math.log2(3) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(run, qrels, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(run, qrels, 1) == 0.0
    assert ndcg_at_k(["a", "b"], qrels, 2) == pytest.approx(1.0)


def test_ties_are_broken_by_docno_descending_like_trec_eval() -> None:
    scored = {"a": 1.0, "b": 1.0, "c": 0.5, "z": 1.0}
    assert rank_run(scored) == ["z", "b", "a", "c"]
    # the tie decides which relevant document is at rank 1
    assert reciprocal_rank(scored, {"a": 1}) == pytest.approx(1 / 3)
    assert reciprocal_rank(scored, {"z": 1}) == 1.0


def test_duplicates_count_once_at_their_best_rank() -> None:
    run = ["d1", "d1", "d2"]
    assert dedupe(run) == ["d1", "d2"]
    assert recall_at_k(run, {"d1": 1, "d2": 1}, 2) == 1.0
    assert precision_at_k(run, {"d1": 1}, 2) == pytest.approx(0.5)
    assert average_precision(run, {"d1": 1, "d2": 1}) == pytest.approx(1.0)


def test_empty_retrieval_and_no_relevant_documents() -> None:
    for value in retrieval_scores([], {"d1": 1}, ks=(1, 5)).values():
        assert value == 0.0
    assert retrieval_scores(["d1"], {}, ks=(1,))["ndcg@1"] == 0.0
    assert retrieval_scores(["d1"], {"d1": 0}, ks=(1,))["recall@1"] == 0.0   # level 0 is not relevant


def test_qrels_as_a_set_and_bad_arguments() -> None:
    assert recall_at_k(["x", "y"], {"y"}, 2) == 1.0
    with pytest.raises(ValueError):
        recall_at_k(["x"], {"x"}, 0)
    with pytest.raises(TypeError):
        rank_run("d1")  # type: ignore[arg-type]


def test_retrieval_scores_keys() -> None:
    scores = retrieval_scores(["a", "b"], {"b": 1}, ks=(1, 2))
    assert scores["mrr"] == 0.5 and scores["hit@2"] == 1.0 and "map@2" in scores and "map" in scores
