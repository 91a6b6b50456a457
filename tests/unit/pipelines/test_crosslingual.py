"""Cross-lingual retrieval by language partition: which documents exist only elsewhere, and the reserved ranks."""

from __future__ import annotations

import pytest
from haystack import Document

from workbench.pipelines.crosslingual import CrossLingualSlots, only_elsewhere


def _p(doc_id: str, lang: str, part: int = 0, topic: str | None = None, score: float = 0.5) -> Document:
    meta = {"doc_id": doc_id, "lang": lang}
    if topic is not None:
        meta["topic"] = topic
    return Document(id=f"{doc_id}#{part}", content=f"{doc_id} {part}", meta=meta, score=score)


def test_only_elsewhere_follows_the_translation_key() -> None:
    store = [_p("fee-en", "en", topic="fee"), _p("fee-zh", "zh", topic="fee"), _p("cd-zh", "zh", topic="cd"),
             _p("cd-zh", "zh", 1, topic="cd"), _p("lounge-en", "en", topic="lounge"), _p("loose-zh", "zh")]
    found = only_elsewhere(store, key="topic")
    assert found["en"] == ["cd-zh", "loose-zh"]        # no English version; a document without the key counts
    assert found["zh"] == ["lounge-en"]
    # without a translation key every other-language document is a candidate
    assert only_elsewhere(store, key=None)["en"] == ["cd-zh", "fee-zh", "loose-zh"]
    # a language with no documents at all: everything is elsewhere
    assert only_elsewhere(store, key="topic", languages=("fr",))["fr"] == ["cd-zh", "fee-en", "fee-zh", "loose-zh",
                                                                          "lounge-en"]


def _ranked(*ids: str) -> list[Document]:
    return [_p(i.split("#")[0], "en", int(i.split("#")[1]) if "#" in i else 0) for i in ids]


def test_slots_take_the_reserved_ranks_and_keep_the_length() -> None:
    docs = _ranked("a", "b", "c", "d", "e")
    other = [_p("x", "zh", score=0.8), _p("x", "zh", 1, score=0.79), _p("y", "zh", score=0.7), _p("z", "zh")]
    out = CrossLingualSlots(slots=2, rank=4).run(documents=docs, other=other)["documents"]
    assert [d.meta["doc_id"] for d in out] == ["a", "b", "c", "x", "y"]
    assert [d.id for d in out[3:]] == ["x#0", "y#0"]            # each document once, at its best passage
    assert out[3].meta["cross_lingual"] is True and "cross_lingual" not in other[0].meta  # input left alone
    assert all("cross_lingual" not in d.meta for d in out[:3])


def test_a_document_already_ranked_ahead_is_not_moved_and_a_lower_one_moves_up() -> None:
    docs = _ranked("a", "x", "b", "c", "y#1", "d")
    other = [_p("x", "zh"), _p("y", "zh"), _p("z", "zh")]
    out = CrossLingualSlots(slots=2, rank=3).run(documents=docs, other=other)["documents"]
    # x is already at rank 2 (kept, not duplicated); y moves up from rank 5 and z takes the second slot
    assert [d.id for d in out] == ["a#0", "x#0", "y#0", "z#0", "b#0", "c#0"]


def test_short_lists_and_empty_partitions_are_left_alone() -> None:
    slots = CrossLingualSlots(slots=2, rank=4)
    short = _ranked("a", "b")
    assert slots.run(documents=short, other=[_p("x", "zh")])["documents"] == short
    full = _ranked("a", "b", "c", "d")
    assert slots.run(documents=full, other=[])["documents"] == full
    # exactly rank - 1 passages: the reserved ranks lie past the end
    assert slots.run(documents=_ranked("a", "b", "c"), other=[_p("x", "zh")])["documents"] == _ranked("a", "b", "c")


def test_bad_settings_and_round_trip() -> None:
    with pytest.raises(ValueError, match="slots and rank"):
        CrossLingualSlots(slots=0)
    with pytest.raises(ValueError, match="slots and rank"):
        CrossLingualSlots(rank=0)
    again = CrossLingualSlots.from_dict(CrossLingualSlots(slots=3, rank=2).to_dict())
    assert (again.slots, again.rank) == (3, 2)


def test_slotted_passages_take_the_scores_of_the_ranks_they_fill() -> None:
    docs = [_p(i, "en", score=s) for i, s in zip("abcde", (0.05, 0.04, 0.03, 0.02, 0.01), strict=True)]
    other = [_p("x", "zh", score=0.8), _p("y", "zh", score=0.7)]
    out = CrossLingualSlots(slots=2, rank=4).run(documents=docs, other=other)["documents"]
    assert [d.score for d in out] == [0.05, 0.04, 0.03, 0.02, 0.01]  # one scale, descending
    assert [d.meta["cross_lingual_score"] for d in out[3:]] == [0.8, 0.7]
    assert other[0].score == 0.8 and "cross_lingual_score" not in other[0].meta
    # a reserved rank past the list's end takes the last score (then the list keeps its length)
    out = CrossLingualSlots(slots=2, rank=5).run(documents=docs, other=other)["documents"]
    assert [d.meta["doc_id"] for d in out] == ["a", "b", "c", "d", "x"] and out[4].score == 0.01
    assert CrossLingualSlots(rank=1).run(documents=[], other=other)["documents"] == []
