"""Fixtures shared by the component tests."""

from __future__ import annotations

import pytest

from workbench.models import load_embedding_model


@pytest.fixture(scope="module")
def e5():  # type: ignore[no-untyped-def]
    """The real multilingual-e5-small query/passage model (bundled, offline)."""
    return load_embedding_model("e5-small")
