"""The abstention gate's logic: signals, the logistic model and its fitting, the stage's decision and outputs."""

from __future__ import annotations

import numpy as np
import pytest
from haystack import Document

from workbench.pipelines.abstention import (
    ABSTAIN_ANSWERS,
    AbstentionGate,
    CorpusVocabulary,
    GateModel,
    abstain_answer,
    grounding_lines,
    retrieval_signals,
)
from workbench.stores import FaissDocumentStore

PASSAGES = [
    Document(id="gold#0", content="Gold card\nAnnual fee: the main card costs RMB 600 per year.",
             meta={"doc_id": "gold", "lang": "en", "title": "Gold card"}),
    Document(id="lost#0", content="Lost credit card\nThe replacement fee for a lost credit card is RMB 50.",
             meta={"doc_id": "lost", "lang": "en", "title": "Lost credit card"}),
    Document(id="gold-zh#0", content="金卡\n金卡主卡年费600元/年。", meta={"doc_id": "gold-zh", "lang": "zh", "title": "金卡"}),
]


def _store() -> FaissDocumentStore:
    store = FaissDocumentStore(dim=4)
    store.write(PASSAGES, np.eye(4, dtype=np.float32)[:3])
    return store


def _hits(*scores: float) -> list[Document]:
    return [Document(id=d.id, content=d.content, meta=d.meta, score=s) for d, s in zip(PASSAGES, scores, strict=False)]


def test_abstain_answer_speaks_the_question_language() -> None:
    assert abstain_answer("zh") == ABSTAIN_ANSWERS["zh"] == "资料中没有找到相关内容"
    assert abstain_answer("en") == abstain_answer("fr") == "I couldn't find that in the knowledge base"


def test_retrieval_signals() -> None:
    vocab = CorpusVocabulary(d.content or "" for d in PASSAGES)
    assert vocab.n == 3 and vocab.known("replacement") and not vocab.known("debit")
    assert vocab.idf("debit") > vocab.idf("replacement") > vocab.idf("card")
    docs = _hits(0.9, 0.8)
    s = retrieval_signals("gold card annual fee", docs, dense=docs, bm25=docs, vocabulary=vocab)
    assert s["dense_top1"] == pytest.approx(0.9) and s["coverage"] == pytest.approx(1.0) and s["unknown_words"] == 0
    assert s["bm25_per_token"] == pytest.approx(0.9 / 4)
    debit = retrieval_signals("replacement fee lost debit card", list(reversed(docs)), dense=None, bm25=[],
                              vocabulary=vocab)
    assert debit["dense_top1"] is None and debit["bm25_per_token"] == 0.0  # not configured / nothing matched
    assert 0 < debit["unknown_words"] < 1 and debit["coverage"] == pytest.approx(1 - debit["unknown_words"])
    # the best passage *of the question's language* is read (a Chinese passage ranked first is skipped)
    zh_first = [PASSAGES[2], PASSAGES[0]]
    assert retrieval_signals("gold card annual fee", zh_first, dense=None, bm25=None,
                             vocabulary=vocab)["coverage"] == pytest.approx(1.0)


def test_gate_model_logit_and_missing_signals() -> None:
    gate = GateModel(bias=10.0, weights={"dense_top1": -12.0, "coverage": -2.0})
    assert gate.logit({"dense_top1": 0.9, "coverage": 0.5}) == pytest.approx(10 - 10.8 - 1.0)
    assert gate.logit({"dense_top1": 0.9, "coverage": None}) is None
    assert gate.logit({"coverage": 1.0}) is None
    assert GateModel(bias=-1.0).logit({}) == -1.0
    assert GateModel(bias=0.123456, weights={"coverage": 1.0}).to_config() == {"bias": 0.1235,
                                                                               "weights": {"coverage": 1.0}}


