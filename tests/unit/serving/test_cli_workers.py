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
