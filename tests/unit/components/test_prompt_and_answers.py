from haystack import Document

from workbench.components import ExtractiveAnswerer, GroundingGuard, PromptBuilder
from workbench.components.generators.extractive import answer_type, rank_sentences
from workbench.components.generators.reply import clean_reply

GOLD = Document(id="g#0", content="Gold Card\nAnnual fee\nThe main card costs RMB 600 per year. There is no first-year "
                "waiver.\nCredit limit\nRMB 30,000 to RMB 100,000.", meta={"doc_id": "gold", "title": "Gold Card"})
PLAT = Document(id="p#0", content="Platinum Card\nAnnual fee\nThe main card costs RMB 2,000 per year.",
                meta={"doc_id": "plat", "title": "Platinum Card"})
ZH = Document(id="z#0", content="子午金卡\n【年费】主卡年费600元/年，无首年免年费政策。【额度】3万元至10万元。",
              meta={"doc_id": "zh-gold", "title": "子午金卡"})


def test_prompt_is_few_shot_in_the_question_language() -> None:
    out = PromptBuilder(max_passages=2).run(question="gold card fee?", documents=[GOLD, PLAT])
    assert out["language"] == "en" and out["prompt"].endswith("Answer:")
    assert out["prompt"].count("Question:") == 3, "two worked examples, then the real question"
    assert "[1] Gold Card" in out["prompt"] and "[2] Platinum" in out["prompt"]
    assert [m["role"] for m in out["messages"]] == ["system", "user", "assistant", "user", "assistant", "user"]
    zh = PromptBuilder(examples=1).run(question="金卡年费多少", documents=[ZH])
    assert zh["language"] == "zh" and zh["prompt"].endswith("答案：") and zh["prompt"].count("问题：") == 2


def test_prompt_limits_and_sentence_context() -> None:
    plain = PromptBuilder(style="instruction", max_context_chars=120).run(question="q", documents=[GOLD, PLAT])
    assert "Question:" in plain["prompt"] and plain["prompt"].count("Question:") == 1
    assert sum(len(c) for c in plain["context"]) <= 120
    sent = PromptBuilder(context="sentences", max_sentences=1).run(question="gold card annual fee", documents=[GOLD, PLAT])
    assert sent["context"] == ["The main card costs RMB 600 per year."]


def test_sentence_ranking_uses_headings_and_titles() -> None:
    ranked = rank_sentences("gold card annual fee", [GOLD, PLAT])
    assert ranked[0].text == "The main card costs RMB 600 per year." and ranked[0].doc_id == "gold"
    assert rank_sentences("x", []) == []


def test_answer_types() -> None:
    assert answer_type("how much is the gold card annual fee") == "money"
    assert answer_type("how long does a transfer take") == "duration"
    assert answer_type("what's the hotline number") == "phone"
    assert answer_type("金卡年费多少") == "money"
    assert answer_type("利率是多少") == "rate"
    assert answer_type("is the gold card free for the first year") is None
    assert answer_type("金卡首年免年费吗") is None


def test_extractive_spans_and_sentences() -> None:
    ext = ExtractiveAnswerer()
    assert ext.run(question="how much is the gold card annual fee", documents=[GOLD, PLAT])["replies"] == ["RMB 600"]
    assert ext.run(question="金卡年费多少", documents=[ZH])["replies"] == ["600元"]
    yes_no = ext.run(question="is there a first year waiver on gold", documents=[GOLD])["replies"][0]
    assert yes_no == "There is no first-year waiver."
    sent = ExtractiveAnswerer(return_sentence=True).answer("gold card annual fee how much", [GOLD])[0]
    assert sent == "The main card costs RMB 600 per year."
    empty = ext.run(question="anything", documents=[])
    assert empty["replies"] == [""] and empty["meta"][0]["doc_id"] is None
    streamed: list[str] = []
    ext.run(question="how much is the gold card annual fee", documents=[GOLD], streaming_callback=streamed.append)
    assert streamed == ["RMB 600"]


def test_grounding_guard() -> None:
    guard = GroundingGuard()
    kept = guard.run(replies=["RMB 600"], meta=[{}], question="gold fee how much", documents=[GOLD],
                     context=["The main card costs RMB 600 per year."])
    assert kept["replies"] == ["RMB 600"] and kept["meta"][0]["grounded"] is True
    replaced = guard.run(replies=["100,000,000"], meta=[{"model": "m"}], question="how much is the gold card annual fee",
                         documents=[GOLD], context=["The main card costs RMB 600 per year."])
    assert replaced["replies"] == ["RMB 600"]
    assert replaced["meta"][0]["grounded"] is False and replaced["meta"][0]["rejected_reply"] == "100,000,000"


def test_clean_reply_cuts_invented_continuations() -> None:
    assert clean_reply(" RMB 600\n\nContext:\n[1] made up") == "RMB 600"
    assert clean_reply('"3 years"') == "3 years"
    assert clean_reply("\n 5 days") == "5 days"
