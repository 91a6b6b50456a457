"""The token cap counted with a real generator tokenizer (llama.cpp, bundled SmolLM2-135M)."""

from __future__ import annotations

import pytest

from workbench.errors import ModelNotFoundError
from workbench.memory import ConversationMemory, InProcessSessionStore


@pytest.mark.slow
def test_token_cap_with_the_generators_tokenizer() -> None:
    from workbench.components.generators.llama_cpp_generator import LlamaCppGenerator

    gen = LlamaCppGenerator("smollm2-135m", threads=1)
    try:
        gen.warm_up()
    except ModelNotFoundError as exc:
        pytest.skip(f"bundled model not installed: {exc}")
    m = ConversationMemory(InProcessSessionStore(), window_turns=10, max_tokens=40, tokenizer=gen.tokenize)
    texts = [("what's the annual fee on the gold card?", "RMB 600 per year."),
             ("金卡年费多少", "600元/年"), ("and for the platinum one?", "RMB 2,000")]
    for q, a in texts:
        m.append("bank", "s1", q, a)
    view = m.load("bank", "s1")
    exact = sum(len(gen.tokenize(t.user)) + len(gen.tokenize(t.assistant)) for t in view.turns)
    assert view.tokens == exact <= 40
    assert 0 < len(view.turns) < 3 and view.turns[-1].seq == 3      # the oldest turn did not fit
