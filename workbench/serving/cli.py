"""``workbench serve CONFIG [--host 127.0.0.1] [--port 8000] [--workers N] [--set FIELD=VALUE ...]``.

With ``--workers N > 1`` uvicorn runs N worker processes of the import-string app factory
:func:`app_from_env`, which reads the config from ``WORKBENCH_SERVE_CONFIG``; state shared between
workers lives in Redis when the config says so (``cache.backend: redis``, ``memory.store: redis``,
``tools.breaker_store: redis``); :func:`shared_state_notes` names what each worker would keep to itself
otherwise (docs/scaling.md shows the whole deployment). The server applies the config's HTTP limits (``serving.max_body_bytes``,
``serving.body_timeout_s``, ``serving.header_timeout_s``) and logs lines with a timestamp and the request id::

    workbench serve fast --port 8000 --workers 2
    workbench serve default --set cache.enabled=true --set serving.admission.enabled=true

``--set`` overrides reach every worker through ``WORKBENCH_SERVE_OVERRIDES`` (a JSON list of ``FIELD=VALUE``).
"""

from __future__ import annotations

import json
import os

import click
from fastapi import FastAPI

from workbench.config import PipelineConfig

__all__ = ["ENV_CONFIG", "ENV_OVERRIDES", "app_from_env", "serve", "shared_state_notes"]

#: The environment variable through which worker processes learn the config path.
ENV_CONFIG = "WORKBENCH_SERVE_CONFIG"
#: The environment variable through which worker processes learn the ``--set`` overrides (a JSON list).
ENV_OVERRIDES = "WORKBENCH_SERVE_OVERRIDES"


def _env_overrides() -> tuple[str, ...]:
    raw = os.environ.get(ENV_OVERRIDES)
    return tuple(json.loads(raw)) if raw else ()


def app_from_env() -> FastAPI:
    """The app of the config named by ``$WORKBENCH_SERVE_CONFIG`` with the overrides of
    ``$WORKBENCH_SERVE_OVERRIDES`` (uvicorn ``--factory`` entry point)."""
    from workbench.cli import _load_config
    from workbench.serving.http_app import create_app, engine_factory
    from workbench.serving.request_guard import HttpLimits

    path = os.environ.get(ENV_CONFIG)
    if not path:
        raise click.UsageError(f"set {ENV_CONFIG} to a preset name or YAML path")
    overrides = _env_overrides()
    cfg = _load_config(path, overrides)
    return create_app(engine_factory(path, overrides), limits=HttpLimits.from_config(cfg.serving))


def shared_state_notes(cfg: PipelineConfig, workers: int) -> list[str]:
    """What the workers of ``cfg`` would not share with ``workers`` > 1 (nothing to say for one worker).

    :param cfg: the served config.
    :param workers: worker processes.
    :returns: one line per state kept per worker, with the setting that shares it.
    """
    if workers <= 1:
        return []
    notes = []
    if cfg.cache.enabled and cfg.cache.backend != "redis":
        notes.append("the cache is per worker (a hit on one is a miss on the others): cache.backend: redis")
    if cfg.memory.enabled and cfg.memory.store == "memory":
        notes.append("sessions are per worker (a conversation forgets its turns when the next one lands on another "
                     "worker): memory.store: redis (or sqlite on one machine)")
    if cfg.tools.enabled and cfg.tools.breaker_store != "redis":
        notes.append("circuit breakers are per worker (each must see the failures itself): tools.breaker_store: redis")
    return notes


@click.command("serve")
@click.argument("config")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--log-level", default="warning", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a config field, e.g. --set cache.enabled=true (repeatable).")
def serve(config: str, host: str, port: int, workers: int, log_level: str, overrides: tuple[str, ...]) -> None:
    """Serve the RAG engine of CONFIG over HTTP (POST /v1/chat, /v1/chat/completions, GET /metrics)."""
    from workbench.cli import _load_config
    from workbench.serving.http_server import run_server, server_config
    from workbench.serving.request_guard import HttpLimits

    cfg = _load_config(config, overrides)  # fail fast on a bad config or override, before any worker starts
    for note in shared_state_notes(cfg, workers):
        click.echo(f"note: {note}", err=True)
    os.environ[ENV_CONFIG] = config
    os.environ[ENV_OVERRIDES] = json.dumps(list(overrides))
    run_server(server_config("workbench.serving.cli:app_from_env", factory=True, host=host, port=port,
                             workers=workers, limits=HttpLimits.from_config(cfg.serving), log_level=log_level))
