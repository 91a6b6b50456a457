"""The uvicorn config of the workbench service: its lifespan freezes the startup heap out of full collections."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI

from workbench.serving.http_server import HeapFreezingLifespan, server_config


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The test process's collector as it was: nothing frozen before, everything unfrozen after."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def _app(fail: bool = False) -> tuple[FastAPI, list[str]]:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if fail:
            raise RuntimeError("a model did not load")
        events.append("started")
        yield
        events.append("stopped")

    return FastAPI(lifespan=lifespan), events


async def test_the_heap_built_at_startup_is_frozen_after_it(unfrozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging.config

    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)  # uvicorn's Config would reconfigure
    # the test process's logging (handlers on the stream of the moment, no propagation to pytest's capture)
    app, events = _app()
    config = server_config(app, port=0)
    config.load()
    assert config.lifespan_class is HeapFreezingLifespan
    lifespan = HeapFreezingLifespan(config)
    assert gc.get_freeze_count() == 0
    await lifespan.startup()
    assert events == ["started"] and not lifespan.should_exit
    assert gc.get_freeze_count() > 1000  # this test process's modules, at least
    await lifespan.shutdown()
    assert events == ["started", "stopped"]


async def test_a_failed_startup_freezes_nothing(unfrozen: None) -> None:
    app, events = _app(fail=True)
    config = server_config(app, port=0, log_level="critical")
    config.load()
    lifespan = HeapFreezingLifespan(config)
    await lifespan.startup()
    assert lifespan.should_exit and events == []
    assert gc.get_freeze_count() == 0


def test_without_a_lifespan_uvicorn_keeps_its_own(unfrozen: None) -> None:
    app, _ = _app()
    config = server_config(app, port=0)
    config.lifespan = "off"
    config.load()
    assert config.lifespan_class is not HeapFreezingLifespan
