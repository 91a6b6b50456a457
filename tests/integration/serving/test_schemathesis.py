"""Schema fuzzing (schemathesis) of the real app, the ``fast`` preset's engine with cache, memory and tools on:
a fixed budget of generated requests, positive and negative, from the served OpenAPI schema. Issue 13, "a
reliability suite": the schema declares the request bodies and the error responses, and no case gets a 5xx.

``bench/bench_fuzz.py`` runs the same with 10,000+ cases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import PipelineConfig
from workbench.loadtest.fuzz import fuzz_app
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving import AsyncEngine, create_app

pytest.importorskip("schemathesis")

BUDGET = 400


def test_the_schema_declares_bodies_and_errors(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase) -> None:
    schema = create_app(AsyncEngine.from_config(fast_cfg, kb=fast_kb)).openapi()
    for path in ("/v1/chat", "/v1/chat/completions"):
        post = schema["paths"][path]["post"]
        assert post["requestBody"]["required"] is True
        assert "application/json" in post["requestBody"]["content"]
        for status in ("400", "404", "413", "415", "429"):
            ref = post["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (path, status)
        assert "422" not in post["responses"]
        assert "Retry-After" in post["responses"]["429"]["headers"]
    bodies = schema["components"]["schemas"]
    assert {"ChatRequest", "ChatCompletionRequest", "ErrorBody", "ErrorDetail"} <= set(bodies)
    assert bodies["ChatRequest"]["additionalProperties"] is False


def test_fuzzing_the_served_schema_finds_no_server_error(fast_cfg: PipelineConfig, fast_kb: KnowledgeBase,
                                                         tmp_path: Path) -> None:
    cfg = fast_cfg.with_overrides({"cache.enabled": True, "memory.enabled": True, "memory.store": "sqlite",
                                   "memory.url": str(tmp_path / "sessions.sqlite3"), "tools.enabled": True,
                                   "tools.hot_reload": False, "tools.audit_log": str(tmp_path / "audit.sqlite3")})
    engine = AsyncEngine.from_config(cfg, kb=fast_kb)
    report = fuzz_app(create_app(engine), cases=BUDGET, seed=13, batch=BUDGET // 2)
    assert report.cases >= BUDGET
    assert report.server_errors == 0, report.table() + "\n" + "\n".join(report.examples)
    assert not report.failures, report.table() + "\n" + "\n".join(report.examples)
    statuses = {status for (_, status) in report.statuses}
    assert 200 in statuses and 400 in statuses  # both good and bad requests were generated
