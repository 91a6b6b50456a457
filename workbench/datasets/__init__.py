"""The project's own datasets: records, loading, building and validation."""

from workbench.datasets.catalog import DATASETS_DIR, BankDataset, dataset_dir, load_dataset, read_jsonl, read_records
from workbench.datasets.schema import (
    Conversation,
    ConversationTurn,
    KBDocument,
    KBQuestion,
    NearMissPair,
    ParaphraseGroup,
    PersonalizedQuestion,
)
from workbench.datasets.validate import validate_dataset

__all__ = [
    "BankDataset",
    "Conversation",
    "ConversationTurn",
    "DATASETS_DIR",
    "KBDocument",
    "KBQuestion",
    "NearMissPair",
    "ParaphraseGroup",
    "PersonalizedQuestion",
    "dataset_dir",
    "load_dataset",
    "read_jsonl",
    "read_records",
    "validate_dataset",
]
