"""The LLM as its own OpenAI-compatible service (``workbench serve-llm``): the production shape, where the
generator runs on its own nodes and the RAG service calls it over HTTP.

Two backends:

* ``llama-cpp``: a real GGUF model, a pool of ``instances`` llama.cpp contexts (one generation each
  at a time), streamed token by token;
* ``simulated``: for load tests of the serving architecture on a 2-core machine. It streams with a
  configured time to first token, time per output token, number of parallel ``slots``, jitter and
  failure rate, like an LLM tier on its own GPUs with continuous batching. Its answer text is the
  real extractive answer to the prompt's last Question over its last Context, so quality metrics stay
  meaningful. Every response from it carries ``"simulated": true``.

OpenAI compatibility (what the official ``openai`` SDK's strict models and benchmark clients need):
message ``content`` as a string or a list of parts (``{"type": "text", "text": ...}``; other part types are
refused with a 400), ``max_tokens`` or ``max_completion_tokens``, ``usage`` with ``prompt_tokens``,
``completion_tokens`` and ``total_tokens`` (tokens of the backend's tokenizer; the simulated backend
counts words, as it streams them), ``stream_options.include_usage`` (a last chunk with empty ``choices``
and the usage), ``/v1/models`` entries with ``created`` and ``owned_by``, and ``/health`` beside ``/healthz``.

```python
app = create_llm_app(SimulatedBackend(SimulatedLLM(ttft_ms=150, tpot_ms=15, slots=32)))
# uvicorn.run(app, host="127.0.0.1", port=8001)
```
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from haystack import Document

from workbench.components.generators.extractive import ExtractiveAnswerer
from workbench.components.generators.llama_cpp_generator import LlamaCppGenerator
from workbench.errors import GeneratorError
from workbench.serving.openai_compat import OWNED_BY, count_tokens, message_text, token_pieces
from workbench.sse import SSE_DONE, SSE_MEDIA_TYPE, sse_event

__all__ = ["LLMBackend", "LlamaCppBackend", "SimulatedBackend", "SimulatedLLM", "create_llm_app"]


class LLMBackend(Protocol):
    """What the LLM server needs from a backend."""

    name: str
    simulated: bool

    def stream(self, *, prompt: str | None, messages: list[dict[str, str]] | None, max_tokens: int,
               stop: list[str], temperature: float) -> AsyncIterator[str]: ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the backend's own count (the ``usage`` it reports)."""
        ...


@dataclass(frozen=True, kw_only=True)
class SimulatedLLM:
    """Timing and fault model of a simulated LLM tier."""

    ttft_ms: float = 200.0
    """Time to first token."""
    tpot_ms: float = 20.0
    """Time per output token after the first."""
    slots: int = 8
    """Generations served in parallel (continuous-batching slots); more requests wait for a slot."""
    jitter: float = 0.1
    """Relative uniform jitter on both times (0.1 = ±10%)."""
    failure_rate: float = 0.0
    """Probability that a request fails with HTTP 503 before its first token."""
    seed: int = 0

    def __repr__(self) -> str:
        return (f"SimulatedLLM(ttft_ms={self.ttft_ms:g}, tpot_ms={self.tpot_ms:g}, slots={self.slots}, "
                f"jitter={self.jitter:g}, failure_rate={self.failure_rate:g})")


# the question may be followed by one note line (the prompt builder's cross-lingual note) before "Answer:"
_BLOCK = re.compile(r"(?:Context:|资料：)\n(?P<ctx>.*?)\n(?:Question:|问题：)\s?(?P<q>[^\n]*)\n(?:[^\n]*\n)?"
                    r"(?:Answer:|答案：)\s*$", re.S)


class _Overloaded(Exception):
    pass


