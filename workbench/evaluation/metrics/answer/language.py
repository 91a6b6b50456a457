"""Which language's metric definition scores an answer: the dataset's or the question's, never the references'.

An English SQuAD question whose references include a CJK alias must be scored with SQuAD's word rules,
and a Japanese question is not Chinese::

    scoring_language("en")                                   # 'en'
    scoring_language(question="What is China called in Chinese?")   # 'en'
    scoring_language(question="日本の首都はどこですか")          # ValueError: no Japanese definition
"""

from __future__ import annotations

from typing import Literal

from workbench.datasets.squad import question_language

__all__ = ["SCORED_LANGUAGES", "scoring_language"]

#: Languages with an answer-metric definition here: SQuAD v1.1 (``en``) and CMRC 2018 (``zh``).
SCORED_LANGUAGES = ("en", "zh")


def scoring_language(lang: str | None = None, question: str | None = None) -> Literal["en", "zh"]:
    """The language whose metric definition scores an answer: ``lang`` when given, else the question's.

    A question with kana is Japanese, which neither definition covers (CMRC's rules are for Chinese):
    it is refused rather than scored as Chinese.

    >>> scoring_language(question="金卡年费多少")
    'zh'

    :raises ValueError: ``lang`` is not ``en``/``zh``; neither ``lang`` nor ``question`` is given; the
        question is Japanese.
    """
    if lang is not None:
        if lang == "en" or lang == "zh":
            return lang
        raise ValueError(f"no answer metric is defined for language {lang!r}; use one of {SCORED_LANGUAGES} "
                         "(SQuAD rules for 'en', CMRC 2018 character rules for 'zh')")
    if question is None:
        raise ValueError("give the answer's language (lang='en' or 'zh', e.g. the dataset's) or the question "
                         "(question=...); it is never guessed from the references")
    found = question_language(question)
    if found == "ja":
        raise ValueError(f"the question looks Japanese ({question[:40]!r}): no Japanese answer metric is defined; "
                         "pass lang='zh' for character-level scoring or lang='en' for word-level scoring")
    return "zh" if found == "zh" else "en"
