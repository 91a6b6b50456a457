"""VerdictModel: the real 0.5B chat model's yes/no log-odds, with and without its evaluated prefix kept."""

from __future__ import annotations

import pytest

from workbench.components.generators.verdict import VerdictModel
from workbench.errors import GeneratorError

pytestmark = pytest.mark.slow  # a real model: ~20 s on the shared 2 cores

SYSTEM = {"role": "system", "content": "Answer the question with one word: yes or no."}


def _ask(question: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": question}]


@pytest.fixture(scope="module")
def model() -> VerdictModel:
    m = VerdictModel("qwen2.5-coder-0.5b", context_window=256, purpose="the test")
    m.warm_up()
    return m


def test_yes_and_no_questions_score_on_either_side_of_zero(model: VerdictModel) -> None:
    yes = model.score(_ask("Is Paris the capital of France?"))
    no = model.score(_ask("Is the number 3 larger than the number 10?"))
    assert yes > 0 > no


def test_a_kept_prefix_gives_the_score_of_a_fresh_evaluation(model: VerdictModel) -> None:
    question = _ask("Is water wet?")
    model.score(_ask("Is ice cold?"))  # leaves the system turn evaluated
    kept = model.score(question)
    model._llm.n_tokens = 0  # forget everything: the next call evaluates the whole prompt
    fresh = model.score(question)
    assert kept == pytest.approx(fresh, abs=1e-3)


def test_a_prompt_beyond_the_context_is_a_generator_error(model: VerdictModel) -> None:
    with pytest.raises(GeneratorError, match="the test failed"):
        model.score(_ask("word " * 400 + "?"))
    assert model.score(_ask("Is Paris the capital of France?")) > 0  # usable afterwards
