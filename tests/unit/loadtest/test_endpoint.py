import pytest

from workbench.errors import ConfigError
from workbench.loadtest.endpoint import EndpointMapping, extract_path, fill_template
from workbench.serving.schema import ChatRequest


def test_extract_path_reads_keys_and_indexes() -> None:
    reply = {"choices": [{"message": {"content": "hi"}}], "data": {"refs": [1, 2]}}
    assert extract_path(reply, "choices[0].message.content") == "hi"
    assert extract_path(reply, "$.choices[0].message.content") == "hi"
    assert extract_path(reply, "$.data.refs[1]") == 2
    assert extract_path(reply, "choices[3].message") is None
    assert extract_path(reply, "data.missing.x") is None
    for bad in ("", "a..b", "a[x]", "a]"):
        with pytest.raises(ConfigError):
            extract_path(reply, bad)


def test_fill_template_puts_the_request_in() -> None:
    req = ChatRequest(question="gold card fee?", user="u1", tenant="default")
    body = fill_template({"q": "{question}", "who": "{user}", "s": "{session}", "note": "from {tenant}: {question}",
                          "opts": [{"k": 5}, "{user}"]}, req)
    assert body == {"q": "gold card fee?", "who": "u1", "s": None, "note": "from default: gold card fee?",
                    "opts": [{"k": 5}, "u1"]}


def test_mapping_validation_and_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="path, template and answer_path"):
        EndpointMapping(kind="custom", path="/ask")
    with pytest.raises(ValueError):
        EndpointMapping(kind="custom", path="/ask", template={}, answer_path="a[b]")
    f = tmp_path / "m.yaml"
    f.write_text("kind: custom\npath: /ask\ntemplate: {query: '{question}'}\nanswer_path: result.text\n")
    m = EndpointMapping.load(f)
    assert m.route == "/ask" and m.body(ChatRequest(question="x?")) == {"query": "x?"}
    assert m.answer({"result": {"text": "y"}}) == ("y", None)
    f.write_text("kind: custom\npath: /ask\n")
    with pytest.raises(ConfigError, match="answer_path"):
        EndpointMapping.load(f)
    with pytest.raises(ConfigError, match="does not exist"):
        EndpointMapping.load(tmp_path / "nope.yaml")
    assert EndpointMapping(kind="openai").route == "/v1/chat/completions"
    assert EndpointMapping().route == "/v1/chat"