class SimulatedBackend:
    """Streams the extractive answer to the prompt with simulated LLM timing (see :class:`SimulatedLLM`)."""

    name = "simulated"
    simulated = True

    def __init__(self, spec: SimulatedLLM | None = None) -> None:
        self.spec = spec or SimulatedLLM()
        self._slots = asyncio.Semaphore(self.spec.slots)
        self._rng = random.Random(self.spec.seed)
        self._answerer = ExtractiveAnswerer(max_passages=50)

    def _answer(self, prompt: str | None, messages: list[dict[str, str]] | None) -> str:
        text = prompt or (messages[-1]["content"] + "\nAnswer:" if messages else "")
        blocks = list(_BLOCK.finditer(text))
        m = blocks[-1] if blocks else None  # the real question is the last block (after the worked examples)
        if m is None:
            return "I can only answer from a context."
        passages = [re.sub(r"^\[\d+\]\s*", "", line) for line in m.group("ctx").splitlines() if line.strip()]
        answer, _ = self._answerer.answer(m.group("q"), [Document(content=p) for p in passages])
        return answer or "I don't know."

    def count_tokens(self, text: str) -> int:
        """Words and runs of space, as :meth:`stream` cuts its answer (characters for unspaced text)."""
        return count_tokens(text)

    def _jit(self, ms: float) -> float:
        j = self.spec.jitter
        return max(0.0, ms * (1 + self._rng.uniform(-j, j))) / 1000.0

    async def stream(self, *, prompt: str | None, messages: list[dict[str, str]] | None, max_tokens: int,
                     stop: list[str], temperature: float) -> AsyncIterator[str]:
        if self._rng.random() < self.spec.failure_rate:
            raise _Overloaded("simulated failure")
        answer = self._answer(prompt, messages)
        tokens = token_pieces(answer)[:max_tokens]
        async with self._slots:
            await asyncio.sleep(self._jit(self.spec.ttft_ms))
            for i, tok in enumerate(tokens):
                if i:
                    await asyncio.sleep(self._jit(self.spec.tpot_ms))
                yield tok


