"""The prompt builder's sentence context ranked with the extractive answerer's dense signal (real
multilingual-e5-small sentence vectors and question embedding)."""

from __future__ import annotations

from pathlib import Path

import pytest
from haystack import Document, Pipeline

from workbench.components import ExtractiveAnswerer, PromptBuilder
from workbench.components.builders.prompt_builder import PROMPT_DENSE_WEIGHT
from workbench.components.generators.extractive import rank_sentences
from workbench.components.generators.sentence_vectors import SentenceVectors
from workbench.config import PromptConfig

QUESTION = "what should i do if my card is stolen"
RIGHT = "Call 95528 at once so we can freeze it, then order a replacement in the app."
# "stolen" and "card" make the lures win lexically; the right sentence shares no word with the question
LURES = ["Purchases of stolen goods made with a card are not covered.", "Card designs differ by tier."]
BRANCHES = "Branches open at 9 am on weekdays."
SAFETY = Document(id="c#0", content=f"Card safety\n{LURES[1]}\n{LURES[0]}\n{RIGHT}\n{BRANCHES}",
                  meta={"doc_id": "c", "title": "Cards"})
FEES = Document(id="f#0", content="Fees\nThe gold card costs RMB 600 per year.\nThe fee is waived after 12 purchases.",
                meta={"doc_id": "f", "title": "Gold card"})


@pytest.fixture(scope="module")
def vectors(e5) -> SentenceVectors:  # type: ignore[no-untyped-def]
    return SentenceVectors.build([SAFETY, FEES], e5, key="test")


def _builder(**kwargs) -> PromptBuilder:  # type: ignore[no-untyped-def]
    return PromptBuilder(context="sentences", max_sentences=3, **kwargs)


def test_the_dense_signal_changes_the_sentences_the_prompt_gives(e5, vectors: SentenceVectors) -> None:  # type: ignore[no-untyped-def]
    q = e5.embed_queries([QUESTION])[0]
    lexical = _builder(sentence_dense_weight=1.0).run(question=QUESTION, documents=[SAFETY], query_embedding=q)
    assert lexical["context"] == [*LURES, BRANCHES]  # no vectors: lexical, the embedding unused
    dense = _builder(sentence_vectors=vectors, sentence_dense_weight=1.0)
    assert dense.dense
    out = dense.run(question=QUESTION, documents=[SAFETY], query_embedding=q)
    assert out["context"] == [*LURES, RIGHT] and RIGHT in out["prompt"] and BRANCHES not in out["prompt"]
    assert RIGHT in out["messages"][-1]["content"]
    assert dense.run(question=QUESTION, documents=[SAFETY])["context"] == lexical["context"]  # no embedding
    # the extractive answerer's ranking, not a second one
    similarity = ExtractiveAnswerer(sentence_vectors=vectors, dense_weight=2.0).similarity(q)
    expected = [s.text for s in rank_sentences(QUESTION, [SAFETY, FEES], sentence_similarity=similarity,
                                               dense_weight=2.0)[:2]]
    two = PromptBuilder(context="sentences", max_sentences=2, sentence_vectors=vectors, sentence_dense_weight=2.0)
    assert two.context_texts(QUESTION, [SAFETY, FEES], query_embedding=q) == expected == [LURES[0], RIGHT]


def test_weight_zero_is_the_lexical_ranking(e5, vectors: SentenceVectors) -> None:  # type: ignore[no-untyped-def]
    q = e5.embed_queries([QUESTION])[0]
    zero = _builder(sentence_vectors=vectors, sentence_dense_weight=0.0)
    assert not zero.dense and not PromptBuilder(context="passages", sentence_vectors=vectors,
                                                sentence_dense_weight=1.0).dense
    out = zero.run(question=QUESTION, documents=[SAFETY, FEES], query_embedding=q)
    assert out["context"] == [s.text for s in rank_sentences(QUESTION, [SAFETY, FEES])[:3]]
    assert out["prompt"] == _builder().run(question=QUESTION, documents=[SAFETY, FEES])["prompt"]
    assert RIGHT not in out["context"]
    with pytest.raises(ValueError, match="dense_weight"):
        PromptBuilder(sentence_dense_weight=-1)


def test_the_default_weight_is_the_configs(vectors: SentenceVectors) -> None:
    assert PROMPT_DENSE_WEIGHT == PromptConfig().sentence_dense_weight
    assert PromptBuilder(sentence_vectors=vectors).sentence_dense_weight == PromptConfig().sentence_dense_weight


def test_haystack_surface_takes_the_embedding_as_an_optional_input(tmp_path: Path, e5,  # type: ignore[no-untyped-def]
                                                                   vectors: SentenceVectors) -> None:
    q = e5.embed_queries([QUESTION])[0]
    vectors.save(tmp_path)
    dense = _builder(sentence_vectors=SentenceVectors.load(tmp_path, "e5-small", key="test"),
                     sentence_dense_weight=1.5)
    rebuilt = PromptBuilder.from_dict(dense.to_dict())  # saved vectors travel by their file
    assert rebuilt.sentence_dense_weight == 1.5 and rebuilt.sentence_vectors is not None
    assert PromptBuilder.from_dict(PromptBuilder().to_dict()).sentence_vectors is None
    pipe = Pipeline()
    pipe.add_component("prompt_builder", rebuilt)
    with_embedding = pipe.run({"prompt_builder": {"question": QUESTION, "documents": [SAFETY], "query_embedding": q}})
    without = pipe.run({"prompt_builder": {"question": QUESTION, "documents": [SAFETY]}})
    assert RIGHT in with_embedding["prompt_builder"]["context"] and RIGHT not in without["prompt_builder"]["context"]
