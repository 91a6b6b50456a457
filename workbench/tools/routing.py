"""Choosing a tool for a question: a deterministic intent router, and an LLM router with JSON output.

```python
router = IntentRouter(today="2026-06-15")
router.route("how much is my may bill?", specs)       # ToolChoice('get_bill', {'month': '2026-05'})
router.route("what's the gold card annual fee?", specs)  # None: not about the user's own data
```
The intent router needs a personal question ("my", "I", "我") that is not a how-to ("how do I
raise my limit" is a help-centre question) and a tool keyword; it extracts arguments (a month, a
currency) from the text. :class:`LLMRouter` asks the model for ``{"tool": ..., "arguments": ...}``
and falls back to the intent router when the output is not valid JSON naming an allowed tool with
valid arguments: small local models often fail at structured output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from workbench.text import detect_language
from workbench.tools.errors import ToolArgumentError
from workbench.tools.spec import ToolSpec

__all__ = ["IntentRouter", "LLMRouter", "ToolChoice", "extract_month"]


@dataclass(frozen=True)
class ToolChoice:
    """A tool to call and its model-facing arguments."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    router: str = "intent"


_PERSONAL_EN = re.compile(r"\b(my|me|i|i'm|i've|mine|do i|have i)\b", re.IGNORECASE)
_PERSONAL_ZH = re.compile(r"我")
_HOWTO = re.compile(r"\bhow (do|can|should|to)\b|\bwhere (do|can)\b|怎么|如何|怎样|在哪", re.IGNORECASE)
_MONTHS_EN = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                          "nov", "dec"), start=1)}
_ZH_NUM = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11,
           "十二": 12}
_CURRENCIES = {"usd": "USD", "dollar": "USD", "美元": "USD", "eur": "EUR", "euro": "EUR", "欧元": "EUR",
               "hkd": "HKD", "港币": "HKD", "港元": "HKD", "jpy": "JPY", "yen": "JPY", "日元": "JPY",
               "gbp": "GBP", "pound": "GBP", "英镑": "GBP"}


def _shift(today: date, months: int) -> str:
    y, m = divmod(today.year * 12 + today.month - 1 + months, 12)
    return f"{y:04d}-{m + 1:02d}"


def extract_month(text: str, today: date) -> str | None:
    """A statement month (YYYY-MM) named in ``text``: explicit, a month name/number (the latest such month
    not after ``today``), or relative ("last month", "上个月", "this month", "本月")."""
    t = text.lower()
    if m := re.search(r"\b(20\d\d)[-/.](0?[1-9]|1[0-2])\b", t):
        return f"{m.group(1)}-{int(m.group(2)):02d}"
    if re.search(r"last month|previous month|上个?月", t):
        return _shift(today, -1)
    if re.search(r"this month|current month|本月|这个月", t):
        return _shift(today, 0)
    month = None
    if m := re.search(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", t):
        month = _MONTHS_EN[m.group(1)]
    elif m := re.search(r"(1[0-2]|[1-9])\s*月", t):
        month = int(m.group(1))
    elif m := re.search(r"(十二|十一|十|[一二三四五六七八九])月", t):
        month = _ZH_NUM[m.group(1)]
    if month is None:
        return None
    year = today.year if month <= today.month else today.year - 1
    return f"{year:04d}-{month:02d}"


class IntentRouter:
    """Deterministic routing by the tools' own keywords (see the module docstring)."""

    def __init__(self, *, today: str | date | None = None) -> None:
        self.today = date.fromisoformat(today) if isinstance(today, str) else today

    def route(self, question: str, specs: Sequence[ToolSpec]) -> ToolChoice | None:
        """The tool for ``question`` among ``specs`` (already filtered by the tenant's policy), or None."""
        lang = detect_language(question)
        q = question.lower()
        personal = (_PERSONAL_ZH if lang == "zh" else _PERSONAL_EN).search(q) is not None
        best: tuple[int, ToolSpec] | None = None
        for spec in specs:
            words = [*spec.keywords.get(lang, ()), *(spec.keywords.get("en", ()) if lang == "zh" else ())]
            score = max((len(w) for w in words if w.lower() in q), default=0)
            if score and (best is None or score > best[0]):
                best = (score, spec)
        if best is None:
            return None
        spec = best[1]
        if spec.context and (not personal or _HOWTO.search(q)):
            return None                       # personal tools answer personal questions only
        args = self._arguments(question, spec)
        return None if args is None else ToolChoice(spec.name, args, "intent")

    def _arguments(self, question: str, spec: ToolSpec) -> dict[str, Any] | None:
        args: dict[str, Any] = {}
        props = spec.parameters.get("properties", {})
        for name, schema in props.items():
            value: Any = None
            if name == "month":
                value = extract_month(question, self.today or date.today())
            elif "enum" in schema:
                low = question.lower()
                value = next((code for word, code in _CURRENCIES.items() if word in low and code in schema["enum"]),
                             None) or next((v for v in schema["enum"] if str(v).lower() in low), None)
            if value is None and name in spec.parameters.get("required", []):
                return None                   # cannot fill a required argument: do not guess
            if value is not None:
                args[name] = value
        return args


class LLMRouter:
    """The model picks a tool as JSON; invalid output falls back to :class:`IntentRouter`."""

    def __init__(self, generator: Any, *, fallback: IntentRouter | None = None) -> None:
        self.generator = generator
        self.fallback = fallback or IntentRouter()
        self.fallbacks = 0

    def prompt(self, question: str, specs: Sequence[ToolSpec]) -> str:
        """The structured-output prompt."""
        tools = "\n".join(json.dumps(s.schema(), ensure_ascii=False) for s in specs)
        return ("You can call one of these tools to answer the customer's question about their own account.\n"
                f"{tools}\n"
                'Reply with JSON only: {"tool": "<name>", "arguments": {...}} or {"tool": null} if no tool is needed.\n'
                f"Question: {question}\nJSON:")

    def route(self, question: str, specs: Sequence[ToolSpec]) -> ToolChoice | None:
        """Ask the model; validate; fall back to the intent router on anything invalid."""
        prompt = self.prompt(question, specs)
        try:
            reply = self.generator.run(prompt=prompt, messages=[{"role": "user", "content": prompt}])["replies"][0]
            choice = self._parse(reply, specs)
        except (ValueError, KeyError, TypeError, ToolArgumentError):
            choice = False
        if choice is False:
            self.fallbacks += 1
            return self.fallback.route(question, specs)
        return choice

    @staticmethod
    def _parse(reply: str, specs: Sequence[ToolSpec]) -> ToolChoice | bool | None:
        m = re.search(r"\{.*\}", reply, re.DOTALL)
        if m is None:
            return False
        obj = json.loads(m.group())
        name = obj.get("tool")
        if name is None:
            return None
        spec = next((s for s in specs if s.name == name), None)
        if spec is None:
            return False
        return ToolChoice(name, spec.validate(obj.get("arguments") or {}), "llm")
