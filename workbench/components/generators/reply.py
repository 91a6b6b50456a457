"""Post-processing shared by the LLM generators."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["NOT_FOUND_REPLIES", "clean_reply", "is_not_found"]


def clean_reply(text: str, stop: Sequence[str] = ("\n",)) -> str:
    """Cut at the first stop string and trim: small base models never stop by themselves and go on to
    invent new "Context:" blocks after the answer."""
    for s in stop:
        if s and s in text.lstrip():
            text = text.lstrip().split(s, 1)[0]
    return text.strip().strip('"“”').strip()


#: The reply a model is told to give when its context does not answer (``prompt.not_found``), per language.
NOT_FOUND_REPLIES = {"en": "NOT FOUND", "zh": "没有找到"}
_NOT_FOUND_UPPER = frozenset(r.upper() for r in NOT_FOUND_REPLIES.values())


def is_not_found(reply: str) -> bool:
    """Whether ``reply`` is the "the context does not answer" reply of :data:`NOT_FOUND_REPLIES` (in either
    language, case and surrounding punctuation ignored; a reply that goes on to answer is not).

    >>> is_not_found("NOT FOUND."), is_not_found("没有找到。"), is_not_found("Not found in branch 3: RMB 50")
    (True, True, False)
    """
    text = reply.strip().strip(" .。!！\"'“”「」*").upper()
    return text in _NOT_FOUND_UPPER
