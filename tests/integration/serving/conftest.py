"""Servers for the serving tests: the simulated LLM service and engines on real uvicorn (127.0.0.1)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workbench.config import PipelineConfig
from workbench.pipelines import load_knowledge_base
from workbench.pipelines.knowledge_base import KnowledgeBase
from workbench.serving import SimulatedBackend, SimulatedLLM, create_llm_app
from workbench.testing import UvicornServer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def serving_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reuse an already built index (WORKBENCH_TEST_INDEX_DIR or the repo's .workbench), else a temp folder."""
    shared = os.environ.get("WORKBENCH_TEST_INDEX_DIR")
    if shared:
        return Path(shared)
    local = ROOT / ".workbench" / "indexes"
    return local if local.is_dir() else tmp_path_factory.mktemp("serving-indexes")


@pytest.fixture(scope="session")
def fast_cfg(serving_index_dir: Path) -> PipelineConfig:
    """The ``fast`` preset (BM25 + extractive): no model load, so the tests measure the engine."""
    return PipelineConfig.load("fast").model_copy(update={"index_dir": str(serving_index_dir)})


@pytest.fixture(scope="session")
def fast_kb(fast_cfg: PipelineConfig) -> KnowledgeBase:
    return load_knowledge_base(fast_cfg, progress=False)


@pytest.fixture(scope="module")
def sim_llm() -> Iterator[UvicornServer]:
    """The simulated LLM service: 40 ms to the first token, 4 ms per token, 64 slots."""
    backend = SimulatedBackend(SimulatedLLM(ttft_ms=40, tpot_ms=4, slots=64, jitter=0.0, seed=0))
    with UvicornServer(create_llm_app(backend)) as server:
        yield server


@pytest.fixture(scope="module")
def llm_cfg(fast_cfg: PipelineConfig, sim_llm: UvicornServer) -> Callable[..., PipelineConfig]:
    """Make ``fast`` with the generator pointed at the simulated LLM service, plus dotted overrides."""
    def make(overrides: dict[str, object] | None = None) -> PipelineConfig:
        return fast_cfg.with_overrides({"generator.kind": "openai", "generator.base_url": f"{sim_llm.url}/v1",
                                        "generator.retries": 0, **(overrides or {})})
    return make
