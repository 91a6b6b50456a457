"""Hostile input against the real app (the ``fast`` preset's engine), in process: never a 5xx, always the error body.

Reproduces issue 13's items 2 (deep nesting, huge integers), 9 (non-strict booleans), 10 (information
disclosure) and 12 (content types, NUL/zero-width questions), and a matrix of 150+ bad inputs over both chat
routes: nesting, huge numbers, bodies, content types, encodings, booleans, wrong types, extra fields, huge
strings, unicode edge cases.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from workbench.config import PipelineConfig
from workbench.observability import RequestIdFilter
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving import AsyncEngine, create_app
from workbench.testing import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

TENANTS = ["default", "acme-private-bank"]
CHAT, COMPLETIONS = "/v1/chat", "/v1/chat/completions"
JSON = {"content-type": "application/json"}
OK_Q = "What is the gold card annual fee?"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase) -> AsyncIterator[httpx.AsyncClient]:
    cfg = fast_cfg.with_overrides({"serving.tenants": TENANTS, "cache.enabled": True})
    engine = AsyncEngine.from_config(cfg, kb=fast_kb)
    app = create_app(engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wb", timeout=30) as c:
        yield c
    await engine.aclose()


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _body(route: str, **fields: Any) -> dict[str, Any]:
    """A valid body of ``route`` with ``fields`` replaced (the question goes into the last user message)."""
    if route == CHAT:
        return {"question": OK_Q, **fields}
    question = fields.pop("question", OK_Q)
    return {"model": "x", "messages": [{"role": "user", "content": question}], **fields}


# -- the matrix: (id, route, headers, raw body, allowed statuses) ----------------------------------------------
Case = tuple[str, str, dict[str, str], bytes, set[int]]
BAD = {400}


def _raw_cases(route: str) -> list[Case]:
    """Body-level cases that are the same for both routes."""
    r = route.rsplit("/", 1)[-1]
    valid = _dump(_body(route))
    cases: list[Case] = []
    for depth in (100, 1_000, 10_000, 100_000):
        cases.append((f"{r}-nest-open-{depth}", route, JSON, b"[" * depth, BAD))
        cases.append((f"{r}-nest-closed-{depth}", route, JSON, b"[" * depth + b"]" * depth, BAD))
        cases.append((f"{r}-nest-obj-{depth}", route, JSON, b'{"a":' * depth + b"1" + b"}" * depth, BAD))
        inner = valid[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
        # /v1/chat refuses the unknown field; the OpenAI route ignores it as long as it parses
        cases.append((f"{r}-nest-in-field-{depth}", route, JSON, inner,
                      BAD if route == CHAT or depth > 1_000 else {200, 400}))
    for digits in (4_301, 5_000, 100_000):
        cases.append((f"{r}-int-body-{digits}", route, JSON, b"9" * digits, BAD))
        cases.append((f"{r}-int-field-{digits}", route, JSON, valid[:-1] + b', "stream": ' + b"9" * digits + b"}",
                      BAD))
    for lit in (b"NaN", b"Infinity", b"-Infinity", b"1e999999", b"-0", b"1.5", b"0x10"):
        cases.append((f"{r}-number-{lit.decode()}", route, JSON, valid[:-1] + b', "stream": ' + lit + b"}", BAD))
    for name, raw in [("empty", b""), ("space", b"   "), ("null", b"null"), ("true", b"true"), ("one", b"1"),
                      ("string", b'"hi"'), ("list", b"[]"), ("object", b"{}"), ("truncated", valid[:-5]),
                      ("trailing", valid + b" xyz"), ("two-docs", valid + valid), ("comment", b"/*c*/" + valid),
                      ("single-quotes", valid.replace(b'"', b"'")), ("nul", b"\x00"), ("nuls", b"\x00" * 64),
                      ("binary", bytes(range(256))), ("crlf", b"\r\n\r\n"), ("key-no-value", b'{"question":}')]:
        cases.append((f"{r}-body-{name}", route, JSON, raw, BAD))
    for name, ct in [("text", "text/plain"), ("form", "application/x-www-form-urlencoded"),
                     ("multipart", "multipart/form-data; boundary=x"), ("xml", "application/xml"),
                     ("utf16", "application/json; charset=utf-16"), ("latin1", "application/json; charset=latin-1"),
                     ("jsonp", "application/jsonp"), ("plus-json", "application/merge-patch+json"),
                     ("empty", ""), ("star", "*/*"), ("html", "text/html")]:
        cases.append((f"{r}-ctype-{name}", route, {"content-type": ct}, valid, {415}))
    cases.append((f"{r}-ctype-missing", route, {}, valid, {415}))
    for name, ct in [("upper", "APPLICATION/JSON"), ("utf8", "application/json; charset=UTF-8"),
                     ("utf8-quoted", 'application/json; charset="utf-8"')]:
        cases.append((f"{r}-ctype-ok-{name}", route, {"content-type": ct}, valid, {200}))
    text = _body(route)
    for name, enc in [("utf16le", "utf-16-le"), ("utf16", "utf-16"), ("utf32", "utf-32"), ("latin1", "latin-1")]:
        raw = json.dumps(text, ensure_ascii=False).replace(OK_Q, "Qué es la cuota anual?").encode(enc)
        cases.append((f"{r}-encoding-{name}", route, JSON, raw, BAD))
    for name, junk in [("ff", b"\xff\xfe"), ("overlong", b"\xc0\xaf"), ("surrogate", b"\xed\xa0\x80"),
                       ("truncated", b"\xe4\xbd"), ("cont", b"\x80\x80")]:
        cases.append((f"{r}-invalid-utf8-{name}", route, JSON, valid.replace(b"gold", b"gold" + junk), BAD))
    cases.append((f"{r}-utf8-bom", route, JSON, b"\xef\xbb\xbf" + valid, {200, 400}))
    cases.append((f"{r}-escaped-lone-surrogate", route, JSON, valid.replace(b"gold", b"gold\\ud800"), BAD))
    cases.append((f"{r}-escaped-nul", route, JSON, valid.replace(b"gold", b"gold\\u0000"), BAD))
    return cases


def _field_cases(route: str) -> list[Case]:
    """Field-level cases: booleans, wrong types, extra fields, huge strings, unicode edge cases."""
    r = route.rsplit("/", 1)[-1]
    cases: list[Case] = []

    def add(name: str, body: Any, allowed: set[int]) -> None:
        cases.append((f"{r}-{name}", route, JSON, _dump(body), allowed))

    for v in ("false", "true", "yes", "no", "", 0, 1, 1.0, [], {}, None, "False"):
        add(f"stream-{v!r}", _body(route, stream=v), BAD)
        add(f"personalized-{v!r}", _body(route, personalized=v), {200} if v is None else BAD)
    for v in (42, 4.2, True, None, [OK_Q], {"text": OK_Q}):
        add(f"question-{type(v).__name__}-{v!r}"[:60], _body(route, question=v), BAD)
    for field in ("tenant", "user", "session", "variant"):
        for v in (7, [], {}, True, "a b", "a/b", "x" * 129, "défault", "", "a\x00"):
            add(f"{field}-{v!r}"[:50], _body(route, **{field: v}), BAD)
    add("tenant-null", _body(route, tenant=None), BAD)
    add("tenant-unknown", _body(route, tenant="nobody"), {404})
    add("variant-unknown", _body(route, variant="nope"), BAD)
    for name, q in [("nul", "\x00"), ("nuls", "\x00" * 50), ("zwsp", "\u200b"), ("zwsp-many", "\u200b\u200c\u200d" * 9),
                    ("bom", "\ufeff"), ("ls", "\u2028"), ("nbsp", "\u00a0\u00a0"), ("rlo", "\u202e"),
                    ("tabs", "\t\n\r "), ("del", "gold\x7f card"), ("bell", "gold\x07"), ("c1", "gold\x85card"),
                    ("empty", ""), ("spaces", " " * 1000), ("mixed-invisible", " \u200b\ufeff\u2060\x00 ")]:
        add(f"question-{name}", _body(route, question=q), BAD)
    for name, q in [("emoji", "💳 annual fee?"), ("chinese", "金卡年费多少"), ("combining", "e\u0301e\u0301 fee"),
                    ("rtl-text", "رسوم البطاقة"), ("zwj-in-word", "gold\u200dcard fee")]:
        add(f"question-ok-{name}", _body(route, question=q), {200})
    add("question-long-engine", _body(route, question="fee " * 1250), BAD)
    add("question-over-schema", _body(route, question="x" * 100_001), BAD)
    add("question-900k", _body(route, question="y" * 900_000), {400, 413})
    if route == CHAT:
        for name, extra in [("extra", {"extra": 1}), ("proto", {"__proto__": {"admin": True}}), ("case", {"Question": "x"}),
                            ("constructor", {"constructor": {}}), ("messages", {"messages": []})]:
            add(f"extra-{name}", _body(route, **extra), BAD)
        cases.append((f"{r}-duplicate-key", route, JSON, b'{"question": 1, "question": "' + OK_Q.encode() + b'"}',
                      {200}))  # the last key wins, as in every JSON parser that keeps one
    else:
        add("extra-ignored", _body(route, logprobs=True, seed=3, tools=[]), {200})
        for name, msgs in [("empty", []), ("string", "hi"), ("null", None), ("no-content", [{"role": "user"}]),
                           ("null-content", [{"role": "user", "content": None}]),
                           ("image-part", [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
                           ("parts-not-objects", [{"role": "user", "content": ["hi"]}]),
                           ("bad-role", [{"role": "admin", "content": "hi"}]),
                           ("no-user", [{"role": "system", "content": "be brief"}]),
                           ("last-user-empty", [{"role": "user", "content": OK_Q}, {"role": "user", "content": ""}]),
                           ("last-user-nul", [{"role": "user", "content": "\x00"}]),
                           ("item-not-object", ["hi"]), ("too-many", [{"role": "user", "content": "q"}] * 1025)]:
            add(f"messages-{name}", {"model": "x", "messages": msgs}, BAD)
        # OpenAI's list of text parts is valid input (issue 16.7): joined, it is the question
        add("messages-text-parts", {"model": "x", "messages": [{"role": "user", "content": [
            {"type": "text", "text": OK_Q}]}]}, {200})
        for field, v in [("temperature", "0.5"), ("temperature", 9), ("max_tokens", -1), ("max_tokens", "8"),
                         ("top_p", 2), ("stop", 5), ("model", 5)]:
            add(f"{field}-{v!r}", _body(route, **{field: v}), BAD)
    return cases


MATRIX: list[Case] = [c for route in (CHAT, COMPLETIONS) for c in (*_raw_cases(route), *_field_cases(route))]


async def test_the_matrix_is_big_enough() -> None:
    assert len(MATRIX) >= 150 and len({c[0] for c in MATRIX}) == len(MATRIX)
    assert {c[1] for c in MATRIX} == {CHAT, COMPLETIONS}


@pytest.mark.parametrize(("case_id", "route", "headers", "body", "allowed"), MATRIX, ids=[c[0] for c in MATRIX])
async def test_bad_input_matrix(client: httpx.AsyncClient, case_id: str, route: str, headers: dict[str, str],
                                body: bytes, allowed: set[int]) -> None:
    r = await client.post(route, content=body, headers=headers)
    assert r.status_code < 500, f"{case_id}: {r.status_code} {r.text[:300]}"
    assert r.status_code in allowed, f"{case_id}: {r.status_code} {r.text[:300]}"
    assert r.headers["x-request-id"]
    if r.status_code >= 400:
        err = r.json()["error"]
        assert set(err) == {"type", "message"} and err["type"] and err["message"]


# -- the items of issue 13, one by one ----------------------------------------------------------------------------
@pytest.mark.parametrize("route", [CHAT, COMPLETIONS])
async def test_deep_nesting_and_huge_integers_are_400(client: httpx.AsyncClient, route: str) -> None:
    """Item 2: 1,000 ``[`` and an integer of over 4,300 digits were a 500 (RecursionError, ValueError)."""
    r = await client.post(route, content=b"[" * 1000, headers=JSON)
    assert r.status_code == 400 and "nests too deeply" in r.json()["error"]["message"]
    r = await client.post(route, content=b"1" + b"0" * 4300, headers=JSON)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request"


@pytest.mark.parametrize("route", [CHAT, COMPLETIONS])
async def test_booleans_are_strict(client: httpx.AsyncClient, route: str) -> None:
    """Item 9: ``"stream": "false"`` streamed; ``"yes"`` and ``personalized: 0`` were accepted."""
    for fields in ({"stream": "false"}, {"stream": "yes"}, {"personalized": 0}):
        r = await client.post(route, json=_body(route, **fields))
        assert r.status_code == 400, (fields, r.text)
        assert next(iter(fields)) in r.json()["error"]["message"]
    r = await client.post(route, json=_body(route, stream=False))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("route", [CHAT, COMPLETIONS])
async def test_non_json_content_types_are_415(client: httpx.AsyncClient, route: str) -> None:
    """Item 12: text/plain, form-encoded and missing content types were accepted (a cross-site post needs none)."""
    body = _dump(_body(route))
    for headers in ({"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}):
        r = await client.post(route, content=body, headers=headers)
        assert r.status_code == 415 and r.json()["error"]["type"] == "unsupported_media_type", headers


@pytest.mark.parametrize("route", [CHAT, COMPLETIONS])
@pytest.mark.parametrize("question", ["\x00", "\x00\x00\x00", "\u200b", "\u200b\u200c\ufeff\u2060"])
async def test_invisible_questions_are_400(client: httpx.AsyncClient, route: str, question: str) -> None:
    """Item 12: NUL-only or zero-width-only questions gave an empty 200."""
    r = await client.post(route, json=_body(route, question=question))
    assert r.status_code == 400 and "question" in r.json()["error"]["message"]


@pytest.mark.parametrize("route", [CHAT, COMPLETIONS])
async def test_unknown_tenant_does_not_list_tenants(client: httpx.AsyncClient, route: str) -> None:
    """Item 10: the 404 listed every configured tenant."""
    r = await client.post(route, json=_body(route, tenant="nobody"))
    assert r.status_code == 404 and r.json()["error"]["type"] == "unknown_tenant"
    assert "acme-private-bank" not in r.text and "serving.tenants" not in r.text


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    r = await client.post(CHAT, json={"question": OK_Q}, headers={"x-request-id": "client-abc.123"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "client-abc.123"
    assert r.json()["request_id"] == "client-abc.123"
    r = await client.post(CHAT, json={"question": OK_Q}, headers={"x-request-id": "bad id\twith space"})
    assert len(r.headers["x-request-id"]) == 16 and r.headers["x-request-id"] == r.json()["request_id"]


async def test_store_failure_is_503_without_internals(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Item 10: the Redis session-store 503 showed the internal ``redis://`` URL and errno."""
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: a real connection refusal
    cfg = fast_cfg.with_overrides({"memory.enabled": True, "memory.store": "redis", "memory.url": dead})
    engine = AsyncEngine.from_config(cfg, kb=fast_kb)
    caplog.handler.addFilter(RequestIdFilter())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(engine)), base_url="http://wb",
                                     timeout=60) as c:
            with caplog.at_level(logging.WARNING, logger="workbench"):
                r = await c.post(CHAT, json={"question": OK_Q, "session": "s1", "user": "u1"})
    finally:
        await engine.aclose()
    assert r.status_code == 503, r.text
    err = r.json()["error"]
    rid = r.headers["x-request-id"]
    assert err["type"] == "session_store_error" and rid in err["message"]
    for secret in ("redis://", "127.0.0.1", "Errno", str(dead.rsplit(":", 1)[-1].split("/")[0])):
        assert secret not in r.text, secret
    logged = [rec for rec in caplog.records if dead in rec.getMessage()]
    assert logged and all(rec.request_id == rid for rec in logged)  # type: ignore[attr-defined]
