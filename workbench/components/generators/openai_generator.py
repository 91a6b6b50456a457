"""Generate through any OpenAI-compatible HTTP server (vLLM, llama.cpp's server, ``workbench serve-llm``)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
from haystack import component, default_from_dict, default_to_dict

from workbench.components.generators.reply import clean_reply
from workbench.errors import GeneratorError, GeneratorTimeoutError

__all__ = ["OpenAICompatibleGenerator"]

_RETRY_STATUS = {429, 500, 502, 503, 504}


def _sse_data(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        if data:
            yield json.loads(data)


def _chunk_text(event: dict[str, Any], chat: bool) -> str:
    choices = event.get("choices") or [{}]
    if chat:
        return (choices[0].get("delta") or {}).get("content") or ""
    return choices[0].get("text") or ""


@component
class OpenAICompatibleGenerator:
    """Streams completions from ``{base_url}/chat/completions`` (``chat=True``) or ``{base_url}/completions``.

    Timeouts raise :class:`GeneratorTimeoutError`; connection errors and 429/5xx answers are retried
    ``retries`` times with exponential backoff (0.2 s, 0.4 s, ...) before :class:`GeneratorError`.

    ```python
    gen = OpenAICompatibleGenerator(base_url="http://127.0.0.1:8001/v1", model="gemma-3-270m")
    gen.run(prompt="...Answer:")["replies"][0]
    ```
    """

    def __init__(self, *, base_url: str, model: str = "default", api_key: str | None = None, max_tokens: int = 48,
                 temperature: float = 0.0, timeout_s: float = 30.0, retries: int = 2, stop: list[str] | None = None,
                 chat: bool = False) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key, self.max_tokens, self.temperature = model, api_key, max_tokens, temperature
        self.timeout_s, self.retries, self.chat = timeout_s, retries, chat
        self.stop = list(stop) if stop is not None else ["\n"]
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None

    def warm_up(self) -> None:
        """Create the HTTP client (keeps connections alive between calls)."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s, headers=self._headers())

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _request(self, prompt: str, messages: list[dict[str, str]] | None) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens, "temperature": self.temperature,
                                "stream": True, "stop": self.stop}
        if self.chat:
            body["messages"] = messages or [{"role": "user", "content": prompt}]
            return f"{self.base_url}/chat/completions", body
        if not prompt:
            raise GeneratorError("the completions endpoint needs a prompt (or set chat=True and pass messages)")
        body["prompt"] = prompt
        return f"{self.base_url}/completions", body

    def _backoff(self, attempt: int) -> float:
        return 0.2 * (2**attempt)

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
            documents: list[Any] | None = None,
            streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Generate one reply (streamed from the server; chunks go to ``streaming_callback``)."""
        self.warm_up()
        assert self._client is not None
        url, body = self._request(prompt, messages)
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            pieces: list[str] = []
            start = time.perf_counter_ns()
            first_ns = None
            try:
                with self._client.stream("POST", url, json=body) as resp:
                    if resp.status_code in _RETRY_STATUS:
                        resp.read()
                        raise GeneratorError(f"{url} answered {resp.status_code}: {resp.text[:200]}")
                    if resp.status_code >= 400:
                        resp.read()
                        raise _NoRetry(f"{url} answered {resp.status_code}: {resp.text[:300]}")
                    for event in _sse_data(resp.iter_lines()):
                        piece = _chunk_text(event, self.chat)
                        if piece:
                            if first_ns is None:
                                first_ns = time.perf_counter_ns()
                            pieces.append(piece)
                            if streaming_callback is not None:
                                streaming_callback(piece)
                raw = "".join(pieces)
                meta = {"model": self.model, "completion_tokens": len(pieces),
                        "ttft_ms": (first_ns - start) / 1e6 if first_ns else None,
                        "total_ms": (time.perf_counter_ns() - start) / 1e6, "attempts": attempt + 1, "raw": raw}
                return {"replies": [clean_reply(raw, self.stop)], "meta": [meta]}
            except _NoRetry as exc:
                raise GeneratorError(str(exc)) from None
            except httpx.TimeoutException as exc:
                last = GeneratorTimeoutError(f"{url} did not answer within {self.timeout_s:g} s")
                last.__cause__ = exc
            except (httpx.TransportError, GeneratorError) as exc:
                last = exc
            if pieces:  # never retry once text was streamed to the caller
                break
            if attempt < self.retries:
                time.sleep(self._backoff(attempt))
        if isinstance(last, GeneratorError):
            raise last
        raise GeneratorError(f"{url} failed after {self.retries + 1} attempts: {last}") from last

    async def astream(self, prompt: str = "", messages: list[dict[str, str]] | None = None) -> AsyncIterator[str]:
        """Async text chunks (for the serving engine); one attempt, errors raised as GeneratorError."""
        if self._aclient is None:
            self._aclient = httpx.AsyncClient(timeout=self.timeout_s, headers=self._headers(),
                                              limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200))
        url, body = self._request(prompt, messages)
        try:
            async with self._aclient.stream("POST", url, json=body) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    raise GeneratorError(f"{url} answered {resp.status_code}: {resp.text[:300]}")
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    if data:
                        piece = _chunk_text(json.loads(data), self.chat)
                        if piece:
                            yield piece
        except httpx.TimeoutException as exc:
            raise GeneratorTimeoutError(f"{url} did not answer within {self.timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise GeneratorError(f"{url}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, base_url=self.base_url, model=self.model, api_key=None, max_tokens=self.max_tokens,
                               temperature=self.temperature, timeout_s=self.timeout_s, retries=self.retries,
                               stop=self.stop, chat=self.chat)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenAICompatibleGenerator:
        return default_from_dict(cls, data)


class _NoRetry(Exception):
    """A 4xx answer: the request itself is wrong, retrying will not help."""
