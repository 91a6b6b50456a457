"""Experiments, sweeps and comparisons."""

from workbench.evaluation.experiment.compare import (
    BOOTSTRAP_METHOD,
    PERMUTATION_METHOD,
    Delta,
    bootstrap_delta,
    bootstrap_mean,
    compare_runs,
    holm_adjust,
    paired_permutation_p,
    pareto_front,
)
from workbench.evaluation.experiment.manifest import build_manifest, machine_info, package_versions
from workbench.evaluation.experiment.result import ExperimentResult, is_result_dir
from workbench.evaluation.experiment.runner import (
    DEFAULT_CACHE_DIR,
    Experiment,
    LoadProfileLike,
    effective_config,
    knowledge_base_for,
    seed_everything,
)
from workbench.evaluation.experiment.summary import flat_summary, metric_columns, summarize
from workbench.evaluation.experiment.sweep import Sweep, SweepResult, config_grid

__all__ = [
    "BOOTSTRAP_METHOD",
    "DEFAULT_CACHE_DIR",
    "Delta",
    "Experiment",
    "ExperimentResult",
    "LoadProfileLike",
    "PERMUTATION_METHOD",
    "Sweep",
    "SweepResult",
    "bootstrap_delta",
    "bootstrap_mean",
    "build_manifest",
    "compare_runs",
    "config_grid",
    "effective_config",
    "flat_summary",
    "holm_adjust",
    "is_result_dir",
    "knowledge_base_for",
    "machine_info",
    "metric_columns",
    "package_versions",
    "paired_permutation_p",
    "pareto_front",
    "seed_everything",
    "summarize",
]
