"""Rewrite a follow-up ("and for the platinum one?") into a standalone question, from memory.

The deterministic default, :class:`RuleBasedRewriter`, knows the bank's products and services (an
entity lexicon in English and Chinese). When the question is elliptical (starts like a follow-up,
refers back with "it"/"that one"/"它"/"这张卡", or names no product at all) it either swaps the
product into the previous question ("and for the platinum one?") or carries the previous product
into this one ("what's its credit limit?"). Anything else passes through unchanged. Any callable
``(view, question) -> str`` can replace it, e.g. :class:`LLMRewriter`::

    rewrite_followup(view, "and for the platinum one?")   # 'what's the annual fee on the platinum card?'
    rewrite_followup(view, "那白金卡呢？")                   # '白金卡年费多少'

The serving engine should store the rewritten question in the turn's ``meta["standalone"]``
(:data:`META_STANDALONE`), so a chain of follow-ups keeps its subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from workbench.memory.conversation import MemoryView
from workbench.text import detect_language

__all__ = [
    "BANK_ENTITIES",
    "Entity",
    "FollowupRewriter",
    "LLMRewriter",
    "META_STANDALONE",
    "RuleBasedRewriter",
    "rewrite_followup",
]

#: The key under which a turn's standalone (rewritten) question is kept in ``Turn.meta``.
META_STANDALONE = "standalone"


@dataclass(frozen=True)
class Entity:
    """A product or service customers ask about, with its names in both languages."""

    key: str
    en: str
    zh: str
    aliases: tuple[str, ...] = ()
    """Other spellings (either language), matched case-insensitively; longest match wins."""


BANK_ENTITIES: tuple[Entity, ...] = (
    Entity("classic", "classic card", "经典卡", ("classic", "经典信用卡")),
    Entity("gold", "gold card", "金卡", ("gold",)),
    Entity("platinum", "platinum card", "白金卡", ("platinum", "plat card")),
    Entity("debit", "debit card", "借记卡", ("debit",)),
    Entity("supplementary", "supplementary card", "附属卡", ("supplementary",)),
    Entity("easy_loan", "easy loan", "子午易贷", ("personal loan", "易贷", "消费贷", "个人消费贷款")),
    Entity("mortgage", "mortgage", "房贷", ("home loan", "住房贷款")),
    Entity("car_loan", "car loan", "车贷", ("auto loan", "汽车贷款")),
    Entity("time_deposit", "time deposit", "定期存款", ("fixed deposit", "term deposit", "定期")),
    Entity("large_cd", "large certificate of deposit", "大额存单", ("certificate of deposit",)),
    Entity("intl_transfer", "international transfer", "境外汇款", ("swift transfer", "international remittance",
                                                                  "send money abroad", "汇款到国外", "境外汇款")),
    Entity("scheduled_transfer", "scheduled transfer", "预约转账", ("recurring transfer", "周期转账")),
    Entity("ukey", "u-key", "U盾", ("u key", "ukey", "u盾")),
)

_EN_START = re.compile(r"^\s*(and|also|what about|how about|same question for|same for|what if|then)\b[\s,]*",
                       re.IGNORECASE)
_ZH_START = re.compile(r"^\s*(那么|那|还有|换成|如果是|要是|再问下)")
_EN_ANAPHORA = re.compile(r"\b(that one|this one|that card|this card|that loan|this loan|the same|its|it|them|those)\b",
                          re.IGNORECASE)
_ZH_ANAPHORA = re.compile(r"(这张卡|那张卡|这张|那张|这个|那个|它的|它)")
_ZH_TAIL = re.compile(r"[的呢吗呀啊？?。！!，,\s]+$")
_FILLER_EN = re.compile(r"\b(the|one|ones|for|a|an|on|about|with|please)\b|[?.!,]", re.IGNORECASE)


class FollowupRewriter(Protocol):
    """``(view, question) -> standalone question``."""

    def __call__(self, view: MemoryView, question: str) -> str: ...


class RuleBasedRewriter:
    """Deterministic follow-up rewriting over an entity lexicon (default: :data:`BANK_ENTITIES`)."""

    def __init__(self, entities: Sequence[Entity] = BANK_ENTITIES, *, max_followup_words: int = 12,
                 max_followup_chars_zh: int = 16) -> None:
        self.entities = tuple(entities)
        self.max_words, self.max_zh = max_followup_words, max_followup_chars_zh
        names: list[tuple[str, Entity]] = []
        for e in self.entities:
            names += [(n.lower(), e) for n in (e.en, e.zh, *e.aliases)]
        names.sort(key=lambda p: -len(p[0]))
        self._names = names
        self._pattern = re.compile("|".join(_name_re(n) for n, _ in names), re.IGNORECASE)
        self._by_name = dict(names)

    def find(self, text: str) -> list[tuple[int, int, Entity]]:
        """Entity mentions in ``text``: (start, end, entity), in order."""
        return [(m.start(), m.end(), self._by_name[m.group().lower()]) for m in self._pattern.finditer(text)]

    def __call__(self, view: MemoryView, question: str) -> str:
        prev_turn = view.last
        if prev_turn is None:
            return question
        prev = str(prev_turn.meta.get(META_STANDALONE) or prev_turn.user)
        zh = detect_language(question) == "zh"
        mine, theirs = self.find(question), self.find(prev)
        marker = (_ZH_START if zh else _EN_START).search(question) is not None
        anaphora = (_ZH_ANAPHORA if zh else _EN_ANAPHORA).search(question) is not None
        short = (len(question.strip()) <= self.max_zh) if zh else (len(question.split()) <= self.max_words)
        bare = bool(mine) and not self._residue(question, mine, zh)    # "金卡呢": only a product name
        if not short or not (marker or anaphora or bare or not mine):
            return question
        if mine and theirs:
            # "and for the platinum one?": this question only names a new product -> swap it into the previous one
            if bare:
                start, end, old = theirs[-1]
                new = mine[-1][2]
                name = new.zh if detect_language(prev) == "zh" else new.en
                if old.key == new.key:
                    return prev
                return prev[:start] + name + prev[end:]
            return question
        if mine or not theirs:
            return question
        ent = theirs[-1][2]
        return self._carry(question, ent, zh)

    def _residue(self, question: str, mentions: list[tuple[int, int, Entity]], zh: bool) -> str:
        text = question
        for start, end, _ in reversed(mentions):
            text = text[:start] + " " + text[end:]
        if zh:
            text = _ZH_START.sub("", text.strip())
            return _ZH_TAIL.sub("", text).strip()
        text = _EN_START.sub("", text)
        text = re.sub(r"\b(question|same)\b", " ", text, flags=re.IGNORECASE)
        return _FILLER_EN.sub(" ", text).strip()

    def _carry(self, question: str, ent: Entity, zh: bool) -> str:
        if zh:
            body = _ZH_START.sub("", question.strip())
            if _ZH_ANAPHORA.search(body):
                return _ZH_ANAPHORA.sub(lambda m: ent.zh + ("的" if m.group().endswith("的") else ""), body, count=1)
            return ent.zh + body
        body = _EN_START.sub("", question.strip())

        def sub(m: re.Match[str]) -> str:
            word = m.group().lower()
            return f"the {ent.en}'s" if word == "its" else f"the {ent.en}"

        if _EN_ANAPHORA.search(body):
            return _EN_ANAPHORA.sub(sub, body, count=1)
        body = body.rstrip(" ?.!")
        return f"{body} for the {ent.en}?"


def _name_re(name: str) -> str:
    escaped = re.escape(name)
    return rf"\b{escaped}\b" if name.isascii() else escaped


class LLMRewriter:
    """A generator rewrites the follow-up (few-shot); falls back to the rule-based rewrite on empty output."""

    def __init__(self, generator: Any, *, fallback: FollowupRewriter | None = None) -> None:
        self.generator = generator
        self.fallback = fallback or RuleBasedRewriter()

    def __call__(self, view: MemoryView, question: str) -> str:
        prev = view.last
        if prev is None:
            return question
        prev_q = str(prev.meta.get(META_STANDALONE) or prev.user)
        prompt = ("Rewrite the follow-up as a complete question.\n"
                  "Previous: what's the annual fee on the gold card?\nFollow-up: and the platinum one?\n"
                  "Complete: what's the annual fee on the platinum card?\n\n"
                  f"Previous: {prev_q}\nFollow-up: {question}\nComplete:")
        reply = self.generator.run(prompt=prompt, messages=[{"role": "user", "content": prompt}])["replies"][0]
        return reply.strip() or self.fallback(view, question)


_DEFAULT = RuleBasedRewriter()


def rewrite_followup(view: MemoryView, question: str, rewriter: FollowupRewriter | None = None) -> str:
    """The standalone form of ``question`` given the conversation in ``view`` (unchanged when not a follow-up)."""
    return (rewriter or _DEFAULT)(view, question)
