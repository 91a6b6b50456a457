"""ConversationMemory: window, token cap, summary hook, async twins, tenant-safe import."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from workbench.config import MemoryConfig
from workbench.memory import (
    ConversationMemory,
    ExtractiveSummarizer,
    InProcessSessionStore,
    SessionImportError,
    SQLiteSessionStore,
    Turn,
)
from workbench.memory.tokens import approx_tokens, token_counter


def _memory(**kw: object) -> ConversationMemory:
    return ConversationMemory(InProcessSessionStore(), **kw)  # type: ignore[arg-type]


def test_window_keeps_the_last_n_turns() -> None:
    m = _memory(window_turns=3)
    for i in range(1, 8):
        m.append("bank", "s1", f"q{i}", f"a{i}")
    view = m.load("bank", "s1")
    assert [t.seq for t in view.turns] == [5, 6, 7]
    assert view.total_turns == 7 and view.last is not None and view.last.user == "q7"
    assert view.messages()[-2:] == [{"role": "user", "content": "q7"}, {"role": "assistant", "content": "a7"}]


def test_token_cap_drops_oldest_turns_first() -> None:
    calls: list[str] = []

    def tok(text: str) -> list[int]:          # 1 token per character: easy to reason about
        calls.append(text)
        return list(range(len(text)))

    m = _memory(window_turns=10, max_tokens=25, tokenizer=tok)
    for i in range(1, 5):
        m.append("bank", "s1", f"question{i}", "ok")      # 9 + 2 = 11 tokens per turn
    view = m.load("bank", "s1")
    assert [t.seq for t in view.turns] == [3, 4]
    assert view.tokens == 22 and view.tokens <= 25
    assert calls, "the given tokenizer must be used"


def test_token_counter_accepts_counts_and_sequences() -> None:
    assert token_counter(lambda s: 7)("abc") == 7
    assert token_counter(lambda s: [1, 2])("abc") == 2
    assert approx_tokens("金卡 annual fee 600?") == 2 + 2 + 1 + 1


def test_summary_hook_folds_turns_that_leave_the_window() -> None:
    seen: list[tuple[str | None, list[int]]] = []

    def summarizer(previous: str | None, turns: Sequence[Turn]) -> str:
        seen.append((previous, [t.seq for t in turns]))
        return f"{previous or ''}[{','.join(str(t.seq) for t in turns)}]"

    m = _memory(window_turns=2, summarize=True, summarizer=summarizer)
    for i in range(1, 6):
        m.append("bank", "s1", f"q{i}", f"a{i}")
    assert seen == [(None, [1]), ("[1]", [2]), ("[1][2]", [3])]
    view = m.load("bank", "s1")
    assert view.summary == "[1][2][3]" and [t.seq for t in view.turns] == [4, 5]
    assert view.messages()[0]["role"] == "system" and "[1][2][3]" in view.as_text()


def test_a_failing_summarizer_never_fails_the_append(caplog: pytest.LogCaptureFixture) -> None:
    def boom(previous: str | None, turns: Sequence[Turn]) -> str:
        raise RuntimeError("model crashed")

    m = _memory(window_turns=1, summarize=True, summarizer=boom)
    with caplog.at_level(logging.ERROR):
        for i in range(3):
            m.append("bank", "s1", f"q{i}", "a")
    assert m.load("bank", "s1").summary is None and "summarizer failed" in caplog.text


def test_extractive_summarizer_is_capped() -> None:
    s = ExtractiveSummarizer(max_chars=80)
    turns = [Turn(i, "what is the gold card annual fee " * 3, "RMB 600 " * 20, 0.0) for i in range(1, 6)]
    text = s(None, turns)
    assert len(text) <= 80 and "RMB 600" in text


def test_from_config_builds_the_configured_store(tmp_path: object) -> None:
    cfg = MemoryConfig(enabled=True, store="sqlite", url=f"{tmp_path}/m.sqlite3", window_turns=2, max_tokens=64)
    m = ConversationMemory.from_config(cfg)
    assert isinstance(m.store, SQLiteSessionStore) and m.window_turns == 2 and m.max_tokens == 64
    assert m.summarizer is None
    m.store.close()


async def test_async_twins_match_sync(tmp_path: object) -> None:
    for store in (InProcessSessionStore(), SQLiteSessionStore(f"{tmp_path}/a.sqlite3")):
        m = ConversationMemory(store, window_turns=4)
        t = await m.aappend("bank", "s1", "gold card annual fee?", "RMB 600", meta={"standalone": "x"})
        assert t.seq == 1
        view = await m.aload("bank", "s1")
        assert view == m.load("bank", "s1") and view.turns[0].meta == {"standalone": "x"}
        store.close()


def test_import_refuses_another_tenants_export() -> None:
    m = _memory()
    m.append("tenant-a", "s1", "q", "a")
    doc = m.export("tenant-a", "s1")
    with pytest.raises(SessionImportError, match="belongs to tenant 'tenant-a'"):
        m.import_session("tenant-b", doc)
    assert m.load("tenant-b", "s1").turns == ()
    m.clear("tenant-a", "s1")
    assert m.import_session("tenant-a", doc) == 1
