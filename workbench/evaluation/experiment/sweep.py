"""A sweep: several configs on one dataset → one tidy DataFrame, sharing built knowledge bases.

```python
sweep = Sweep.grid(PipelineConfig.load("default"), {"retriever.mode": ["bm25", "dense", "hybrid"]},
                   load_workbench_dataset())
result = sweep.run()
result.frame()            # one row per (config, question), with config and config_hash columns
result.summary_frame()    # one row per config
```
Configs whose index settings agree (same ``index_hash`` and documents) share one loaded
:class:`~workbench.pipelines.KnowledgeBase`: the three retrieval modes above embed the corpus once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.config import PipelineConfig
from workbench.datasets import EvalDataset, load_eval_dataset
from workbench.evaluation.experiment.result import ExperimentResult
from workbench.evaluation.experiment.runner import DEFAULT_CACHE_DIR, Experiment, knowledge_base_for

__all__ = ["Sweep", "SweepResult", "config_grid"]


def config_grid(base: PipelineConfig, axes: Mapping[str, Sequence[Any]]) -> list[PipelineConfig]:
    """Every combination of ``axes`` (dotted field → values) applied to ``base``, named after the overrides.

    >>> [c.name for c in config_grid(PipelineConfig.load("fast"), {"retriever.top_k": [3, 5]})]
    ['fast[retriever.top_k=3]', 'fast[retriever.top_k=5]']
    """
    keys = list(axes)
    configs = []
    for values in itertools.product(*(axes[k] for k in keys)):
        overrides = dict(zip(keys, values, strict=True))
        label = ",".join(f"{k}={v}" for k, v in overrides.items())
        configs.append(base.with_overrides({**overrides, "name": f"{base.name}[{label}]"}))
    return configs


@dataclass
class SweepResult:
    """The experiments of a sweep, in config order."""

    results: list[ExperimentResult]

    def frame(self) -> pd.DataFrame:
        """All per-question rows, with ``config`` and ``config_hash`` columns first."""
        parts = []
        for r in self.results:
            part = r.rows.copy()
            part.insert(0, "config_hash", r.config_hash)
            part.insert(0, "config", r.name)
            parts.append(part)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def summary_frame(self) -> pd.DataFrame:
        """One row per config: the overall numbers and headline numbers per language."""
        return pd.DataFrame([r.summary_row() for r in self.results])


class Sweep:
    """Run :class:`Experiment` s for several configs on one dataset (keyword arguments go to each experiment)."""

    def __init__(self, configs: Sequence[PipelineConfig] | Mapping[str, PipelineConfig], dataset: EvalDataset | str, *,
                 cache_dir: str | Path = DEFAULT_CACHE_DIR, **experiment_kwargs: Any) -> None:
        if isinstance(configs, Mapping):
            configs = [c.with_overrides({"name": n}) if c.name != n else c for n, c in configs.items()]
        self.configs = list(configs)
        if not self.configs:
            raise ValueError("a sweep needs at least one config")
        names = [c.name for c in self.configs]
        if len(set(names)) != len(names):
            raise ValueError(f"config names must be unique in a sweep, got {names}")
        self.dataset = load_eval_dataset(dataset) if isinstance(dataset, str) else dataset
        self.cache_dir = Path(cache_dir)
        self.experiment_kwargs = experiment_kwargs
        self._kbs: dict[str, Any] = {}

    @classmethod
    def grid(cls, base: PipelineConfig, axes: Mapping[str, Sequence[Any]], dataset: EvalDataset | str,
             **kwargs: Any) -> Sweep:
        """A sweep over :func:`config_grid` of ``base``."""
        return cls(config_grid(base, axes), dataset, **kwargs)

    def experiments(self) -> list[Experiment]:
        """One experiment per config (not yet run)."""
        return [Experiment(c, self.dataset, cache_dir=self.cache_dir, **self.experiment_kwargs) for c in self.configs]

    def _knowledge_base(self, exp: Experiment) -> Any:
        from workbench.pipelines.knowledge_base import data_hash

        cfg = exp.pipeline_config()
        version = f"{cfg.index_hash}-{data_hash(cfg)}"
        if version not in self._kbs:
            self._kbs[version] = knowledge_base_for(cfg)
        return self._kbs[version]

    def run(self, *, force: bool = False,
            progress: Callable[[str, int, int], None] | None = None) -> SweepResult:
        """Run (or load from cache) every experiment; knowledge bases are loaded once per index version.

        ``progress(config_name, done, total)`` is called after each question of each config that runs.
        """
        results = []
        for exp in self.experiments():
            if force or not (exp.path / "manifest.json").is_file():
                exp._kb = self._knowledge_base(exp)
            step = None
            if progress is not None:
                def step(done: int, total: int, name: str = exp.config.name) -> None:
                    progress(name, done, total)
            results.append(exp.run(force=force, progress=step))
        return SweepResult(results)
