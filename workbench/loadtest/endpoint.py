"""How to talk to an endpoint that is not ours: the request to send and where the answer is in the reply.

Three kinds of endpoint (:class:`EndpointMapping`):

* ``workbench``: ``POST /v1/chat`` of ``workbench serve`` (the contract: JSON, or SSE when streamed);
* ``openai``: any OpenAI-compatible chat endpoint, ``POST /v1/chat/completions``; the question is the
  user message, the answer ``choices[0].message.content`` (streamed: the chunks' ``delta.content``);
* ``custom``: a team's own RAG service, described by a request ``template`` (a JSON body whose strings may
  hold ``{question}``, ``{user}``, ``{session}``, ``{tenant}``) and the paths of the answer and the
  sources in the reply (``data.answer``, ``$.choices[0].text``, ``result.refs``: dotted keys and ``[i]``).

```yaml
# mapping.yaml  (workbench loadtest CONFIG --url http://127.0.0.1:9000 --endpoint mapping.yaml)
kind: custom
path: /ask
template: {query: "{question}", uid: "{user}", options: {top_k: 5}}
answer_path: result.text
sources_path: result.refs
headers: {x-team: help-desk}
```
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench.errors import ConfigError
from workbench.serving.schema import ChatRequest

__all__ = ["EndpointMapping", "extract_path", "fill_template"]

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_FIELD = re.compile(r"\{(question|user|session|tenant)\}")


def _steps(path: str) -> list[str | int]:
    p = path.strip()
    p = p[1:] if p.startswith("$") else p
    p = p.lstrip(".")
    steps: list[str | int] = []
    pos = 0
    for m in _STEP.finditer(p):
        gap = p[pos:m.start()]
        if gap not in ("", "."):
            raise ConfigError(f"path {path!r}: cannot read {gap!r}; write keys with dots and indexes as [0]",
                              field="endpoint.path")
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if p[pos:] or not steps:
        raise ConfigError(f"path {path!r}: write keys with dots and indexes as [0], e.g. choices[0].message.content",
                          field="endpoint.path")
    return steps


def extract_path(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data`` (``a.b[0].c``; a leading ``$`` or ``$.`` is allowed), or ``None``.

    ```python
    extract_path({"choices": [{"message": {"content": "hi"}}]}, "$.choices[0].message.content")   # 'hi'
    ```
    """
    cur = data
    for step in _steps(path):
        if isinstance(step, int):
            if not isinstance(cur, list) or step >= len(cur):
                return None
            cur = cur[step]
        else:
            if not isinstance(cur, dict) or step not in cur:
                return None
            cur = cur[step]
    return cur


def fill_template(template: Any, request: ChatRequest) -> Any:
    """``template`` with ``{question}``, ``{user}``, ``{session}``, ``{tenant}`` put in every string (recursively);
    a string that is exactly one placeholder becomes the value itself (``None`` when the request has none)."""
    values = {"question": request.question, "user": request.user, "session": request.session,
              "tenant": request.tenant}
    if isinstance(template, str):
        whole = _FIELD.fullmatch(template)
        if whole:
            return values[whole.group(1)]
        return _FIELD.sub(lambda m: str(values[m.group(1)] or ""), template)
    if isinstance(template, dict):
        return {k: fill_template(v, request) for k, v in template.items()}
    if isinstance(template, list):
        return [fill_template(v, request) for v in template]
    return template


class EndpointMapping(BaseModel):
    """What to send to an endpoint and where its answer is (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["workbench", "openai", "custom"] = "workbench"
    path: str | None = None
    """The route (default: ``/v1/chat``, ``/v1/chat/completions``; required for ``custom``)."""
    template: dict[str, Any] | None = None
    """``custom``: the JSON body, with ``{question}`` etc. in its strings."""
    answer_path: str | None = None
    """``custom``: where the answer text is in the reply."""
    sources_path: str | None = None
    """``custom`` (optional): where the list of sources is in the reply."""
    model: str = "workbench"
    """``openai``: the ``model`` field sent."""
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> EndpointMapping:
        if self.kind == "custom":
            if not self.path or self.template is None or not self.answer_path:
                raise ValueError("a custom endpoint needs path, template and answer_path")
            _steps(self.answer_path)
            if self.sources_path:
                _steps(self.sources_path)
        return self

    @property
    def route(self) -> str:
        """The path requests go to."""
        return self.path or {"workbench": "/v1/chat", "openai": "/v1/chat/completions"}.get(self.kind, "/")

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body for ``request``."""
        if self.kind == "workbench":
            return request.model_dump(mode="json", exclude_none=True)
        if self.kind == "openai":
            body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": request.question}],
                                    "stream": request.stream}
            if request.user:
                body["user"] = request.user
            if request.stream:
                body["stream_options"] = {"include_usage": True}
            return body
        return fill_template(self.template, request)

    def answer(self, reply: Any) -> tuple[str | None, int | None]:
        """The answer text and the number of sources in a (non-streamed) reply."""
        if self.kind == "openai":
            text = extract_path(reply, "choices[0].message.content")
            return (text if isinstance(text, str) else None), None
        if self.kind == "custom":
            assert self.answer_path is not None
            text = extract_path(reply, self.answer_path)
            sources = extract_path(reply, self.sources_path) if self.sources_path else None
            return (text if isinstance(text, str) else None), (len(sources) if isinstance(sources, list) else None)
        return (reply.get("answer") if isinstance(reply, dict) else None), None

    @classmethod
    def load(cls, path: str | Path) -> EndpointMapping:
        """From a YAML or JSON file; raises :class:`ConfigError` naming what is wrong."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"endpoint mapping {p} does not exist", field="endpoint")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) if p.suffix in (".yaml", ".yml") else \
                json.loads(p.read_text(encoding="utf-8"))
            return cls.model_validate(data)
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"endpoint mapping {p}: {exc}", field="endpoint") from None
