"""Generate through any OpenAI-compatible HTTP server (vLLM, llama.cpp's server, ``workbench serve-llm``)."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any

import httpx
from haystack import component, default_from_dict, default_to_dict

from workbench.components.generators.reply import clean_reply
from workbench.errors import GeneratorError, GeneratorTimeoutError
from workbench.sse import aparse_sse_lines, parse_sse_lines

__all__ = ["OpenAICompatibleGenerator"]

_RETRY_STATUS = {429, 500, 502, 503, 504}
_PROBE_TIMEOUT_S = 5.0


def _chunk_text(event: dict[str, Any], chat: bool) -> str:
    choices = event.get("choices") or [{}]
    if chat:
        return (choices[0].get("delta") or {}).get("content") or ""
    return choices[0].get("text") or ""


def _is_simulated(body: Any) -> bool:
    """What ``GET {base_url}/models`` says: the workbench's LLM service marks itself ``simulated``."""
    try:
        return bool(((body or {}).get("data") or [{}])[0].get("simulated"))
    except (AttributeError, IndexError, TypeError):
        return False


class _Attempt:
    """One streamed call: collects pieces, times the first, says whether a failure may be retried."""

    def __init__(self, gen: OpenAICompatibleGenerator, url: str, number: int,
                 streaming_callback: Callable[[str], None] | None) -> None:
        self.gen, self.url, self.number, self.callback = gen, url, number, streaming_callback
        self.pieces: list[str] = []
        self.start = time.perf_counter_ns()
        self.first_ns: int | None = None

    def check(self, status: int, text: str) -> None:
        """Raise for an HTTP error: retryable (429/5xx) as GeneratorError, a 4xx as _NoRetry."""
        if status in _RETRY_STATUS:
            raise GeneratorError(f"{self.url} answered {status}: {text[:200]}")
        if status >= 400:
            raise _NoRetry(f"{self.url} answered {status}: {text[:300]}")

    def feed(self, event: dict[str, Any]) -> None:
        piece = _chunk_text(event, self.gen.chat)
        if piece:
            if self.first_ns is None:
                self.first_ns = time.perf_counter_ns()
            self.pieces.append(piece)
            if self.callback is not None:
                self.callback(piece)

    def result(self) -> dict[str, Any]:
        raw = "".join(self.pieces)
        meta = {"model": self.gen.model, "completion_tokens": len(self.pieces),
                "ttft_ms": (self.first_ns - self.start) / 1e6 if self.first_ns else None,
                "total_ms": (time.perf_counter_ns() - self.start) / 1e6, "attempts": self.number + 1, "raw": raw,
                "simulated": bool(self.gen.simulated)}
        return {"replies": [clean_reply(raw, self.gen.stop)], "meta": [meta]}

    def failure(self, exc: Exception) -> Exception:
        """The workbench error for a failed attempt."""
        if isinstance(exc, httpx.TimeoutException):
            err = GeneratorTimeoutError(f"{self.url} did not answer within {self.gen.timeout_s:g} s")
            err.__cause__ = exc
            return err
        return exc

    def retry_after(self, last: Exception) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up: never once text was streamed."""
        if self.pieces or self.number >= self.gen.retries:
            return None
        return 0.2 * (2**self.number)


@component
class OpenAICompatibleGenerator:
    """Streams completions from ``{base_url}/chat/completions`` (``chat=True``) or ``{base_url}/completions``.

    ``run`` (blocking) and ``run_async`` (native asyncio) behave the same: timeouts raise
    :class:`GeneratorTimeoutError`; connection errors and 429/5xx answers are retried ``retries`` times
    with exponential backoff (0.2 s, 0.4 s, ...) before :class:`GeneratorError`, but never once text was
    streamed to the caller; a 4xx answer is not retried. ``warm_up`` asks ``{base_url}/models`` whether
    the service is the workbench's simulated LLM (``meta[0]["simulated"]``).

    ```python
    gen = OpenAICompatibleGenerator(base_url="http://127.0.0.1:8001/v1", model="gemma-3-270m")
    gen.run(prompt="...Answer:")["replies"][0]
    ```
    """

    def __init__(self, *, base_url: str, model: str = "default", api_key: str | None = None, max_tokens: int = 48,
                 temperature: float = 0.0, timeout_s: float = 30.0, retries: int = 2, stop: list[str] | None = None,
                 chat: bool = False) -> None:
        """:raises ValueError: ``base_url`` is not an http(s) URL."""
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key, self.max_tokens, self.temperature = model, api_key, max_tokens, temperature
        self.timeout_s, self.retries, self.chat = timeout_s, retries, chat
        self.stop = list(stop) if stop is not None else ["\n"]
        self.simulated: bool | None = None
        """Whether the service is simulated (``None`` until :meth:`warm_up` asked it)."""
        self._client: httpx.Client | None = None
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = \
            weakref.WeakKeyDictionary()

    def warm_up(self) -> None:
        """Create the HTTP client (keeps connections alive) and ask the service whether it is simulated."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s, headers=self._headers())
        if self.simulated is None:
            try:
                r = self._client.get(f"{self.base_url}/models", timeout=min(self.timeout_s, _PROBE_TIMEOUT_S))
                self.simulated = _is_simulated(r.json())
            except (httpx.HTTPError, ValueError):
                self.simulated = False

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _aclient(self) -> httpx.AsyncClient:
        """The async client of the running event loop (an httpx client belongs to one loop)."""
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = httpx.AsyncClient(timeout=self.timeout_s, headers=self._headers(),
                                       limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200))
            self._aclients[loop] = client
        return client

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

    @staticmethod
    def _give_up(url: str, attempts: int, last: Exception) -> GeneratorError:
        if isinstance(last, GeneratorError):
            return last
        err = GeneratorError(f"{url} failed after {attempts} attempts: {last}")
        err.__cause__ = last
        return err

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
            documents: list[Any] | None = None,
            streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Generate one reply, streamed from the server.

        :param prompt: the prompt (completions endpoint).
        :param messages: the chat messages (``chat=True``; default: ``prompt`` as one user message).
        :param question: accepted for a common generator signature (unused).
        :param documents: accepted for a common generator signature (unused).
        :param streaming_callback: receives each text piece as it arrives.
        :returns: ``{"replies": [the cleaned reply], "meta": [{"model", "completion_tokens", "ttft_ms",
            "total_ms", "attempts", "raw", "simulated"}]}``.
        :raises GeneratorTimeoutError: the server did not answer within ``timeout_s``.
        :raises GeneratorError: the server failed (after the retries) or refused the request.
        """
        self.warm_up()
        assert self._client is not None
        url, body = self._request(prompt, messages)
        number = 0
        while True:
            attempt = _Attempt(self, url, number, streaming_callback)
            try:
                with self._client.stream("POST", url, json=body) as resp:
                    if resp.status_code >= 400:
                        resp.read()
                        attempt.check(resp.status_code, resp.text)
                    for event in parse_sse_lines(resp.iter_lines()):
                        attempt.feed(event)
                return attempt.result()
            except _NoRetry as exc:
                raise GeneratorError(str(exc)) from None
            except (httpx.TransportError, GeneratorError) as exc:
                last = attempt.failure(exc)
            wait = attempt.retry_after(last)
            if wait is None:
                raise self._give_up(url, number + 1, last)
            time.sleep(wait)
            number += 1

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    async def run_async(self, prompt: str = "", messages: list[dict[str, str]] | None = None, question: str = "",
                        documents: list[Any] | None = None,
                        streaming_callback: Callable[[str], None] | None = None) -> dict[str, Any]:
        """:meth:`run` natively on the event loop (same retries, same result); pieces go to
        ``streaming_callback`` as they arrive."""
        client = self._aclient()
        url, body = self._request(prompt, messages)
        number = 0
        while True:
            attempt = _Attempt(self, url, number, streaming_callback)
            try:
                async with client.stream("POST", url, json=body) as resp:
                    if resp.status_code >= 400:
                        await resp.aread()
                        attempt.check(resp.status_code, resp.text)
                    async for event in aparse_sse_lines(resp.aiter_lines()):
                        attempt.feed(event)
                return attempt.result()
            except _NoRetry as exc:
                raise GeneratorError(str(exc)) from None
            except (httpx.TransportError, GeneratorError) as exc:
                last = attempt.failure(exc)
            wait = attempt.retry_after(last)
            if wait is None:
                raise self._give_up(url, number + 1, last)
            await asyncio.sleep(wait)
            number += 1

    def close(self) -> None:
        """Close the blocking HTTP client (the async ones close with :meth:`aclose`)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async HTTP client of the running event loop and the blocking one."""
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, base_url=self.base_url, model=self.model, api_key=None, max_tokens=self.max_tokens,
                               temperature=self.temperature, timeout_s=self.timeout_s, retries=self.retries,
                               stop=self.stop, chat=self.chat)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenAICompatibleGenerator:
        return default_from_dict(cls, data)


class _NoRetry(Exception):
    """A 4xx answer: the request itself is wrong, retrying will not help."""
