"""Two configurations answer the same question side by side: each answer with its sources, badges and stage
timings in its own column, and one line saying whether the answers agree and which was faster.

```python
pair = SideBySideChat(make_inprocess_target(PipelineConfig.load("fast")),
                      make_inprocess_target(PipelineConfig.load("default")), labels=("fast", "default"))
pair                                           # in a notebook: type a question, press Enter
await pair.submit("how much is the gold card annual fee")     # [ChatResponse, ChatResponse]
```
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from workbench.dashboards.chat import ChatWidget
from workbench.dashboards.render import escape
from workbench.dashboards.scheduling import TaskList, run_sync
from workbench.serving.schema import ChatResponse

__all__ = ["SideBySideChat"]


class SideBySideChat(widgets.VBox):
    """One question box over a :class:`ChatWidget` per backend (in-process targets or URLs); see the module docstring.

    Each column keeps its own conversation (its session is ``f"{session}-{label}"`` when ``session`` is given).
    """

    def __init__(self, *backends: Any, labels: Sequence[str] | None = None, tenant: str = "default",
                 user: str | None = None, session: str | None = None) -> None:
        if len(backends) < 2:
            raise TypeError("SideBySideChat needs at least two backends (targets or URLs)")
        names = list(labels) if labels is not None else [chr(ord("A") + i) for i in range(len(backends))]
        if len(names) != len(backends):
            raise ValueError(f"{len(backends)} backends but {len(names)} labels")
        width = f"{100 // len(backends) - 1}%"
        self.labels = names
        self.panels = [ChatWidget(b, tenant=tenant, user=user, session=f"{session}-{n}" if session else None, title=n)
                       for b, n in zip(backends, names, strict=True)]
        for panel in self.panels:
            panel.children[1].layout.display = "none"        # one question box for all columns
            panel.layout.width = width
        self.question = widgets.Text(placeholder="Type a question for every configuration and press Enter",
                                     continuous_update=False, layout=widgets.Layout(width="70%"))
        self.ask_button = widgets.Button(description="Ask both" if len(backends) == 2 else "Ask all",
                                         button_style="primary", icon="paper-plane")
        self.status = widgets.HTML(value="")
        self.tasks = TaskList()
        self.question.observe(self._on_value, names="value")
        self.ask_button.on_click(lambda _b: self._take(self.question.value, empty_is_error=True))
        super().__init__(children=[widgets.HBox([self.question, self.ask_button]), self.status,
                                   widgets.HBox(self.panels, layout=widgets.Layout(width="100%"))])
        self.add_class("wb-side-by-side")

    def __repr__(self) -> str:
        return f"SideBySideChat({', '.join(self.labels)})"

    def _on_value(self, change: dict[str, Any]) -> None:
        self._take(str(change["new"]), empty_is_error=False)

    def _take(self, text: str, *, empty_is_error: bool) -> None:
        text = text.strip()
        if not text:
            if empty_is_error:
                self.status.value = "<span class='wb-error' style='color:#c0392b'>type a question first</span>"
            return
        self.question.value = ""
        self.tasks.start(self.submit(text))

    async def wait(self) -> None:
        """Wait for every question scheduled from the widget."""
        await self.tasks.wait()

    async def submit(self, question: str) -> list[ChatResponse | None]:
        """Ask every configuration ``question`` at once; their responses in column order (``None`` after an error,
        shown in that column)."""
        if not question.strip():
            self.status.value = "<span class='wb-error' style='color:#c0392b'>type a question first</span>"
            return [None] * len(self.panels)
        self.status.value = f"<i>asking {len(self.panels)} configurations: {escape(question)}</i>"
        responses = list(await asyncio.gather(*(panel.submit(question) for panel in self.panels)))
        self.status.value = self.verdict(question, responses)
        return responses

    def ask(self, question: str) -> list[ChatResponse | None]:
        """:meth:`submit` from synchronous code."""
        return run_sync(self.submit(question))

    def verdict(self, question: str, responses: Sequence[ChatResponse | None]) -> str:
        """One line: do the answers agree, and each column's total time."""
        answered = [r for r in responses if r is not None]
        if len(answered) < len(responses):
            head = "some configurations failed (see their columns)"
        elif len({r.answer.strip() for r in answered}) == 1:
            head = "<b>same answer</b>"
        else:
            head = "<b style='color:#b9770e'>answers differ</b>"
        times = " · ".join(f"{escape(n)} {r.timings_ms.get('total', float('nan')):.0f} ms" if r is not None
                           else f"{escape(n)} –" for n, r in zip(self.labels, responses, strict=True))
        return f"<b>Q:</b> {escape(question)} — {head}; total: {times}"
