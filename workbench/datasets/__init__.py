"""The project's own datasets: records, loading, building and validation."""

from workbench.datasets.catalog import DATASETS_DIR, BankDataset, dataset_dir, load_dataset, read_jsonl, read_records
from workbench.datasets.schema import KBDocument, KBQuestion, NearMissPair, ParaphraseGroup
from workbench.datasets.validate import validate_dataset

__all__ = [
    "DATASETS_DIR",
    "BankDataset",
    "KBDocument",
    "KBQuestion",
    "NearMissPair",
    "ParaphraseGroup",
    "dataset_dir",
    "load_dataset",
    "read_jsonl",
    "read_records",
    "validate_dataset",
]
