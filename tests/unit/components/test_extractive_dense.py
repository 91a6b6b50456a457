"""The extractive answerer's dense sentence signal (real multilingual-e5-small) and the sentence-vector store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from haystack import Document

from workbench.components import ExtractiveAnswerer
from workbench.components.generators.extractive import passage_sentences, rank_sentences
from workbench.components.generators.sentence_vectors import SentenceVectors, passage_digest

QUESTION = "how do i reset my forgotten password"
RIGHT = "Tap Forgot password on the sign-in screen and confirm the SMS code to choose a new one."
# shares "password" and the heading's words with the question, and is shorter: lexically it wins
LURE = "Your password and your user name are never shown to our staff."
SIGN_IN = Document(id="s#0", content=f"Signing in\n{LURE}\n{RIGHT}\nThe app supports fingerprint sign-in.\n"
                   "Branches open at 9 am.", meta={"doc_id": "s", "title": "Cards"})
OTHER = Document(id="o#0", content="Fees\nThe gold card costs RMB 600 per year.\nThe fee is waived after 12 purchases.",
                 meta={"doc_id": "o", "title": "Gold card"})


@pytest.fixture(scope="module")
def vectors(e5) -> SentenceVectors:  # type: ignore[no-untyped-def]
    return SentenceVectors.build([SIGN_IN, OTHER], e5, key="test")


def test_the_dense_signal_picks_the_sentence_that_means_the_question(e5, vectors: SentenceVectors) -> None:  # type: ignore[no-untyped-def]
    q = e5.embed_queries([QUESTION])[0]
    lexical = ExtractiveAnswerer(return_sentence=True)
    dense = ExtractiveAnswerer(return_sentence=True, sentence_vectors=vectors, dense_weight=1.0)
    assert lexical.answer(QUESTION, [SIGN_IN], query_embedding=q)[0] == LURE  # no vectors: lexical, embedding unused
    answer, meta = dense.answer(QUESTION, [SIGN_IN], query_embedding=q)
    assert answer == RIGHT and meta["dense"] is True
    assert dense.answer(QUESTION, [SIGN_IN])[1]["dense"] is False  # no query embedding: lexical
    out = dense.run(question=QUESTION, documents=[SIGN_IN], query_embedding=q)
    assert out["replies"] == [RIGHT]
    ranked = rank_sentences(QUESTION, [SIGN_IN], sentence_similarity=lambda d: vectors.vectors(d) @ q)  # type: ignore[operator]
    assert ranked[0].text == RIGHT and ranked[0].similarity == pytest.approx(float(vectors.vectors(SIGN_IN)[1] @ q))  # type: ignore[index]


def test_weight_zero_or_no_signal_is_the_lexical_ranking(e5, vectors: SentenceVectors) -> None:  # type: ignore[no-untyped-def]
    q = e5.embed_queries([QUESTION])[0]
    before = rank_sentences(QUESTION, [SIGN_IN, OTHER])
    zero = rank_sentences(QUESTION, [SIGN_IN, OTHER], sentence_similarity=lambda d: vectors.vectors(d) @ q,  # type: ignore[operator]
                          dense_weight=0.0)
    assert [(s.text, s.score) for s in zero] == [(s.text, s.score) for s in before]
    assert all(s.similarity is not None for s in zero) and all(s.similarity is None for s in before)
    unknown = rank_sentences(QUESTION, [SIGN_IN, OTHER], sentence_similarity=lambda d: None)  # nothing held
    assert [(s.text, s.score) for s in unknown] == [(s.text, s.score) for s in before]
    off = ExtractiveAnswerer(return_sentence=True, sentence_vectors=vectors, dense_weight=0.0)
    assert not off.dense and off.answer(QUESTION, [SIGN_IN], query_embedding=q)[0] == LURE
    with pytest.raises(ValueError, match="dense_weight"):
        ExtractiveAnswerer(dense_weight=-1)


def test_vectors_follow_the_passage_text_not_its_id(vectors: SentenceVectors) -> None:
    rows = vectors.vectors(SIGN_IN)
    assert rows is not None and rows.shape == (len(passage_sentences(SIGN_IN)), 384)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-3) and not rows.flags.writeable
    edited = Document(id=SIGN_IN.id, content=SIGN_IN.content + "\nNew: passkeys.", meta=SIGN_IN.meta)
    assert vectors.vectors(edited) is None and passage_digest(edited) != passage_digest(SIGN_IN)
    assert vectors.sentences == len(passage_sentences(SIGN_IN)) + len(passage_sentences(OTHER)) and len(vectors) == 2


def test_saved_vectors_load_without_a_model_call_and_keep_their_key(tmp_path: Path, e5, vectors: SentenceVectors) -> None:  # type: ignore[no-untyped-def]
    path = vectors.save(tmp_path)
    assert path.parent == tmp_path and vectors.path == path
    again = SentenceVectors.load(tmp_path, "e5-small", key="test")
    assert again is not None and again.path == path and again.stats["load_s"] >= 0
    assert np.array_equal(again.vectors(SIGN_IN), vectors.vectors(SIGN_IN))  # type: ignore[arg-type]
    assert SentenceVectors.load(tmp_path, "e5-small", key="another version") is None
    assert SentenceVectors.load(tmp_path, "minilm", key="test") is None
    # an answerer with saved vectors survives Haystack serialization
    dense = ExtractiveAnswerer(sentence_vectors=again, dense_weight=1.5)
    rebuilt = ExtractiveAnswerer.from_dict(dense.to_dict())
    q = e5.embed_queries([QUESTION])[0]
    assert rebuilt.dense_weight == 1.5 and rebuilt.answer(QUESTION, [SIGN_IN], query_embedding=q)[0] == RIGHT
    assert ExtractiveAnswerer.from_dict(ExtractiveAnswerer().to_dict()).sentence_vectors is None


def test_add_embeds_only_new_passages_and_retain_drops_the_gone(e5) -> None:  # type: ignore[no-untyped-def]
    store = SentenceVectors.build([SIGN_IN], e5)
    kept = store.vectors(SIGN_IN)
    assert store.add([SIGN_IN, OTHER, OTHER], e5) == len(passage_sentences(OTHER))  # SIGN_IN held, OTHER once
    assert store.vectors(SIGN_IN) is kept and store.vectors(OTHER) is not None
    assert store.retain([OTHER]) == 1 and store.vectors(SIGN_IN) is None and len(store) == 1
    with pytest.raises(ValueError, match="minilm"):
        SentenceVectors("minilm").add([OTHER], e5)