def test_fit_separates_and_keeps_false_abstentions_within_the_cap() -> None:
    rng = np.random.default_rng(7)
    answerable = [{"dense_top1": float(v), "coverage": float(c)}
                  for v, c in zip(rng.normal(0.9, 0.02, 400), rng.uniform(0.4, 1.0, 400), strict=True)]
    unanswerable = [{"dense_top1": float(v), "coverage": float(c)}
                    for v, c in zip(rng.normal(0.82, 0.02, 100), rng.uniform(0.0, 0.6, 100), strict=True)]
    rows = answerable + unanswerable
    labels = [False] * 400 + [True] * 100
    gate = GateModel.fit(rows, labels, signals=("dense_top1", "coverage"), max_false_abstain=0.05)
    assert gate.weights["dense_top1"] < 0 and gate.weights["coverage"] < 0  # lower signal, more likely to abstain
    false_abstain = np.mean([gate.logit(r) > 0 for r in answerable])  # type: ignore[operator]
    recall = np.mean([gate.logit(r) > 0 for r in unanswerable])  # type: ignore[operator]
    assert false_abstain <= 0.05 and recall >= 0.9
    strict = GateModel.fit(rows, labels, signals=("dense_top1", "coverage"), max_false_abstain=0.0)
    assert not any(strict.logit(r) > 0 for r in answerable)  # type: ignore[operator]


def test_fit_rejects_bad_input() -> None:
    rows = [{"dense_top1": 0.9}, {"dense_top1": 0.8}]
    with pytest.raises(ValueError, match="unknown signals"):
        GateModel.fit(rows, [False, True], signals=("cosine",))
    with pytest.raises(ValueError, match="both classes"):
        GateModel.fit(rows, [False, False], signals=("dense_top1",))
    with pytest.raises(ValueError, match="every row needs"):
        GateModel.fit(rows, [False, True], signals=("dense_top1", "coverage"))


def test_gate_stage_passes_or_stops_the_request() -> None:
    store = _store()
    gate = AbstentionGate(store, gates={"en": {"bias": 45.0, "weights": {"dense_top1": -50.0}}}, lexical=False)
    near = _hits(0.95, 0.8)
    out = gate.run(question="gold card annual fee", documents=near, dense=near, bm25=[])
    assert out["question"] == "gold card annual fee" and out["documents"] == near
    assert out["abstention"]["abstained"] is False and out["abstention"]["score"] == pytest.approx(45 - 47.5)
    assert out["abstention"]["signals"]["bm25_per_token"] is None  # BM25 not configured: not read
    far = _hits(0.8, 0.7)
    stopped = gate.run(question="weather in paris tomorrow", documents=far, dense=far, bm25=[])
    assert set(stopped) == {"abstention"}  # nothing for the prompt and generator: they do not run
    assert stopped["abstention"]["abstained"] is True and stopped["abstention"]["reason"] == "gate"
    # no passages at all: abstain whatever the gate; no gate for the language: answer
    assert gate.run(question="x", documents=[], dense=[], bm25=[])["abstention"]["reason"] == "no passages"
    zh = gate.run(question="今晚会下雨吗", documents=far, dense=far, bm25=[])
    assert zh["abstention"]["abstained"] is False and "documents" in zh
    # a plan without dense retrieval: the weighted signal is missing, so the gate cannot decide and answers
    lexical_only = gate.run(question="weather in paris", documents=far, dense=[], bm25=[])
    assert lexical_only["abstention"]["score"] is None and "documents" in lexical_only
    # the threshold moves the cut
    lenient = AbstentionGate(store, gates=gate.gates, threshold=10.0, lexical=False)
    assert "documents" in lenient.run(question="weather in paris tomorrow", documents=far, dense=far, bm25=[])


def test_gate_round_trips_through_a_saved_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = _store()
    gate = AbstentionGate(store, gates={"en": {"bias": 1.0, "weights": {"coverage": -2.0}}}, threshold=0.5)
    with pytest.raises(Exception, match="never saved"):
        gate.to_dict()
    store.save(tmp_path / "kb")
    again = AbstentionGate.from_dict(gate.to_dict())
    assert again.gates == gate.gates and again.threshold == 0.5 and again.store.count == 3


def test_vocabulary_follows_an_update_of_the_store() -> None:
    store = _store()
    gate = AbstentionGate(store, gates={})
    before = gate.vocabulary()
    assert gate.vocabulary() is before  # counted once
    store.write([Document(id="debit#0", content="Debit card validity", meta={"doc_id": "debit", "lang": "en"})],
                np.eye(4, dtype=np.float32)[3:])
    assert gate.vocabulary() is before  # the same passage list, appended to in place
    store.documents = list(store.documents)  # an update replaces the list (update_knowledge_base)
    assert gate.vocabulary().known("debit")


def test_grounding_lines_read_the_question_language_then_other_titles() -> None:
    lines = grounding_lines("lost credit card replacement fee", PASSAGES, sentences=2)
    assert lines[0] == "The replacement fee for a lost credit card is RMB 50."
    assert len(lines) == 3 and lines[-1].startswith("金卡: ")
