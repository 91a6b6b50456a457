"""``serve-llm`` with a real llama.cpp model: a client that leaves mid-stream (GuideLLM cancels the request still in
flight when its run ends) must not take the model instance with it; the next request is served."""

from __future__ import annotations

import httpx
import pytest

from workbench.serving import LlamaCppBackend, create_llm_app
from workbench.testing import UvicornServer


@pytest.mark.slow
def test_a_client_leaving_mid_stream_gives_the_instance_back() -> None:
    body = {"messages": [{"role": "user", "content": "Count from one to fifty in words."}], "stream": True,
            "max_tokens": 200}
    with UvicornServer(create_llm_app(LlamaCppBackend("smollm2-135m", threads=1))) as srv:
        with httpx.stream("POST", f"{srv.url}/v1/chat/completions", json=body, timeout=60) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    break  # leave after the first token, the generation still running
        # one instance: this waits for it; before the fix it never came back to the pool
        reply = httpx.post(f"{srv.url}/v1/chat/completions", timeout=60,
                           json={"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4})
        assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] >= 1
