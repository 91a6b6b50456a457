"""A response carries the id of the request it answers (the id on its log lines) when one is bound."""

from __future__ import annotations

import contextvars

from workbench.observability.logs import bind_request_id
from workbench.pipelines import RAGAnswer
from workbench.serving.responses import response_from, response_from_cache


def _answer() -> RAGAnswer:
    return RAGAnswer(question="q", answer="a", sources=[], timings_ms={}, tokens=1, language="en",
                     config_hash="h", kb_version="v")


def test_the_bound_request_id_is_the_responses_id() -> None:
    def inside() -> tuple[str | None, str | None]:
        bind_request_id("req-42")
        return response_from(_answer()).request_id, response_from_cache({"answer": "a"}, "exact").request_id

    assert contextvars.copy_context().run(inside) == ("req-42", "req-42")


def test_without_a_bound_id_each_response_gets_a_new_one() -> None:
    a, b = contextvars.copy_context().run(lambda: (response_from(_answer()).request_id,
                                                   response_from(_answer()).request_id))
    assert a and b and a != b and len(a) == 16 and a != "-"
