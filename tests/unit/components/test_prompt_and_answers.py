import pytest
from haystack import Document

from workbench.components import ExtractiveAnswerer, GroundingGuard, PromptBuilder
from workbench.components.builders.prompt_builder import CROSS_LINGUAL_NOTES, FEW_SHOT_EXAMPLES
from workbench.components.generators.answer_spans import (
    best_span,
    menu_paths,
    polarity,
    question_type,
    split_clauses,
)
from workbench.components.generators.extractive import rank_sentences
from workbench.components.generators.reply import NOT_FOUND_REPLIES, clean_reply, is_not_found

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


def test_question_types() -> None:
    assert question_type("how much is the gold card annual fee") == "money"
    assert question_type("how long does a transfer take") == "duration"
    assert question_type("what's the hotline number") == "phone"
    assert question_type("金卡年费多少") == "money"
    assert question_type("利率是多少") == "rate"
    assert question_type("is the gold card free for the first year") == "yesno"
    assert question_type("金卡首年免年费吗") == "yesno"
    assert question_type("how do i change my mobile number in the app") == "path"
    assert question_type("怎么解绑旧手机") == "path"
    assert question_type("U盾丢了怎么办") is None, "what to do is not a menu question"
    assert question_type("when does the bank report to the credit bureau") == "date"
    assert question_type("what time do scheduled transfers go out") == "time"
    assert question_type("how many free lounge visits do i get with gold") == "count"
    assert question_type("金卡一年能免费进几次机场贵宾厅") == "count"
    assert question_type("what do i need to show at the lounge") is None


