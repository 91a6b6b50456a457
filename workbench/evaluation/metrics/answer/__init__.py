"""Answer metrics: SQuAD EM/F1 (English), CMRC 2018 EM/F1 (Chinese), ROUGE-L, semantic similarity, and the
answer-type-aware matcher (correct / partly / wrong, the headline ``correct`` column)."""

from workbench.evaluation.metrics.answer.answer_match import VERDICTS, AnswerMatch, Verdict, match_answer
from workbench.evaluation.metrics.answer.cmrc import (
    CMRC_PUNCTUATION,
    cmrc_em,
    cmrc_f1,
    cmrc_tokens,
    longest_common_substring,
)
from workbench.evaluation.metrics.answer.language import SCORED_LANGUAGES, scoring_language
from workbench.evaluation.metrics.answer.rouge import lcs_length, rouge_l
from workbench.evaluation.metrics.answer.scoring import answer_scores, exact_match, f1_score
from workbench.evaluation.metrics.answer.semantic import SemanticSimilarity
from workbench.evaluation.metrics.answer.squad import normalize_squad, squad_em, squad_f1, squad_tokens

__all__ = [
    "AnswerMatch",
    "CMRC_PUNCTUATION",
    "SCORED_LANGUAGES",
    "SemanticSimilarity",
    "VERDICTS",
    "Verdict",
    "answer_scores",
    "cmrc_em",
    "cmrc_f1",
    "cmrc_tokens",
    "exact_match",
    "f1_score",
    "lcs_length",
    "longest_common_substring",
    "match_answer",
    "normalize_squad",
    "rouge_l",
    "scoring_language",
    "squad_em",
    "squad_f1",
    "squad_tokens",
]
