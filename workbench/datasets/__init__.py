"""The data package: the project's own dataset (records, loading, building, validation) and the
:class:`EvalDataset` shape with loaders for SQuAD/CMRC, BEIR, JSONL, CSV and registry-packaged corpora.

```python
ds = load_dataset("meridian_bank")                        # every part of our bilingual help centre
ev = load_eval_dataset("beir:../shared/data/scifact")     # any format, as documents + questions
```

Loaders depend on :mod:`~workbench.datasets.records`, never the reverse; nothing here imports the
packages that use the data (pipelines, cache, tools, evaluation).
"""

from workbench.datasets.bank import BankDataset, content_hash
from workbench.datasets.beir import load_beir, read_qrels_tsv
from workbench.datasets.catalog import (
    DATASETS_DIR,
    dataset_dir,
    load_dataset,
    load_eval_dataset,
    load_workbench_dataset,
)
from workbench.datasets.jsonl import load_jsonl, read_jsonl, read_records
from workbench.datasets.packaged import load_wiki_summaries, load_zaragoza_faq, wiki_summaries_path
from workbench.datasets.records import EvalDataset, EvalDocument, EvalQuestion
from workbench.datasets.schema import (
    Conversation,
    ConversationTurn,
    KBDocument,
    KBQuestion,
    NearMissPair,
    ParaphraseGroup,
    PersonalizedQuestion,
)
from workbench.datasets.squad import load_squad
from workbench.datasets.tabular import load_csv, read_csv_rows
from workbench.datasets.validate import validate_dataset

__all__ = [
    "BankDataset",
    "Conversation",
    "ConversationTurn",
    "DATASETS_DIR",
    "EvalDataset",
    "EvalDocument",
    "EvalQuestion",
    "KBDocument",
    "KBQuestion",
    "NearMissPair",
    "ParaphraseGroup",
    "PersonalizedQuestion",
    "content_hash",
    "dataset_dir",
    "load_beir",
    "load_csv",
    "load_dataset",
    "load_eval_dataset",
    "load_jsonl",
    "load_squad",
    "load_wiki_summaries",
    "load_workbench_dataset",
    "load_zaragoza_faq",
    "read_csv_rows",
    "read_jsonl",
    "read_qrels_tsv",
    "read_records",
    "validate_dataset",
    "wiki_summaries_path",
]
