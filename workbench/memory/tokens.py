"""Counting tokens for the history's token cap: the generator's real tokenizer, or an estimate.

```python
count = token_counter(generator.tokenize)     # a callable text -> list of ids (or an int)
count("金卡年费多少")                          # exact, with the model's tokenizer
approx_tokens("gold card annual fee?")         # estimate when no tokenizer is given
```
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["TokenCounter", "approx_tokens", "token_counter"]

TokenCounter = Callable[[str], int]
_PIECES = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def approx_tokens(text: str) -> int:
    """An estimate: one token per CJK character, per word, per digit run and per symbol (BPE is close)."""
    return len(_PIECES.findall(text))


def token_counter(tokenizer: Callable[[str], Any] | None) -> TokenCounter:
    """A counter from a tokenizer callable returning ids (a sequence) or a count; ``None``: :func:`approx_tokens`."""
    if tokenizer is None:
        return approx_tokens

    def count(text: str) -> int:
        if not text:
            return 0
        out = tokenizer(text)
        return int(out) if isinstance(out, int) else len(out)

    return count
