"""The crash audit counts what it says: lost acknowledged turns, inversions, duplicates, phantoms."""

from __future__ import annotations

from workbench.evaluation.crash_worker import audit_session, turn_question


def _sent(n: int, doubt: frozenset[int] = frozenset()) -> list[tuple[int, str, str]]:
    return [(i, turn_question("s1", i), "doubt" if i in doubt else "acked") for i in range(1, n + 1)]


def test_a_faithful_store_has_nothing_to_report() -> None:
    sent = _sent(8, doubt=frozenset({5}))
    stored = [q for i, q, _ in sent if i != 5]
    assert audit_session(sent, stored) == {"lost": 0, "order_inversions": 0, "duplicates": 0, "phantoms": 0,
                                           "stored_in_doubt": 0}
    assert audit_session(sent, [q for _, q, _ in sent])["stored_in_doubt"] == 1   # in doubt, stored: fine


def test_losses_inversions_duplicates_and_phantoms_are_counted() -> None:
    sent = _sent(8)
    q = [text for _, text, _ in sent]
    assert audit_session(sent, q[:3] + q[4:])["lost"] == 1                          # turn 4 (common) missing
    assert audit_session(sent, [*q[:2], q[3], q[2], *q[4:]])["order_inversions"] == 1
    assert audit_session(sent, [*q, q[6]])["duplicates"] == 1
    assert audit_session(sent, [*q, "turn 99 of s9: what is the gold card annual fee?"])["phantoms"] == 1
    assert audit_session(sent, q[:6])["lost"] == 2


def test_odd_turns_are_unique_and_even_turns_common() -> None:
    assert turn_question("s1", 3) != turn_question("s2", 3) and "turn 3 of s1" in turn_question("s1", 3)
    assert not turn_question("s1", 2).startswith("turn ")
