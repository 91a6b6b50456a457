"""Offline switches, set before any heavy import (transformers reads them once, at import time)."""

from __future__ import annotations

import os

__all__ = ["OFFLINE_ENV", "apply"]

#: Environment defaults that keep every library off the network (a user's explicit value wins).
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",  # a hub model id fails in 5 s instead of retrying for 75 s
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HAYSTACK_TELEMETRY_ENABLED": "False",  # Pipeline.run otherwise looks up a telemetry host
    "RAGAS_DO_NOT_TRACK": "true",  # ragas.evaluate otherwise looks up a telemetry host
    "TOKENIZERS_PARALLELISM": "false",
}


def apply() -> None:
    """Set the offline defaults in ``os.environ`` unless already set."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
