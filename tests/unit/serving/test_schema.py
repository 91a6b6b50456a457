"""The request schema is strict and total: any JSON value in any field is either a valid request or a
ValidationError (never another exception, never a silent coercion), and a question always shows something."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from workbench.serving.schema import ChatCompletionRequest, ChatRequest, check_question

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
FIELDS = ("question", "tenant", "user", "session", "stream", "variant", "personalized")


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_any_json_value_is_a_request_or_a_validation_error(field: str, value: Any) -> None:
    body = {"question": "gold card fee?", field: value}
    try:
        req = ChatRequest.model_validate(body)
    except ValidationError:
        return
    got = getattr(req, field)
    assert got == value and type(got) is type(value)  # accepted only as sent: no coercion


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40))
def test_an_accepted_question_has_a_visible_character_and_no_controls(text: str) -> None:
    try:
        check_question(text)
    except ValueError:
        return
    cats = [unicodedata.category(ch) for ch in text]
    assert any(c not in ("Cc", "Cf", "Zs", "Zl", "Zp", "Cn") and not ch.isspace() for c, ch in zip(cats, text, strict=True))
    assert all(c != "Cs" for c in cats)
    assert all(ch in "\t\n\r" for c, ch in zip(cats, text, strict=True) if c == "Cc")


@pytest.mark.parametrize("value", ["false", "true", "yes", 0, 1, 1.0, None, [], {}])
def test_booleans_are_strict(value: Any) -> None:
    with pytest.raises(ValidationError):
        ChatRequest.model_validate({"question": "q", "stream": value})
    if value is not None:
        with pytest.raises(ValidationError):
            ChatRequest.model_validate({"question": "q", "personalized": value})


def test_completion_request_maps_to_the_last_user_message() -> None:
    body = {"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "a"},
                                       {"role": "assistant", "content": "b"}, {"role": "user", "content": "fee?"}],
            "stream": True, "temperature": 0, "tenant": "acme", "logprobs": True}
    req = ChatCompletionRequest.model_validate(body).to_chat_request()
    assert (req.question, req.stream, req.tenant) == ("fee?", True, "acme")
    for bad in ({"messages": [{"role": "system", "content": "x"}]}, {"messages": [{"role": "user", "content": "\x00"}]},
                {"messages": []}, {"messages": [{"role": "user", "content": "q"}], "stream": "false"}):
        with pytest.raises(ValidationError):
            ChatCompletionRequest.model_validate(bad)
