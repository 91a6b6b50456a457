"""How the extractive answerer picks its sentence: stemmed matching, the passage's rank, the asked type."""

from haystack import Document

from workbench.components.generators.extractive import ExtractiveAnswerer, match_tokens, rank_sentences


def _doc(doc_id: str, title: str, body: str) -> Document:
    return Document(id=f"{doc_id}#0", content=f"{title}\n{body}", meta={"doc_id": doc_id, "title": title})


ATM = _doc("atm", "ATM services", "Cards retained by another bank's ATM are destroyed by that bank. "
           "Other banks' ATMs charge RMB 2 per withdrawal.")


def test_match_tokens_stem_english_and_keep_chinese_words() -> None:
    assert match_tokens("withdrawing") == match_tokens("withdrawal") == {"withdraw"}
    assert match_tokens("payments") == match_tokens("payment")
    assert "年费" in match_tokens("金卡年费多少")
    assert match_tokens("RMB 50,000") == {"rmb", "50000"}


def test_a_stemmed_word_picks_the_sentence() -> None:
    doc = _doc("abroad", "Travel", "Cash can be deposited abroad at partner banks in most countries. Withdrawals abroad need overseas access.")
    assert rank_sentences("withdrawing cash abroad", [doc])[0].text == "Withdrawals abroad need overseas access."


def test_the_asked_type_picks_the_sentence() -> None:
    ranked = rank_sentences("fee for withdrawing at another bank's atm", [ATM])
    assert ranked[0].text == "Other banks' ATMs charge RMB 2 per withdrawal."
    assert ExtractiveAnswerer().answer("fee for withdrawing at another bank's atm", [ATM])[0] == "RMB 2 per withdrawal"


def test_the_first_passage_wins_a_tie_and_rank_matters() -> None:
    first = _doc("a", "Classic Card", "The annual fee is RMB 100.")
    second = _doc("b", "Classic Card", "The annual fee is RMB 100.")
    ranked = rank_sentences("classic card annual fee", [second, first])
    assert [s.doc_id for s in ranked] == ["b", "a"] and ranked[0].score > ranked[1].score


def test_a_long_sentence_pays_for_its_length() -> None:
    short = "The Gold Card annual fee is RMB 600."
    long = ("The Gold Card annual fee is RMB 600, and the card also offers travel insurance, lounge visits, "
            "a concierge, purchase protection, extended warranty and points on every purchase.")
    a, b = (rank_sentences("gold card annual fee", [_doc("g", "Cards", s)])[0].score for s in (short, long))
    assert a > b