# Real sentences of datasets/meridian_bank/documents.jsonl, one or two per question type and language.
SPAN_CASES = [
    # amounts, with the words that bound or scale them
    ("money", "contactless limit without pin",
     "In mainland China you can tap without a PIN or signature for amounts up to RMB 1,000 per transaction; "
     "above that you enter your PIN.", "up to RMB 1,000 per transaction"),
    ("money", "whats the daily transfer limit with sms code",
     "SMS code: up to RMB 50,000 per transaction and RMB 100,000 per day.", "RMB 100,000 per day"),
    ("money", "本行ATM一次最多能取多少钱", "单笔取款金额还受机具限制：本行ATM单笔最高3000元，他行ATM一般单笔最高2500元。",
     "单笔最高3000元"),
    ("rate", "down payment for an electric car",
     "- New energy vehicle (battery electric or plug-in hybrid): down payment at least 15%.", "at least 15%"),
    ("money", "消费分期3期手续费多少", "3期：每期0.75%", "每期0.75%"),  # a fee question, answered by a rate
    # a label before a colon belongs to every item of its list; a flattened table row ends at "%"
    ("rate", "down payment for a second home mortgage",
     "Down payment: at least 20% of the purchase price for your first home, and at least 30% for a second home.",
     "at least 30%"),
    ("money", "消费分期3期手续费多少", "【手续费】按分期本金每期收取，随每期本金一并入账：3期：每期0.75%6期：每期0.70%12期：每期"
     "0.65%举例：6000元分12期，每期应还本金500元、手续费39元，合计539元。", "每期0.75%"),
    # durations
    ("duration", "max mortgage term",
     "Term: up to 30 years, and you must be no older than 70 when the loan ends, so a 45-year-old borrower can "
     "take at most 25 years.", "up to 30 years"),
    ("duration", "房贷最长能贷多少年", "贷款期限：最长30年，且贷款到期时借款人年龄不超过70周岁，例如45岁的借款人最长可贷25年。",
     "最长30年"),
    ("duration", "线上开户后实体卡多久能寄到", "开户成功后即可使用电子借记卡，实体卡将在5-7个工作日内寄出。", "5-7个工作日内"),
    # dates and clock times
    ("date", "when does the bank report to the credit bureau each month",
     "Meridian Bank reports your loans and credit cards to the People's Bank of China Credit Reference Center "
     "every month, by the 10th of the month, covering the previous month.", "by the 10th of the month"),
    ("date", "loan was paid out on the 31st whats my repayment date",  # the condition's date is not the answer
     "If the loan was paid out on the 29th, 30th or 31st, your repayment date is the 28th.", "the 28th"),
    ("date", "31号放的款 每月几号还款", "发放日为29日、30日或31日的，还款日统一为每月28日。", "每月28日"),
    ("time", "what time on the repayment day do i need money in my account",
     "Make sure the money is in the account by 23:00 that day; we try to collect several times during the day.",
     "by 23:00"),
    ("time", "人工客服几点上班", "人工客服服务时间为每天07:00至23:00（含周末及法定节假日）。", "每天07:00至23:00"),
    # counts
    ("count", "how many free lounge visits do i get with gold",
     "The main cardholder gets 4 free visits per card year to partner airport lounges in mainland China.",
     "4 free visits per card year"),
    ("count", "大额存单能部分提前支取几次", "【提前支取】可全部或部分提前支取，部分提前支取最多3次，支取部分按支取日活期利率计息。",
     "最多3次"),
    # phone numbers
    ("phone", "what number do i call if the atm keeps my card",
     "If an ATM keeps your card: call 95528 straight away so we can block it.", "95528"),
    ("phone", "全国反诈电话是多少", "如已被骗，请立即拨打95528冻结账户，并拨打110或全国反诈专线96110报警。", None),
    # menu paths
    ("path", "changed my phone number how do i update it",
     "Mobile number, if you still have your old number: in Meridian Mobile go to Me > Personal Info > Mobile "
     "Number, enter the SMS code sent to your old number, complete face verification.", "Me > Personal Info > Mobile Number"),
    ("path", "在app上怎么购汇",
     "【办理方式】登录子午银行App，进入「首页」→「跨境金融」→「购汇」，选择币种和金额。", "「首页」→「跨境金融」→「购汇」"),
    # yes/no: the clause with the polarity and its condition, without its subject
    ("yesno", "can i reopen a closed account",
     "A closed account cannot be reopened; to bank with us again, open a new account.", "cannot be reopened"),
    ("yesno", "can a dormant account still receive money",
     "What a dormant account can do: it can still receive money and keeps earning interest, but all outgoing "
     "transactions are blocked.", "can still receive money and keeps earning interest"),
    ("yesno", "定期提前支取要违约金吗", "提前支取不收取违约金或手续费，损失的只是利息差。", "不收取违约金或手续费"),
]


@pytest.mark.parametrize(("kind", "question", "sentence", "expected"), SPAN_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SPAN_CASES)])
def test_span_per_question_type(kind: str, question: str, sentence: str, expected: str | None) -> None:
    assert question_type(question) == kind
    span = best_span(kind, sentence, question)
    assert span is not None
    assert sentence[span.start:span.end] == span.text
    if expected is None:  # several phone numbers: the one next to the question's words ("反诈")
        assert span.text == "96110"
    else:
        assert span.text == expected


def test_menu_paths_and_clauses() -> None:
    paths = menu_paths("查询当年剩余额度：「首页」→「跨境金融」→「购汇」→「额度查询」。")
    assert [p.text for p in paths] == ["「首页」→「跨境金融」→「购汇」→「额度查询」"]
    en = menu_paths("Channels: Meridian Mobile (Home > Cross-border > International Remittance) handles up to USD 50,000.")
    assert [p.text for p in en] == ["Home > Cross-border > International Remittance"]
    assert menu_paths("Transfers above RMB 5,000 > limits apply.") == []
    clauses = [c.text for c in split_clauses("SMS code: up to RMB 50,000 per transaction and RMB 100,000 per day.")]
    assert clauses == ["SMS code", "up to RMB 50,000 per transaction and RMB 100,000 per day"], "no cut inside 50,000"
    assert polarity("cannot be reopened") == "no" and polarity("can still receive money") == "yes"
    assert polarity("不收取违约金") == "no" and polarity("the card arrives by post") is None


