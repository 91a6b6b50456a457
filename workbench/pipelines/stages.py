"""The stage list of a query path, and the three ways it runs: blocking, async, as a ``haystack.Pipeline``.

A :class:`Stage` names a component, the *slots* of the request state it reads (``question``,
``documents``, ``prompt``...) and the slots its outputs write. Slots make the wiring implicit: a stage
reads what the last stage before it wrote, so

* :func:`run_stages` calls each stage's ``run`` in order, timing it;
* :func:`arun_stages` does the same with ``run_async`` where the component has one (Haystack's own
  marker ``__haystack_supports_async__``), so the event loop never waits on a model;
* :func:`haystack_wiring` connects each input to the output that last wrote its slot; inputs no stage
  wrote come from the request (``Pipeline.run`` data).

All three walk the same list, so they are equal by construction. A stage whose ``pick(plan)`` gives
``None`` is skipped: its slots keep what earlier stages wrote. A component may also leave out some of its
outputs (the abstention gate passes ``question`` and ``documents`` on only when it lets the request through):
the slots they would write are then unset, and a stage none of whose input slots is set is skipped, as
Haystack skips a component none of whose senders produced anything::

    state = {"question": q, "filters": {"tenant": "default"}, "top_k": 3, ...}
    run_stages(stages, FULL_PLAN, state, timings)
    state["documents"], state["replies"]
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from haystack import Pipeline

from workbench.pipelines.plan import QueryPlan

__all__ = ["Stage", "arun_stages", "haystack_wiring", "run_stages"]

_NS = time.perf_counter_ns
PieceCallback = Callable[[str], None]


@dataclass(frozen=True)
class Stage:
    """One step of the query path (see the module docstring)."""

    name: str
    """The component's name in the Haystack pipeline (``query_embedder``, ``bm25``, ``generator``...)."""
    timing: str
    """Its key in ``timings_ms`` (``embed``, ``retrieve_bm25``, ``generate``...)."""
    inputs: Mapping[str, str]
    """``run()`` parameter → the slot it reads."""
    outputs: Mapping[str, str | tuple[str, ...]]
    """``run()`` output → the slot it writes (or several slots: one output may feed several readers)."""
    pick: Callable[[QueryPlan], Any]
    """The component this plan runs here, or ``None`` to skip the stage."""
    given: str | None = None
    """A slot that, when the request already carries a value in it (not ``None``), makes this stage
    unnecessary: it is skipped (the query embedder when the caller passes the question's embedding)."""
    streams: bool = False
    """Takes the ``streaming_callback`` of the request."""
    prepare: Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]] | None = None
    """Adjusts the resolved inputs from the state (the generator puts the conversation history first)."""
    acall: Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None
    """Replaces the async call (the query embedder goes through the serving micro-batcher)."""


def _bind(stage: Stage, plan: QueryPlan, state: Mapping[str, Any],
          on_piece: PieceCallback | None) -> tuple[Any, dict[str, Any]]:
    comp = stage.pick(plan)
    if comp is None or (stage.given is not None and state.get(stage.given) is not None) or (stage.inputs and not any(slot in state for slot in stage.inputs.values())):
        return None, {}
    kwargs = {param: state[slot] for param, slot in stage.inputs.items() if slot in state}
    if stage.prepare is not None:
        kwargs = stage.prepare(kwargs, state)
    if stage.streams and on_piece is not None:
        kwargs["streaming_callback"] = on_piece
    return comp, kwargs


def _store(stage: Stage, state: dict[str, Any], out: Mapping[str, Any], timings: dict[str, float], t0: int) -> None:
    timings[stage.timing] = (_NS() - t0) / 1e6
    for name, slots in stage.outputs.items():
        for slot in _slots(slots):
            if name in out:
                state[slot] = out[name]
            else:
                state.pop(slot, None)  # its latest writer produced nothing: later readers see it unset


def _slots(slots: str | tuple[str, ...]) -> tuple[str, ...]:
    return (slots,) if isinstance(slots, str) else slots


def run_stages(stages: Sequence[Stage], plan: QueryPlan, state: dict[str, Any], timings: dict[str, float], *,
               on_piece: PieceCallback | None = None, until: str | None = None) -> dict[str, Any]:
    """Run ``stages`` in order (up to, not including, the stage named ``until``), blocking; returns ``state``."""
    for stage in stages:
        if stage.name == until:
            break
        comp, kwargs = _bind(stage, plan, state, on_piece)
        if comp is not None:
            t0 = _NS()
            _store(stage, state, comp.run(**kwargs), timings, t0)
    return state


async def arun_stages(stages: Sequence[Stage], plan: QueryPlan, state: dict[str, Any], timings: dict[str, float], *,
                      on_piece: PieceCallback | None = None, until: str | None = None) -> dict[str, Any]:
    """:func:`run_stages` on the event loop: ``run_async`` where a component has it, ``run`` inline otherwise
    (components without ``run_async`` are the cheap ones: retrieval, fusion, prompt, extractive answers)."""
    for stage in stages:
        if stage.name == until:
            break
        comp, kwargs = _bind(stage, plan, state, on_piece)
        if comp is None:
            continue
        t0 = _NS()
        if stage.acall is not None:
            out = await stage.acall(comp, kwargs)
        elif getattr(comp, "__haystack_supports_async__", False):
            out = await comp.run_async(**kwargs)
        else:
            out = comp.run(**kwargs)
        _store(stage, state, out, timings, t0)
    return state


def haystack_wiring(stages: Sequence[Stage], plan: QueryPlan) -> tuple[Pipeline, dict[str, dict[str, str]],
                                                                       dict[str, str]]:
    """The stages of ``plan`` as a ``haystack.Pipeline``.

    :returns: the pipeline; for each component, its inputs that come from the request (parameter → slot);
        and for each slot, the ``component.output`` that finally holds it.
    """
    pipe = Pipeline()
    writer: dict[str, str] = {}
    request: dict[str, dict[str, str]] = {}
    for stage in stages:
        comp = stage.pick(plan)
        if comp is None:
            continue
        pipe.add_component(stage.name, comp)
        for param, slot in stage.inputs.items():
            if slot in writer:
                pipe.connect(writer[slot], f"{stage.name}.{param}")
            else:
                request.setdefault(stage.name, {})[param] = slot
        for out, slots in stage.outputs.items():
            for slot in _slots(slots):
                writer[slot] = f"{stage.name}.{out}"
    return pipe, request, writer
