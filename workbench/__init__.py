"""RAG Serving Workbench: build, load-test, evaluate and compare retrieval-augmented QA pipelines."""

from workbench import _offline

_offline.apply()

from workbench.config import PipelineConfig  # noqa: E402
from workbench.errors import (  # noqa: E402
    ConfigError,
    DatasetError,
    GeneratorError,
    InputError,
    ModelNotFoundError,
    OverloadedError,
    WorkbenchError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DatasetError",
    "GeneratorError",
    "InputError",
    "ModelNotFoundError",
    "OverloadedError",
    "PipelineConfig",
    "WorkbenchError",
    "__version__",
]
