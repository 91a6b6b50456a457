"""HTML fragments the dashboards display: pure functions of the data, so they are tested without widgets.

```python
html = timing_bar({"retrieve_bm25": 0.8, "generate": 0.9, "total": 1.8})
html = sources_table(resp.sources)
```
"""

from __future__ import annotations

import html as _html
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["STAGE_COLORS", "badges", "escape", "sources_table", "stat_cards", "timing_bar", "transcript"]

#: Colour per pipeline stage in the timing bar (others get grey).
STAGE_COLORS: dict[str, str] = {
    "queue": "#bbbbbb", "cache": "#8e44ad", "memory": "#16a085", "embed": "#2980b9", "retrieve": "#27ae60",
    "retrieve_bm25": "#27ae60", "retrieve_dense": "#2ecc71", "fusion": "#1abc9c", "rerank": "#f39c12",
    "prompt": "#95a5a6", "generate": "#e74c3c", "tools": "#d35400",
}
#: Timing keys that are not stages of their own (they span others).
_NOT_STAGES = frozenset({"total", "ttft"})


def escape(text: Any) -> str:
    """HTML-escaped ``str(text)``."""
    return _html.escape(str(text))


def badges(items: Mapping[str, Any]) -> str:
    """Small labelled pills, one per item: ``badges({"cache": "miss", "variant": "A"})``."""
    pills = [f'<span class="wb-badge" style="display:inline-block;margin:0 6px 2px 0;padding:1px 7px;'
             f'border-radius:9px;background:#eef;font-size:12px"><b>{escape(k)}</b> {escape(v)}</span>'
             for k, v in items.items()]
    return "".join(pills)


def timing_bar(timings_ms: Mapping[str, float], *, width_px: int = 480) -> str:
    """A stacked horizontal bar of per-stage milliseconds (``total``/``ttft`` are stated, not stacked).

    >>> "generate" in timing_bar({"generate": 2.0, "total": 2.5})
    True
    """
    stages = [(k, float(v)) for k, v in timings_ms.items() if k not in _NOT_STAGES and v is not None and v >= 0]
    spent = sum(v for _, v in stages)
    total = float(timings_ms.get("total", spent) or spent)
    if not stages or spent <= 0:
        return '<div class="wb-timing">no stage timings</div>'
    segs = []
    for name, ms in stages:
        w = max(1, round(width_px * ms / spent))
        color = STAGE_COLORS.get(name, STAGE_COLORS.get(name.split("_")[0], "#7f8c8d"))
        segs.append(f'<div title="{escape(name)}: {ms:.2f} ms" style="width:{w}px;height:14px;background:{color}">'
                    f"</div>")
    legend = " · ".join(f"{escape(n)} {ms:.1f} ms" for n, ms in stages)
    ttft = f" · first token {timings_ms['ttft']:.1f} ms" if "ttft" in timings_ms else ""
    return (f'<div class="wb-timing"><div style="display:flex;width:{width_px}px;border:1px solid #ccc">'
            f'{"".join(segs)}</div><div style="font-size:11px;color:#555">{legend} · total {total:.1f} ms{ttft}'
            f"</div></div>")


def sources_table(sources: Sequence[Any], *, snippet_chars: int = 160) -> str:
    """Sources (objects or dicts with ``id, title, text, score``) as a table, best first."""
    if not sources:
        return '<div class="wb-sources"><i>no sources</i></div>'
    rows = []
    for i, s in enumerate(sources, start=1):
        get = s.get if isinstance(s, Mapping) else (lambda k, s=s: getattr(s, k, ""))
        text = str(get("text") or "")
        snippet = text if len(text) <= snippet_chars else text[:snippet_chars] + "…"
        rows.append(f"<tr><td>{i}</td><td>{float(get('score') or 0.0):.3f}</td><td><b>{escape(get('title'))}</b>"
                    f'<br><span style="color:#666;font-size:11px">{escape(get("id"))}</span></td>'
                    f'<td style="font-size:12px">{escape(snippet)}</td></tr>')
    return ('<table class="wb-sources" style="border-collapse:collapse"><thead><tr><th>#</th><th>score</th>'
            f'<th>source</th><th>passage</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def transcript(turns: Iterable[tuple[str, str]]) -> str:
    """Earlier (question, answer) turns as a list, oldest first."""
    items = [f"<li><b>Q:</b> {escape(q)}<br><b>A:</b> {escape(a)}</li>" for q, a in turns]
    if not items:
        return '<div class="wb-memory"><i>no earlier turns</i></div>'
    return f'<ol class="wb-memory" style="font-size:12px">{"".join(items)}</ol>'


def _fmt(value: Any, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "%":
        return f"{100 * float(value):.1f}%"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):  # counts stay whole: 262, not 262.0
        return f"{value:,}{(' ' + unit) if unit else ''}"
    return f"{float(value):,.1f}{(' ' + unit) if unit else ''}"


def stat_cards(stats: Sequence[tuple[str, Any, str]]) -> str:
    """Big numbers with labels: ``stat_cards([("throughput", 12.3, "req/s"), ("hit rate", 0.4, "%")])``."""
    cards = [f'<div class="wb-stat" style="display:inline-block;min-width:92px;margin:0 8px 6px 0;padding:4px 8px;'
             f'border:1px solid #ddd;border-radius:6px"><div style="font-size:11px;color:#666">{escape(label)}</div>'
             f'<div style="font-size:17px">{escape(_fmt(value, unit))}</div></div>'
             for label, value, unit in stats]
    return f'<div class="wb-stats">{"".join(cards)}</div>'