def test_no_span_of_the_type_falls_back_to_the_sentence() -> None:
    sentence = "Foreign nationals can only open accounts at a branch."
    assert best_span("money", sentence, "min deposit to open a savings account") is None
    doc = Document(id="d#0", content=f"Opening an account\n{sentence}", meta={"doc_id": "d", "title": "Opening"})
    answer, meta = ExtractiveAnswerer().answer("min deposit to open a savings account", [doc])
    assert answer == sentence and meta["support"] == sentence and meta["span_type"] is None


def test_extractive_spans_and_sentences() -> None:
    ext = ExtractiveAnswerer()
    out = ext.run(question="how much is the gold card annual fee", documents=[GOLD, PLAT])
    assert out["replies"] == ["RMB 600"], "an annual fee question: the period is the question's"
    assert out["meta"][0]["support"] == "The main card costs RMB 600 per year." and out["meta"][0]["span_type"] == "money"
    zh = ext.run(question="金卡年费多少", documents=[ZH])
    assert zh["replies"] == ["600元/年"] and zh["meta"][0]["support"] == "【年费】主卡年费600元/年，无首年免年费政策。"
    yes_no = ext.run(question="is there a first year waiver on gold", documents=[GOLD])
    assert yes_no["replies"] == ["no first-year waiver"] and yes_no["meta"][0]["polarity"] == "no"
    assert yes_no["meta"][0]["support"] == "There is no first-year waiver."
    sent = ExtractiveAnswerer(return_sentence=True).answer("gold card annual fee how much", [GOLD])[0]
    assert sent == "The main card costs RMB 600 per year."
    empty = ext.run(question="anything", documents=[])
    assert empty["replies"] == [""] and empty["meta"][0]["doc_id"] is None and empty["meta"][0]["support"] is None
    streamed: list[str] = []
    ext.run(question="how much is the gold card annual fee", documents=[GOLD], streaming_callback=streamed.append)
    assert streamed == ["RMB 600"]
    assert ExtractiveAnswerer.from_dict(ext.to_dict()).runner_up == ext.runner_up


def test_flattened_lists_are_one_sentence_per_item() -> None:
    doc = Document(id="l#0", content="Debit card daily limits\nDefault daily limits on a Meridian debit card - ATM cash "
                   "withdrawals in mainland China: RMB 20,000 per day - In-store card payments (POS): RMB 50,000 per "
                   "day - Online and quick payments: RMB 5,000 per day", meta={"doc_id": "limits", "title": "Debit card daily limits"})
    ranked = rank_sentences("debit card online payment limit", [doc])
    assert ranked[0].text == "Online and quick payments: RMB 5,000 per day"
    assert ExtractiveAnswerer().answer("how much can i pay online with my debit card per day", [doc])[0] == "RMB 5,000 per day"


def test_few_shot_examples_cover_the_answer_types() -> None:
    for lang, shots in FEW_SHOT_EXAMPLES.items():
        assert len(shots) == 4
        for passages, _question, answer in shots:
            assert answer in " ".join(passages), f"{lang}: an example answer is copied from its passages"
        assert [question_type(q) for _, q, _ in shots] == ["money", "duration", "path", "yesno"]
    four = PromptBuilder(examples=4).run(question="怎么解绑旧手机", documents=[ZH])
    assert four["prompt"].count("问题：") == 5 and "「服务」→「自习室」→「预约座位」" in four["prompt"]


def test_grounding_guard() -> None:
    guard = GroundingGuard()
    kept = guard.run(replies=["RMB 600"], meta=[{}], question="gold fee how much", documents=[GOLD],
                     context=["The main card costs RMB 600 per year."])
    assert kept["replies"] == ["RMB 600"] and kept["meta"][0]["grounded"] is True
    replaced = guard.run(replies=["100,000,000"], meta=[{"model": "m"}], question="how much is the gold card annual fee",
                         documents=[GOLD], context=["The main card costs RMB 600 per year."])
    assert replaced["replies"] == ["RMB 600"], "the extractive answer"
    assert replaced["meta"][0]["grounded"] is False and replaced["meta"][0]["rejected_reply"] == "100,000,000"


