"""A chat widget: ask a question, watch the answer stream in, see where it came from and what it cost.

Shows the streaming answer (an abstention, "no answer in the knowledge base", marked as such); the sources
with their scores; which cache layer served it (or ``miss``);
the A/B variant and degradation level; a stage-timing bar; and the conversation so far (with the
engine's memory turn count when a session is used). It talks to an in-process target or a served URL
(see :mod:`workbench.dashboards.backends`).

```python
chat = ChatWidget(make_inprocess_target(PipelineConfig.load("fast")), session="demo")
chat                                   # in a notebook: type a question and press Enter, or
await chat.submit("how much is the gold card annual fee")
chat.ask("and the platinum card?")     # synchronous, for scripts and tests
```
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from workbench.dashboards.backends import as_backend
from workbench.dashboards.render import badges, escape, sources_table, timing_bar, transcript
from workbench.dashboards.scheduling import TaskList, run_sync
from workbench.serving.schema import ChatRequest, ChatResponse

__all__ = ["ChatWidget"]


class ChatWidget(widgets.VBox):
    """Question box, streaming answer and its provenance; see the module docstring.

    Setting ``question.value`` (pressing Enter in the browser) or clicking *Ask* submits; every answer
    is appended to :attr:`responses`. ``tenant``/``user``/``session`` go into each request.

    ```python
    chat = ChatWidget("http://127.0.0.1:8000", session="s1")
    ```
    """

    def __init__(self, backend: Any, *, tenant: str = "default", user: str | None = None,
                 session: str | None = None, title: str = "Ask the bank assistant") -> None:
        self.backend = as_backend(backend)
        self.tenant, self.user, self.session = tenant, user, session
        self.responses: list[ChatResponse] = []
        self.turns: list[tuple[str, str]] = []
        self.tasks = TaskList()
        self.question = widgets.Text(placeholder="Type a question and press Enter", continuous_update=False,
                                     layout=widgets.Layout(width="70%"))
        self.ask_button = widgets.Button(description="Ask", button_style="primary", icon="paper-plane")
        self.status = widgets.HTML(value="")
        self.answer = widgets.HTML(value="", layout=widgets.Layout(min_height="2em"))
        self.meta = widgets.HTML(value="")
        self.timing = widgets.HTML(value="")
        self.sources = widgets.HTML(value="")
        self.memory = widgets.HTML(value=transcript([]))
        self.question.observe(self._on_value, names="value")
        self.ask_button.on_click(self._on_click)
        details = widgets.Accordion(children=[self.sources, self.memory])
        details.set_title(0, "Sources")
        details.set_title(1, "Conversation")
        details.selected_index = 0
        super().__init__(children=[
            widgets.HTML(f"<b>{escape(title)}</b>"), widgets.HBox([self.question, self.ask_button]), self.status,
            self.answer, self.meta, self.timing, details,
        ])
        self.add_class("wb-chat")

    def __repr__(self) -> str:
        return f"ChatWidget({self.backend!r}, turns={len(self.turns)})"

    # -- events -------------------------------------------------------------------------------------------
    def _on_value(self, change: dict[str, Any]) -> None:
        text = str(change["new"]).strip()
        if text:
            self._start(text)
            self.question.value = ""

    def _on_click(self, _button: Any) -> None:
        text = self.question.value.strip()
        if text:
            self._start(text)
            self.question.value = ""
        else:
            self.status.value = _error("type a question first (the box is empty)")

    def _start(self, text: str) -> None:
        self.tasks.start(self.submit(text))

    async def wait(self) -> None:
        """Wait for every answer scheduled from the widget (tests; ``await chat.wait()`` in a notebook)."""
        await self.tasks.wait()

    # -- asking ---------------------------------------------------------------------------------------------
    def request(self, question: str) -> ChatRequest:
        """The request this widget sends for ``question``."""
        return ChatRequest(question=question, tenant=self.tenant, user=self.user, session=self.session, stream=True)

    async def submit(self, question: str) -> ChatResponse | None:
        """Ask ``question``, streaming tokens into the answer; the response, or ``None`` after an error (shown)."""
        if not question.strip():
            self.status.value = _error("type a question first (the question is empty)")
            return None
        self.status.value = f"<i>asking: {escape(question)}</i>"
        self.answer.value = ""
        self.meta.value = self.timing.value = ""
        streamed: list[str] = []
        resp: ChatResponse | None = None
        try:
            req = self.request(question)
            async for event in self.backend.stream(req):
                if event.response is not None:
                    resp = event.response
                elif event.token:
                    streamed.append(event.token)
                    self.answer.value = f'<div class="wb-answer">{escape("".join(streamed))}▌</div>'
        except Exception as exc:  # shown to the user; the widget stays usable
            hint = ""
            if "closed" in str(exc) or "after shutdown" in str(exc):
                hint = " (the target was closed, e.g. by a Cleanup cell: re-run the cell that creates it)"
            self.status.value = _error(f"{type(exc).__name__}: {exc}{hint}")
            return None
        if resp is None:
            self.status.value = _error("the stream ended without a response")
            return None
        self.show(question, resp)
        return resp

    def ask(self, question: str) -> ChatResponse | None:
        """:meth:`submit` from synchronous code (in a notebook prefer ``await chat.submit(...)``)."""
        return run_sync(self.submit(question))

    def show(self, question: str, resp: ChatResponse) -> None:
        """Display one response (answer, provenance, timings, sources, conversation)."""
        self.responses.append(resp)
        self.turns.append((question, resp.answer))
        self.status.value = f"<b>Q:</b> {escape(question)}"
        if resp.abstained:  # not an answer: say so plainly, in a colour the eye does not take for one
            self.answer.value = (f'<div class="wb-answer wb-abstained" style="font-size:16px;color:#8a6d3b;'
                                 f'background:#fcf8e3;padding:4px 8px;border-left:4px solid #f0ad4e">'
                                 f"{escape(resp.answer)}</div>")
        else:
            self.answer.value = f'<div class="wb-answer" style="font-size:16px">{escape(resp.answer)}</div>'
        info: dict[str, Any] = {
            "cache": resp.cache_layer or "miss",
            "variant": resp.variant or "–",
            "degradation": f"{resp.degradation_level} ({resp.degradation})",
            "tokens": resp.tokens,
        }
        if resp.abstained:
            info["abstained"] = "no answer in the knowledge base"
        if resp.language:
            info["language"] = resp.language
        if resp.tool:
            info["tool"] = resp.tool
        if resp.simulated:
            info["LLM"] = "simulated"
        if self.session is not None or resp.memory_turns:
            info["memory turns"] = resp.memory_turns
        self.meta.value = badges(info)
        self.timing.value = timing_bar(resp.timings_ms)
        self.sources.value = sources_table(resp.sources)
        self.memory.value = transcript(self.turns)


def _error(text: str) -> str:
    """A visible error line for the status area."""
    return f'<span class="wb-error" style="color:#c0392b">{escape(text)}</span>'
