"""Post-processing shared by the LLM generators."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["clean_reply"]


def clean_reply(text: str, stop: Sequence[str] = ("\n",)) -> str:
    """Cut at the first stop string and trim: small base models never stop by themselves and go on to
    invent new "Context:" blocks after the answer."""
    for s in stop:
        if s and s in text.lstrip():
            text = text.lstrip().split(s, 1)[0]
    return text.strip().strip('"“”').strip()