def test_clean_reply_cuts_invented_continuations() -> None:
    assert clean_reply(" RMB 600\n\nContext:\n[1] made up") == "RMB 600"
    assert clean_reply('"3 years"') == "3 years"
    assert clean_reply("\n 5 days") == "5 days"


# -- the bundled Qwen2.5-Coder models read the best sentences (real llama.cpp, 1 thread) -------------------------
# Passages from datasets/meridian_bank/documents.jsonl; English first, then Chinese, so the few-shot prefix of
# the prompt is evaluated once per language (llama.cpp reuses a cached prompt prefix).
QWEN_CASES = [
    ("how long is the sms verification code valid",
     "Verification codes\nEach code has 6 digits and is valid for 5 minutes. You can ask for a new code after 60 "
     "seconds, up to 10 codes per day.", "5 minutes"),
    ("max mortgage term",
     "Mortgage terms\nTerm: up to 30 years, and you must be no older than 70 when the loan ends, so a 45-year-old "
     "borrower can take at most 25 years.", "30 years"),
    ("金卡年费多少", "子午金卡\n【年费】主卡年费600元/年，无首年免年费政策。【额度】3万元至10万元。", "600元"),
    ("怎么解绑旧手机", "设备管理\n解绑设备：进入「我的」→「安全中心」→「设备管理」，选择设备后点击「解绑」。",
     "「我的」→「安全中心」→「设备管理」"),
]


def _answers_from_best_sentences(model: str) -> list[tuple[str, str, str]]:
    from workbench.components import LlamaCppGenerator

    gen = LlamaCppGenerator(model, max_tokens=24, threads=1)
    builder = PromptBuilder(context="sentences", max_sentences=2, examples=2)
    out = []
    for question, text, gold in QWEN_CASES:
        doc = Document(id="d#0", content=text, meta={"doc_id": "d", "title": text.split("\n")[0]})
        built = builder.run(question=question, documents=[doc])
        assert gen.chat, "Qwen is a chat model: it gets its own chat template"
        out.append((question, gen.run(prompt=built["prompt"], messages=built["messages"])["replies"][0], gold))
    return out


def test_qwen_05b_answers_bank_questions_from_the_best_sentences() -> None:
    wrong = [(q, reply) for q, reply, gold in _answers_from_best_sentences("qwen2.5-coder-0.5b") if gold not in reply]
    assert not wrong, f"Qwen2.5-Coder-0.5B missed: {wrong}"


@pytest.mark.slow
def test_qwen_15b_answers_bank_questions_from_the_best_sentences() -> None:
    replies = _answers_from_best_sentences("qwen2.5-coder-1.5b")
    wrong = [(q, reply) for q, reply, gold in replies if gold not in reply]
    # The mortgage passage carries a worked example ("a 45-year-old ... at most 25 years") that the 1.5B model
    # takes for the rule, deterministically on this build; one miss of four is what it does, two is a regression.
    assert len(wrong) <= 1, f"Qwen2.5-Coder-1.5B missed: {wrong}"
    assert all(len(reply) < 60 for _, reply, _ in replies), "short answers, not essays"


# -- cross-lingual context: a passage found only in the other language joins the context whole ----------------
ZH_ONLY = Document(id="cd#0", content="大额存单\n【起存金额】个人大额存单20万元起存。【利率】1年期1.75%，3年期2.35%。",
                   meta={"doc_id": "acct-large-cd-zh", "title": "大额存单", "lang": "zh", "cross_lingual": True})


