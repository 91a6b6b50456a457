"""LLM judges of answer correctness: a direct judge prompt and ragas' reference-based metrics, with a local
model (llama.cpp) or any OpenAI-compatible one, repeated judging, retries, and failures kept visible.

```python
from workbench.evaluation.judge import JudgeItem, PromptJudge, make_judge_generator
judge = PromptJudge(make_judge_generator("qwen2.5-coder-1.5b"), repeats=3)
frame = judge.judge_many([JudgeItem("gold card fee?", ("RMB 600",), "600元")])
frame[["verdict", "votes", "failures", "variance"]]
```
"""

from workbench.evaluation.judge.base import VERDICT_SCORE, Judge, JudgeItem, JudgeVerdict, majority
from workbench.evaluation.judge.models import DEFAULT_JUDGE_MODEL, evidence_for, make_judge_generator
from workbench.evaluation.judge.prompt_judge import JUDGE_INSTRUCTION, PromptJudge, parse_verdict
from workbench.evaluation.judge.ragas_judge import RAGAS_JUDGE_METRICS, RagasJudge

__all__ = [
    "DEFAULT_JUDGE_MODEL",
    "JUDGE_INSTRUCTION",
    "Judge",
    "JudgeItem",
    "JudgeVerdict",
    "PromptJudge",
    "RAGAS_JUDGE_METRICS",
    "RagasJudge",
    "VERDICT_SCORE",
    "evidence_for",
    "majority",
    "make_judge_generator",
    "parse_verdict",
]