class LlamaCppBackend:
    """A pool of llama.cpp instances of one GGUF model; each generates one stream at a time in a thread."""

    simulated = False

    def __init__(self, model: str = "gemma-3-270m", *, instances: int = 1, threads: int | None = 1,
                 context_window: int = 2048) -> None:
        if instances < 1:
            raise ValueError("instances must be >= 1")
        self.name = model
        self._pool: asyncio.Queue[LlamaCppGenerator] | None = None
        self._gens = [LlamaCppGenerator(model, threads=threads, context_window=context_window)
                      for _ in range(instances)]
        for g in self._gens:
            g.warm_up()

    def count_tokens(self, text: str) -> int:
        """Tokens of the model's own tokenizer."""
        return len(self._gens[0].tokenize(text)) if text else 0

    def _queue(self) -> asyncio.Queue[LlamaCppGenerator]:
        if self._pool is None:
            self._pool = asyncio.Queue()
            for g in self._gens:
                self._pool.put_nowait(g)
        return self._pool

    async def stream(self, *, prompt: str | None, messages: list[dict[str, str]] | None, max_tokens: int,
                     stop: list[str], temperature: float) -> AsyncIterator[str]:
        pool = self._queue()
        gen = await pool.get()
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        cancelled = threading.Event()

        def work() -> None:
            try:
                kwargs = {"max_tokens": max_tokens, "temperature": temperature, "stop": stop, "stream": True}
                if gen.chat:
                    it = gen.llm.create_chat_completion(messages=messages or [{"role": "user", "content": prompt or ""}],
                                                        **kwargs)
                    pieces = (c["choices"][0].get("delta", {}).get("content") for c in it)
                else:
                    it = gen.llm.create_completion(prompt=prompt or "", **kwargs)
                    pieces = (c["choices"][0].get("text") for c in it)
                for piece in pieces:
                    if cancelled.is_set():
                        break
                    if piece:
                        loop.call_soon_threadsafe(chunks.put_nowait, piece)
            except BaseException as exc:  # handed to the event loop side
                loop.call_soon_threadsafe(chunks.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(chunks.put_nowait, None)

        worker = loop.run_in_executor(None, work)
        try:
            while (item := await chunks.get()) is not None:
                if isinstance(item, BaseException):
                    raise GeneratorError(f"llama.cpp failed: {item}")
                yield item
        finally:
            # a client that leaves mid-stream cancels this task, and anyio cancels every later await in it too:
            # the instance goes back to the pool when its thread ends, not after an await that may never finish
            cancelled.set()
            worker.add_done_callback(lambda _: pool.put_nowait(gen))


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


def create_llm_app(backend: LLMBackend, *, model_name: str | None = None) -> FastAPI:
    """An OpenAI-compatible app: ``/v1/completions``, ``/v1/chat/completions`` (both with ``stream``), ``/v1/models``."""
    app = FastAPI(title="workbench LLM service", version="1")
    name = model_name or backend.name

    async def _parse(request: Request, chat: bool) -> dict[str, Any] | JSONResponse:
        try:
            body = await request.json()
        except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deeply, a number too long
            return _error(400, "invalid_request", "the body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "the body must be a JSON object")
        if chat:
            msgs = body.get("messages")
            if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
                return _error(400, "invalid_request", "'messages' must be a non-empty list of {role, content}")
            texts = [message_text(m.get("content")) for m in msgs]
            if any(t is None for t in texts):
                return _error(400, "invalid_request", "each message's 'content' must be a string or a list of "
                                                      "{type: 'text', text} parts")
            body["messages"] = [{"role": str(m.get("role") or "user"), "content": t}
                                for m, t in zip(msgs, texts, strict=True)]
        elif not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return _error(400, "invalid_request", "'prompt' must be a non-empty string")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        max_tokens = 64 if max_tokens is None else max_tokens
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 8192:
            return _error(400, "invalid_request", "'max_tokens' / 'max_completion_tokens' must be an integer in 1..8192")
        options = body.get("stream_options")
        if options is not None and not isinstance(options, dict):
            return _error(400, "invalid_request", "'stream_options' must be an object")
        body["include_usage"] = bool((options or {}).get("include_usage"))
        stop = body.get("stop") or []
        body["stop"] = [stop] if isinstance(stop, str) else list(stop)
        body["max_tokens"] = max_tokens
        return body

    async def _serve(request: Request, chat: bool) -> Any:
        body = await _parse(request, chat)
        if isinstance(body, JSONResponse):
            return body
        rid = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        prompt_text = body["prompt"] if not chat else "\n".join(m["content"] for m in body["messages"])
        prompt_tokens = backend.count_tokens(prompt_text)

        def usage(pieces: list[str]) -> dict[str, int]:
            completion = backend.count_tokens("".join(pieces)) if pieces else 0
            return {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                    "total_tokens": prompt_tokens + completion}

        gen = backend.stream(prompt=body.get("prompt"), messages=body.get("messages"), max_tokens=body["max_tokens"],
                             stop=body["stop"], temperature=float(body.get("temperature") or 0.0))

        def chunk(text: str, finish: str | None) -> dict[str, Any]:
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
            if chat:
                choice["delta"] = {"content": text} if text else {}
            else:
                choice["text"] = text
            return {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion", "created": created,
                    "model": name, "choices": [choice], "simulated": backend.simulated}

        try:
            first = await gen.__anext__()
        except StopAsyncIteration:
            first = None
        except _Overloaded as exc:
            return _error(503, "overloaded", str(exc), {"Retry-After": "1"})
        except GeneratorError as exc:
            return _error(500, "generator_error", str(exc))

        if body.get("stream"):
            async def events() -> AsyncIterator[bytes]:
                sent: list[str] = []
                if chat:  # OpenAI opens a chat stream with the assistant's role
                    opening = chunk("", None)
                    opening["choices"][0]["delta"] = {"role": "assistant", "content": ""}
                    yield sse_event(opening)
                if first is not None:
                    sent.append(first)
                    yield sse_event(chunk(first, None))
                async for piece in gen:
                    sent.append(piece)
                    yield sse_event(chunk(piece, None))
                yield sse_event(chunk("", "length" if len(sent) >= body["max_tokens"] else "stop"))
                if body["include_usage"]:
                    last = chunk("", None)
                    last["choices"], last["usage"] = [], usage(sent)
                    yield sse_event(last)
                yield SSE_DONE

            return StreamingResponse(events(), media_type=SSE_MEDIA_TYPE)

        pieces = [first] if first is not None else []
        pieces += [p async for p in gen]
        text = "".join(pieces)
        choice: dict[str, Any] = {"index": 0,
                                  "finish_reason": "length" if len(pieces) >= body["max_tokens"] else "stop"}
        if chat:
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        if not chat:
            choice["logprobs"] = None
        return {"id": rid, "object": "chat.completion" if chat else "text_completion", "created": created,
                "model": name, "choices": [choice], "usage": usage(pieces), "simulated": backend.simulated}

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await _serve(request, chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        return await _serve(request, chat=True)

    started = int(time.time())

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": started,
                                            "owned_by": OWNED_BY, "simulated": backend.simulated}]}

    @app.get("/healthz")
    @app.get("/health")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
