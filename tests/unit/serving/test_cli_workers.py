"""``workbench serve --workers N`` names the state its workers would keep to themselves."""

from __future__ import annotations

from workbench.config import PipelineConfig
from workbench.serving.cli import shared_state_notes


def test_per_worker_state_is_named_with_the_setting_that_shares_it() -> None:
    local = PipelineConfig.load("fast").with_overrides({"cache.enabled": True, "memory.enabled": True,
                                                        "memory.store": "memory", "tools.enabled": True})
    notes = shared_state_notes(local, 2)
    assert len(notes) == 3
    assert any("cache.backend: redis" in n for n in notes) and any("memory.store: redis" in n for n in notes)
    assert any("tools.breaker_store: redis" in n for n in notes)
    assert shared_state_notes(local, 1) == []
    shared = local.with_overrides({"cache.backend": "redis", "memory.store": "redis", "tools.breaker_store": "redis"})
    assert shared_state_notes(shared, 4) == []


def test_set_overrides_reach_the_workers_through_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    import click
    import pytest
    from click.testing import CliRunner

    from workbench.serving import cli as serve_cli

    started: dict = {}
    monkeypatch.setattr("workbench.serving.http_server.run_server", lambda config: started.setdefault("cfg", config))
    # uvicorn's Config configures the process's logging with the stream of the moment (the runner's, closed after
    # the command): later log lines from other tests' threads would write to a closed file. Not under test here.
    monkeypatch.setattr("workbench.serving.http_server.server_config", lambda *args, **kwargs: kwargs)
    monkeypatch.setenv(serve_cli.ENV_OVERRIDES, "[]")  # restored after the test (serve sets both)
    monkeypatch.setenv(serve_cli.ENV_CONFIG, "fast")
    r = CliRunner().invoke(serve_cli.serve, ["fast", "--set", "retriever.top_k=7", "--set", "cache.enabled=true"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    import os

    assert json.loads(os.environ[serve_cli.ENV_OVERRIDES]) == ["retriever.top_k=7", "cache.enabled=true"]
    made = serve_cli.app_from_env  # the worker side reads the same overrides
    factory_cfgs = []
    monkeypatch.setattr("workbench.serving.http_app.create_app", lambda factory, limits: factory_cfgs.append(factory))
    made()
    engine_cfg = []
    monkeypatch.setattr("workbench.serving.engine.AsyncEngine.from_config", lambda cfg: engine_cfg.append(cfg))
    factory_cfgs[0]()
    assert engine_cfg[0].retriever.top_k == 7 and engine_cfg[0].cache.enabled
    bad = CliRunner().invoke(serve_cli.serve, ["fast", "--set", "retriever.top_k"])
    assert bad.exit_code != 0 and isinstance(bad.exception, (SystemExit, click.BadParameter))
    with pytest.raises(Exception):  # noqa: B017 - an unknown field is refused before any worker starts
        CliRunner().invoke(serve_cli.serve, ["fast", "--set", "nope.field=1"], catch_exceptions=False)
