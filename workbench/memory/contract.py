"""The one contract every :class:`~workbench.memory.stores.base.SessionStore` passes (pytest mixin).

A backend's test module subclasses :class:`SessionStoreContract` and provides a ``store`` fixture
(a fresh store with ``idle_ttl_s=IDLE_TTL_S``)::

    class TestSQLite(SessionStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return SQLiteSessionStore(tmp_path / "s.db", idle_ttl_s=SessionStoreContract.IDLE_TTL_S)
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from workbench.memory.errors import SessionIdError, SessionImportError, SessionNotFoundError
from workbench.memory.records import SessionExport
from workbench.memory.stores.inprocess import InProcessSessionStore

__all__ = ["SessionStoreContract"]


def _tenant() -> str:
    return "t-" + uuid.uuid4().hex[:10]


class SessionStoreContract:
    """Behaviour shared by every session store: order, isolation, summary, expiry, export/import, concurrency."""

    IDLE_TTL_S = 1.0

    def test_append_assigns_gap_free_seq_and_reads_in_order(self, store: Any) -> None:
        t = _tenant()
        seqs = [store.append(t, "s1", f"q{i}", f"a{i}", {"i": i}).seq for i in range(1, 6)]
        assert seqs == [1, 2, 3, 4, 5]
        turns = store.turns(t, "s1")
        assert [(x.seq, x.user, x.assistant, x.meta) for x in turns] == \
            [(i, f"q{i}", f"a{i}", {"i": i}) for i in range(1, 6)]
        assert [x.seq for x in store.turns(t, "s1", last=2)] == [4, 5]
        assert store.count(t, "s1") == 5

    def test_unknown_session_is_empty(self, store: Any) -> None:
        t = _tenant()
        assert store.turns(t, "nope") == [] and store.count(t, "nope") == 0
        assert store.get_summary(t, "nope") is None and store.delete(t, "nope") is False

    def test_unicode_round_trips(self, store: Any) -> None:
        t = _tenant()
        store.append(t, "s1", "金卡年费多少？", "600元/年 ✓", {"lang": "zh"})
        (turn,) = store.turns(t, "s1")
        assert (turn.user, turn.assistant, turn.meta) == ("金卡年费多少？", "600元/年 ✓", {"lang": "zh"})

    def test_tenants_are_isolated(self, store: Any) -> None:
        a, b = _tenant(), _tenant()
        store.append(a, "shared-id", "secret of a", "x")
        assert store.turns(b, "shared-id") == [] and store.count(b, "shared-id") == 0
        assert store.sessions(b) == [] and store.sessions(a) == ["shared-id"]
        assert store.delete(b, "shared-id") is False and store.count(a, "shared-id") == 1

    def test_a_session_belongs_to_the_user_who_started_it(self, store: Any) -> None:
        t = _tenant()
        store.append(t, "s1", "what's my credit limit?", "RMB 56,000 (u1)", owner="u1")
        assert store.owner(t, "s1") == "u1" and store.owner(t, "nope") is None
        for intruder in ("u2", None):                      # another user, or an anonymous caller
            with pytest.raises(SessionNotFoundError) as err:
                store.turns(t, "s1", owner=intruder)
            assert "u1" not in str(err.value) and err.value.http_status == 404
            with pytest.raises(SessionNotFoundError):
                store.append(t, "s1", "and my points?", "x", owner=intruder)
            with pytest.raises(SessionNotFoundError):
                store.turns(t, "s1", last=0, owner=intruder)
        assert [x.assistant for x in store.turns(t, "s1", owner="u1")] == ["RMB 56,000 (u1)"]   # untouched
        assert store.append(t, "s1", "q2", "a2", owner="u1").seq == 2
        assert store.count(t, "s1") == 2 and len(store.turns(t, "s1")) == 2      # operators read any session
        store.append(t, "anon", "q", "a")                    # no owner: an anonymous session
        assert store.owner(t, "anon") == "" and len(store.turns(t, "anon", owner=None)) == 1
        with pytest.raises(SessionNotFoundError):
            store.turns(t, "anon", owner="u1")
        other = _tenant()                                    # the same id in another tenant is another session
        assert store.append(other, "s1", "q", "a", owner="u2").seq == 1

    def test_the_owner_travels_with_an_export(self, store: Any) -> None:
        t = _tenant()
        store.append(t, "s1", "q", "a", owner="u7")
        doc = store.export(t, "s1").to_dict()
        assert doc["owner"] == "u7"
        store.delete(t, "s1")
        store.import_session(doc)
        assert store.owner(t, "s1") == "u7"
        with pytest.raises(SessionNotFoundError):
            store.turns(t, "s1", owner="u8")

    def test_concurrent_first_appends_by_two_users_leave_one_owner(self, store: Any) -> None:
        t = _tenant()
        outcome: dict[str, str] = {}

        def start(user: str) -> None:
            try:
                store.append(t, "race", f"q-{user}", "a", owner=user)
                outcome[user] = "ok"
            except SessionNotFoundError:
                outcome[user] = "refused"

        threads = [threading.Thread(target=start, args=(f"u{i}",)) for i in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        winners = [u for u, o in outcome.items() if o == "ok"]
        assert len(outcome) == 6 and len(winners) == 1
        assert store.owner(t, "race") == winners[0]
        assert [x.user for x in store.turns(t, "race")] == [f"q-{winners[0]}"]

    @pytest.mark.parametrize("bad", ["", "a:b", "has space", "x" * 129, None, "a*"])
    def test_bad_ids_are_rejected(self, store: Any, bad: Any) -> None:
        with pytest.raises(SessionIdError):
            store.append(bad, "s1", "q", "a")
        with pytest.raises(SessionIdError):
            store.turns("t", bad)

    def test_summary_only_moves_forward(self, store: Any) -> None:
        t = _tenant()
        for i in range(4):
            store.append(t, "s1", f"q{i}", f"a{i}")
        assert store.set_summary(t, "s1", "first two", 2) is True
        assert store.set_summary(t, "s1", "stale", 1) is False
        assert store.get_summary(t, "s1").text == "first two"
        assert store.set_summary(t, "s1", "first three", 3) is True
        s = store.get_summary(t, "s1")
        assert (s.text, s.upto_seq) == ("first three", 3)

    def test_delete_and_sessions(self, store: Any) -> None:
        t = _tenant()
        store.append(t, "s2", "q", "a")
        store.append(t, "s1", "q", "a")
        assert store.sessions(t) == ["s1", "s2"]
        assert store.delete(t, "s1") is True
        assert store.sessions(t) == ["s2"] and store.turns(t, "s1") == []
        assert store.append(t, "s1", "again", "a").seq == 1

    def test_export_import_round_trip_between_stores(self, store: Any) -> None:
        t = _tenant()
        for i in range(3):
            store.append(t, "s1", f"q{i}", f"a{i}", {"i": i})
        store.set_summary(t, "s1", "sum", 1)
        doc = store.export(t, "s1").to_dict()
        other = InProcessSessionStore()
        assert other.import_session(doc) == 3
        assert other.export(t, "s1") == SessionExport.from_dict(doc)
        store.delete(t, "s1")
        assert store.import_session(other.export(t, "s1")) == 3
        assert store.export(t, "s1").to_dict() == doc
        with pytest.raises(SessionImportError):
            store.import_session(doc)                       # exists: needs replace=True
        assert store.import_session(doc, replace=True) == 3 and store.count(t, "s1") == 3

    def test_malformed_import_is_refused(self, store: Any) -> None:
        with pytest.raises(SessionImportError):
            store.import_session({"format": "something-else"})
        doc = {"format": "workbench.session/1", "tenant": "t", "session": "s",
               "turns": [{"seq": 2, "user": "q", "assistant": "a", "ts": 0.0}]}
        with pytest.raises(SessionImportError):
            store.import_session(doc)

    def test_idle_sessions_expire(self, store: Any) -> None:
        t = _tenant()
        store.append(t, "old", "q", "a")
        time.sleep(self.IDLE_TTL_S * 1.6)
        store.append(t, "fresh", "q", "a")
        assert store.turns(t, "old") == [] and store.count(t, "old") == 0
        assert store.sessions(t) == ["fresh"]
        store.expire_idle()
        assert store.count(t, "fresh") == 1
        assert store.append(t, "old", "new start", "a").seq == 1   # an expired session starts over

    def test_concurrent_appends_never_collide(self, store: Any) -> None:
        t = _tenant()
        errors: list[BaseException] = []

        def worker(w: int) -> None:
            try:
                for i in range(15):
                    store.append(t, "s1", f"w{w}-{i}", "a")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        turns = store.turns(t, "s1")
        assert [x.seq for x in turns] == list(range(1, 61))
        assert sorted(x.user for x in turns) == sorted(f"w{w}-{i}" for w in range(4) for i in range(15))
        for w in range(4):   # each worker's own turns stay in its order
            mine = [int(x.user.split("-")[1]) for x in turns if x.user.startswith(f"w{w}-")]
            assert mine == sorted(mine)
