import importlib

import pytest

import workbench

MODULES = ["workbench", "workbench.config", "workbench.errors", "workbench.models", "workbench.text",
           "workbench.components", "workbench.stores", "workbench.pipelines", "workbench.datasets",
           "workbench.serving", "workbench.testing", "workbench.cache", "workbench.memory", "workbench.tools",
           "workbench.evaluation", "workbench.reporting", "workbench.loadtest", "workbench.dashboards",
           "workbench.observability"]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert list(exported) == sorted(exported), f"{name}.__all__ is not sorted"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which does not exist"


def test_errors_form_one_hierarchy() -> None:
    from workbench import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.WorkbenchError)
        assert cls.__doc__, f"{name} has no docstring"
    assert errors.OverloadedError(retry_after=2).retry_after == 2
    assert errors.InputError("x").http_status == 400


def test_offline_switches_are_set() -> None:
    import os

    assert workbench.__version__
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["HAYSTACK_TELEMETRY_ENABLED"] == "False"
