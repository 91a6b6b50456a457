import pytest

from workbench.text import contains_cjk, detect_language, get_tokenizer, split_sentences, tokenize


def test_detect_language() -> None:
    assert detect_language("我的金卡年费多少") == "zh"
    assert detect_language("what is the gold card fee") == "en"
    assert detect_language("金卡 annual fee 是多少") == "zh"
    assert detect_language("RMB 600 per year for the Gold 卡") == "en"
    assert contains_cjk("a卡") and not contains_cjk("abc")


def test_split_sentences_mixed() -> None:
    text = "First sentence. Second one! 第三句。第四句？Fifth: RMB 1.5 per day."
    assert split_sentences(text) == ["First sentence.", "Second one!", "第三句。", "第四句？", "Fifth: RMB 1.5 per day."]


def test_decimal_points_do_not_split() -> None:
    assert split_sentences("The rate is 0.05% per day. Done.") == ["The rate is 0.05% per day.", "Done."]


def test_tokenize_modes() -> None:
    assert "年费" in tokenize("金卡年费多少", "jieba")
    assert tokenize("金卡年费", "bigram") == ["金卡", "卡年", "年费"]
    assert tokenize("金卡年费 fee", "whitespace") == ["金卡年费", "fee"]
    mixed = tokenize("金卡 annual fees", "auto")
    assert "fee" in mixed and "annual" in mixed  # plural folded


def test_stopwords_and_numbers() -> None:
    toks = tokenize("What is the fee for RMB 50,000 transfers?", "auto")
    assert "the" not in toks and "what" not in toks
    assert "50000" in toks and "transfer" in toks
    assert tokenize("RMB 50,000") == tokenize("RMB 50000") == ["rmb", "50000"]


def test_get_tokenizer_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown tokenizer"):
        get_tokenizer("spaces")  # type: ignore[arg-type]
