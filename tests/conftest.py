"""Shared fixtures: offline switches, a loopback-only network guard, real servers, a built knowledge base."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench  # noqa: F401  (sets the offline environment before any heavy import)
from workbench.config import PipelineConfig
from workbench.testing import RedisServer

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    if isinstance(address, tuple) and self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise ConnectionRefusedError(f"tests may only connect to loopback addresses, not {host}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _network_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test may talk to 127.0.0.1 only (real servers run there); anything else fails loudly."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 at a free port, for the whole session."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index folder for the session, so the dataset is embedded once (or reused from WORKBENCH_TEST_INDEX_DIR)."""
    shared = os.environ.get("WORKBENCH_TEST_INDEX_DIR")
    return Path(shared) if shared else tmp_path_factory.mktemp("indexes")


@pytest.fixture(scope="session")
def default_config(index_dir: Path) -> PipelineConfig:
    """The ``default`` preset, indexing into the session's index folder."""
    return PipelineConfig.load("default").model_copy(update={"index_dir": str(index_dir)})


@pytest.fixture(scope="session")
def knowledge_base(default_config: PipelineConfig):  # type: ignore[no-untyped-def]
    """The Meridian Bank knowledge base, built with the real multilingual embedder (once per session)."""
    from workbench.pipelines import load_knowledge_base

    return load_knowledge_base(default_config, progress=False)
