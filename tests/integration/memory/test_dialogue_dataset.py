"""The dialogue part of the dataset: valid, big enough, and usable by the rewriter and the tool agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import ToolsConfig
from workbench.datasets import load_dataset
from workbench.datasets.validate import _conversation_problems
from workbench.evaluation.personalized import tool_answer_problems as _personalized_problems
from workbench.tools import InMemoryAuditLog, ToolCallingAgent
from workbench.tools.bank_fixture import FIXTURE_TODAY, build_bank_fixture

DS = load_dataset()


def test_dialogue_part_is_valid_and_big_enough() -> None:
    assert _conversation_problems(DS) == [] and _personalized_problems(DS) == []
    assert len(DS.conversations) >= 20 and {c.lang for c in DS.conversations} == {"en", "zh"}
    assert len(DS.personalized) >= 30 and {p.lang for p in DS.personalized} == {"en", "zh"}
    assert DS.manifest["counts"]["conversations"] == len(DS.conversations)


def test_fixture_is_deterministic(tmp_path: Path) -> None:
    a = build_bank_fixture(tmp_path / "a.sqlite3").read_bytes()
    b = build_bank_fixture(tmp_path / "b.sqlite3").read_bytes()
    assert a == b


async def test_agent_answers_the_personalized_questions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_BANK_DB", str(build_bank_fixture(tmp_path / "bank.sqlite3")))
    audit = InMemoryAuditLog()
    agent = ToolCallingAgent.from_config(ToolsConfig(enabled=True, policy={"bank": ("*",)}, audit_log=None),
                                         audit=audit, today=FIXTURE_TODAY)
    right_tool = right_answer = 0
    for p in DS.personalized:
        out = await agent.amaybe_call(p.tenant, p.user, p.question)
        if out is not None and out.tool == p.tool and out.arguments == p.arguments:
            right_tool += 1
            right_answer += all(a in out.answer for a in p.answers)
    assert right_tool == right_answer
    assert right_answer / len(DS.personalized) >= 0.9
    assert {r.who for r in audit.records()} <= {p.user for p in DS.personalized}
