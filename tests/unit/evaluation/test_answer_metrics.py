"""Answer metrics: SQuAD (English), CMRC 2018 (Chinese), ROUGE-L, semantic similarity, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.evaluation.metrics.answer import (
    SemanticSimilarity,
    answer_scores,
    cmrc_em,
    cmrc_f1,
    cmrc_tokens,
    exact_match,
    f1_score,
    lcs_length,
    longest_common_substring,
    normalize_squad,
    rouge_l,
    scoring_language,
    squad_em,
    squad_f1,
)


def test_squad_normalization_and_em() -> None:
    assert normalize_squad("The  Eiffel-Tower!") == "eiffeltower"
    assert squad_em("the Eiffel Tower.", ["Eiffel Tower"]) == 1.0
    assert squad_em("Eiffel", ["Eiffel Tower", "tower"]) == 0.0


def test_squad_f1_by_hand() -> None:
    # pred tokens {gold, card, fee}; ref {gold, card, annual, fee}: P 1, R 3/4
    assert squad_f1("gold card fee", ["the gold card annual fee"]) == pytest.approx(2 * 0.75 / 1.75)
    assert squad_f1("x b b", ["b b c"]) == pytest.approx(2 / 3)          # multiset overlap: 2 of 3 each
    assert squad_f1("a b b", ["b b c"]) == pytest.approx(0.8)            # "a" is an article: P 1, R 2/3
    assert squad_f1("nothing", ["else"]) == 0.0
    assert squad_f1("the", ["a"]) == 0.0                                  # both empty after normalization
    assert squad_f1("x y", ["x", "x y"]) == 1.0                           # best reference wins
    with pytest.raises(TypeError):
        squad_f1("x", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        squad_em("x", [])


def test_cmrc_segmentation() -> None:
    assert cmrc_tokens("2018年CMRC比赛") == ["2018", "年", "cmrc", "比", "赛"]
    # listed punctuation is skipped without splitting the Latin run (the script's rm_punc path)
    assert cmrc_tokens("a-b，c") == ["abc"]
    assert cmrc_tokens("a-b，中c") == ["ab", "中", "c"]
    assert cmrc_tokens("《三国》", drop_punctuation=False) == ["《", "三", "国", "》"]


def test_cmrc_em_punctuation_list() -> None:
    assert cmrc_em("《红楼梦》", ["红楼梦"]) == 1.0
    assert cmrc_em("红楼梦。", ["红楼梦"]) == 1.0
    assert cmrc_em("红楼梦.", ["红楼梦"]) == 0.0       # ASCII '.' is not on the list
    assert cmrc_em("红楼梦…", ["红楼梦"]) == 0.0       # a lone '…' is never removed
    assert cmrc_em(" ABC ", ["abc"]) == 1.0


def test_cmrc_f1_longest_common_substring() -> None:
    assert cmrc_f1("北京大学", ["北京"]) == pytest.approx(2 * 0.5 * 1 / 1.5)
    # bag overlap would be 4/4, but the longest contiguous run is 2: P=R=2/4
    assert cmrc_f1("甲乙丙丁", ["丙丁甲乙"]) == pytest.approx(0.5)
    assert cmrc_f1("毫无关系", ["完全不同"]) == 0.0
    assert cmrc_f1("人民币200元", ["200元", "人民币200元"]) == 1.0
    assert longest_common_substring(list("abcde"), list("xbcdy")) == 3


def test_rouge_l_english_and_chinese() -> None:
    assert lcs_length(list("abcde"), list("aXcYe")) == 3
    assert rouge_l("gold card fee", ["gold card annual fee"], lang="en") == pytest.approx(2 * 1 * 0.75 / 1.75)
    # subsequence (not contiguous): 甲乙 … 丁 → LCS 3 of 4
    assert rouge_l("甲乙丙丁", ["甲乙X丁"], lang="zh") == pytest.approx(2 * 0.75 * 0.75 / 1.5)


def test_rouge_l_matches_rouge_score_on_english() -> None:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    pred, ref = "the annual fee of the gold card is 20 dollars", "gold card annual fee 20 dollars"
    # rouge_score keeps articles; compare on article-free text so both tokenize alike
    pred_n, ref_n = "annual fee of gold card is 20 dollars", "gold card annual fee 20 dollars"
    assert rouge_l(pred, [ref], lang="en") == pytest.approx(scorer.score(ref_n, pred_n)["rougeL"].fmeasure)


def test_answer_scores_picks_the_definition_by_language() -> None:
    zh = answer_scores("甲乙丙丁", ["丙丁甲乙"], lang="zh")
    assert zh["f1"] == pytest.approx(0.5)
    en = answer_scores("The fee", ["fee"], lang="en")
    assert en["em"] == 1.0
    with pytest.raises(ValueError):
        answer_scores("x", ["x"], lang="sv")


class _FakeEmbedder:
    def embed_passages(self, texts: list[str]) -> np.ndarray:
        table = {"twenty dollars": [1.0, 0.0], "20 dollars": [0.8, 0.6], "blue": [0.0, 1.0]}
        return np.array([table[t] for t in texts], dtype=np.float32)


def test_semantic_similarity_with_a_fake_model() -> None:
    sim = SemanticSimilarity(_FakeEmbedder())
    assert sim.score("twenty dollars", ["20 dollars"]) == pytest.approx(0.8)
    assert sim.score("twenty dollars", ["blue", "20 dollars"]) == pytest.approx(0.8)
    assert sim.score("  ", ["blue"]) == 0.0
    with pytest.raises(TypeError):
        SemanticSimilarity(42)


def test_the_language_comes_from_the_question_never_from_the_references() -> None:
    # an English question whose references include a CJK alias (like SQuAD dev 5728809f2ca10214002da40e)
    question, refs = "What is China called in Chinese?", ["Zhongguo", "中国"]
    assert f1_score("中华", refs, question=question) == 0.0          # SQuAD word tokens: "中华" ≠ "中国"
    assert f1_score("中华", refs, lang="zh") == pytest.approx(0.5)   # CMRC characters would give half credit
    assert answer_scores("中华", refs, question=question) == answer_scores("中华", refs, lang="en")
    assert rouge_l("中华", refs, question=question) == 0.0
    assert exact_match("金卡", ["金卡"], question="金卡年费多少") == 1.0
    assert scoring_language(question="金卡年费多少") == "zh"


def test_no_language_and_no_question_is_refused_and_japanese_is_not_chinese() -> None:
    with pytest.raises(ValueError, match="never guessed from the references"):
        exact_match("x", ["x"])
    with pytest.raises(ValueError, match="never guessed"):
        rouge_l("x", ["x"])
    with pytest.raises(ValueError, match="Japanese"):
        f1_score("東京", ["東京都"], question="日本の首都はどこですか")
    assert f1_score("東京", ["東京都"], lang="zh", question="日本の首都はどこですか") == pytest.approx(0.8)
