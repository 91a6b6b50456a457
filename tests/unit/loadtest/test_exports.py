import importlib

import pytest

MODULES = ["workbench.loadtest", "workbench.loadtest.compare", "workbench.loadtest.contract_app",
           "workbench.loadtest.http", "workbench.loadtest.inprocess", "workbench.loadtest.locust_runner",
           "workbench.loadtest.plots", "workbench.loadtest.profiles", "workbench.loadtest.result",
           "workbench.loadtest.runners", "workbench.loadtest.senders", "workbench.loadtest.stats",
           "workbench.loadtest.target", "workbench.loadtest.workload", "workbench.loadtest.cli",
           "workbench.loadtest.fuzz", "workbench.loadtest.hostile", "workbench.loadtest.capacity",
           "workbench.loadtest.quality"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__)
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}"


def test_targets_satisfy_the_protocol() -> None:
    from workbench.loadtest import DelayTarget, NoopTarget, StreamingTarget, Target

    assert isinstance(NoopTarget(), Target) and not isinstance(NoopTarget(), StreamingTarget)
    assert isinstance(DelayTarget(), StreamingTarget)