def test_cross_lingual_passage_joins_the_context_with_a_note() -> None:
    question = "minimum amount for a large certificate of deposit"
    docs = [GOLD, PLAT, ZH_ONLY]  # the other-language passage ranks after the question's own
    out = PromptBuilder(context="sentences", max_sentences=2, max_passages=2).run(question=question, documents=docs)
    assert out["context"][-1].startswith("大额存单") and len(out["context"]) == 3
    assert CROSS_LINGUAL_NOTES["en"] in out["prompt"] and CROSS_LINGUAL_NOTES["en"] in out["messages"][-1]["content"]
    assert out["prompt"].endswith("Answer:") and out["prompt"].count(CROSS_LINGUAL_NOTES["en"]) == 1
    none = PromptBuilder(context="sentences", max_passages=2, cross_lingual_passages=0).run(question=question,
                                                                                           documents=docs)
    assert not any("大额存单" in c for c in none["context"]) and CROSS_LINGUAL_NOTES["en"] not in none["prompt"]
    same = PromptBuilder(context="sentences", max_passages=2).run(question="gold card fee", documents=[GOLD, PLAT])
    assert CROSS_LINGUAL_NOTES["en"] not in same["prompt"], "no note when the whole context is in English"
    cut = PromptBuilder(context="passages", max_passages=3, cross_lingual_chars=10).run(question=question,
                                                                                      documents=docs)
    assert cut["context"].count(cut["context"][-1]) == 1 and len(cut["context"]) == 3, "shown once in passages mode"
    with pytest.raises(ValueError):
        PromptBuilder(cross_lingual_passages=-1)


def _cross_lingual_replies(model: str) -> list[str]:
    """An English question whose only passage is Chinese, answered twice (greedy, seeded: the same reply)."""
    from workbench.components import LlamaCppGenerator

    gen = LlamaCppGenerator(model, max_tokens=24, threads=1, seed=0)
    built = PromptBuilder(context="sentences", max_sentences=2, examples=2).run(
        question="minimum amount for a large certificate of deposit", documents=[GOLD, ZH_ONLY])
    return [gen.run(prompt=built["prompt"], messages=built["messages"])["replies"][0] for _ in range(2)]


def test_qwen_05b_answers_in_english_from_a_chinese_passage() -> None:
    from workbench.text import detect_language

    first, again = _cross_lingual_replies("qwen2.5-coder-0.5b")
    assert first == again, "deterministic"
    assert detect_language(first) == "en" and "20" in first, first


def test_not_found_instruction_reply_and_guard() -> None:
    """``prompt.not_found``: the instruction in both prompt forms and languages, the reply it asks for
    recognised (and nothing that merely starts like it), kept by the grounding guard, and serialised."""
    for question, lang in (("gold card fee", "en"), ("金卡年费多少", "zh")):
        on = PromptBuilder(not_found=True).run(question=question, documents=[GOLD])
        off = PromptBuilder().run(question=question, documents=[GOLD])
        assert NOT_FOUND_REPLIES[lang] in on["messages"][0]["content"] and NOT_FOUND_REPLIES[lang] in on["prompt"]
        assert NOT_FOUND_REPLIES[lang] not in off["prompt"], lang
    for reply in ("NOT FOUND", "Not found.", " 没有找到。", "**NOT FOUND**"):
        assert is_not_found(reply), reply
    for reply in ("", "Not found in the app: call 95528", "RMB 600", "没有找到卡片时请挂失"):
        assert not is_not_found(reply), reply
    guarded = GroundingGuard().run(replies=["NOT FOUND"], meta=[{}], question="gold card fee", documents=[GOLD],
                                   context=["The main card costs RMB 600 per year."])
    assert guarded["replies"] == ["NOT FOUND"], "the guard does not replace the not-found reply with a guess"
    again = PromptBuilder.from_dict(PromptBuilder(not_found=True).to_dict())
    assert again.not_found and not PromptBuilder.from_dict(PromptBuilder().to_dict()).not_found
