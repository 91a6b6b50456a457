"""A direct judge prompt: the model reads the question, the gold answers, the evidence and the answer, and
replies with one word, ``correct``, ``partly`` or ``wrong``, following a short version of the labelling
rules (``datasets/meridian_bank/labels/RULES.md``). Worked examples (about a car park and a library, never
the bank) go first as earlier chat turns, so llama.cpp reuses their prompt prefix across items::

    judge = PromptJudge(make_judge_generator("qwen2.5-coder-1.5b"), repeats=3)
    judge.judge(JudgeItem("how many free visits with gold", ("4 free visits per card year",), "4")).verdict

Variants (one per repeat): 0 = reference before answer, with evidence; 1 = answer before reference,
with evidence; 2 = reference before answer, without evidence.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.errors import GeneratorError
from workbench.evaluation.judge.base import Judge, JudgeItem
from workbench.evaluation.metrics.answer.answer_match import Verdict

__all__ = ["JUDGE_INSTRUCTION", "PromptJudge", "parse_verdict"]

JUDGE_INSTRUCTION = (
    "You check answers given by a customer-service assistant. Decide whether the ANSWER gives the customer the "
    "fact the QUESTION asks for, as the REFERENCE answer and the EVIDENCE from the document state it.\n"
    "- correct: the answer states the asked fact. Any wording, notation, unit or language is fine (RMB 50,000 = "
    "5万元, 36 months = 3 years); extra true text is fine; a bare number or a bare yes/no is enough when it "
    "answers the question.\n"
    "- partly: true but incomplete: a required condition is missing, only one end of a range, a menu path that "
    "stops early, some of several required items.\n"
    "- wrong: a different value, product, period or scope; the opposite yes/no; the right value offered beside "
    "a competing one; empty, off-topic, or \"not found\".\n"
    "Reply with one word: correct, partly or wrong."
)

# (question, reference, evidence, answer, verdict): a car park and a library, nothing from the bank.
_EXAMPLES: tuple[tuple[str, str, str, str, str], ...] = (
    ("how much is each hour after the free time", "5 dollars per started hour",
     "The first 2 hours are free. After that, each started hour costs 5 dollars.", "5 dollars", "correct"),
    ("续办的借书证有效期多久", "有效期为3年", "续办后有效期为3年。", "36个月", "correct"),
    ("how do i book a study room in the app", "Services > Rooms > Book a Room",
     "In the library app go to Services > Rooms > Book a Room.", "Services > Rooms", "partly"),
    ("逾期的书还能在网上续借吗", "已逾期的图书不能在线续借", "已逾期的图书不能在线续借，请先到服务台归还。", "可以", "wrong"),
    ("when does the car park close", "23:00", "The car park closes at 23:00 and opens at 06:00.", "06:00", "wrong"),
)

_WORDS = {"correct": "correct", "partly": "partly", "partial": "partly", "partially": "partly", "wrong": "wrong",
          "incorrect": "wrong", "正确": "correct", "部分正确": "partly", "部分": "partly", "错误": "wrong", "不正确": "wrong"}
_VERDICT_RE = re.compile(r"incorrect|partially|partial|partly|correct|wrong|部分正确|不正确|正确|部分|错误")


def parse_verdict(reply: str) -> Verdict:
    """The first verdict word in a reply (``Correct.``, ``verdict: partly``, 「错误」).

    :raises GeneratorError: the reply names no verdict.
    """
    m = _VERDICT_RE.search(reply.lower())
    if not m:
        raise GeneratorError(f"the judge's reply names no verdict: {reply[:80]!r}")
    return _WORDS[m.group(0)]  # type: ignore[return-value]


def _block(question: str, reference: str, evidence: str, answer: str, variant: int) -> str:
    ref = f"REFERENCE: {reference}"
    ans = f"ANSWER: {answer if answer.strip() else '(empty)'}"
    parts = [f"QUESTION: {question}"]
    parts += [ans, ref] if variant % 3 == 1 else [ref, ans]
    if evidence and variant % 3 != 2:
        parts.insert(1, f"EVIDENCE: {evidence}")
    return "\n".join(parts) + "\nVERDICT:"


class PromptJudge(Judge):
    """The direct judge prompt through any workbench generator (llama.cpp chat model or OpenAI-compatible).

    :param generator: an object with ``run(messages=...) -> {"replies", "meta"}`` (see
        :func:`~workbench.evaluation.judge.models.make_judge_generator`).
    :param repeats: votes per item (each with the next prompt variant).
    :param retries: extra attempts for an unreadable reply (with the next variant).
    :param examples: how many worked examples go first (0 to 5).
    """

    name = "prompt"

    def __init__(self, generator: Any, *, repeats: int = 1, retries: int = 2, examples: int = 5) -> None:
        super().__init__(repeats=repeats, retries=retries)
        if not hasattr(generator, "run"):
            raise TypeError("generator must have run(messages=...) (e.g. make_judge_generator('qwen2.5-coder-1.5b'))")
        self.generator = generator
        self.examples = _EXAMPLES[: max(0, min(examples, len(_EXAMPLES)))]

    def messages(self, item: JudgeItem, variant: int = 0) -> list[dict[str, str]]:
        """The chat messages of one attempt."""
        out = [{"role": "system", "content": JUDGE_INSTRUCTION}]
        for question, reference, evidence, answer, verdict in self.examples:
            out.append({"role": "user", "content": _block(question, reference, evidence, answer, 0)})
            out.append({"role": "assistant", "content": verdict})
        reference = " | ".join(item.references) if item.references else "(none: the documents do not answer this)"
        out.append({"role": "user", "content": _block(item.question, reference, item.evidence, item.answer, variant)})
        return out

    def _attempt(self, item: JudgeItem, variant: int) -> Verdict:
        messages = self.messages(item, variant)
        try:
            out = self.generator.run(prompt=messages[-1]["content"], messages=messages)
        except GeneratorError:
            raise
        except Exception as exc:  # a model or transport failure is a failed attempt, counted, not a crash
            raise GeneratorError(f"judge model failed: {type(exc).__name__}: {exc}") from exc
        meta = (out.get("meta") or [{}])[0]
        raw = meta.get("raw") if isinstance(meta.get("raw"), str) else (out.get("replies") or [""])[0]
        return parse_verdict(raw)
