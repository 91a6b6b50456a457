from __future__ import annotations

import importlib
import pkgutil

import workbench.cache


def test_exports_are_sorted_and_resolve() -> None:
    names = workbench.cache.__all__
    assert names == sorted(names)
    assert all(hasattr(workbench.cache, n) for n in names)


def test_every_module_declares_all() -> None:
    for mod in pkgutil.walk_packages(workbench.cache.__path__, "workbench.cache."):
        assert hasattr(importlib.import_module(mod.name), "__all__"), mod.name
