"""Evaluation datasets: the :class:`EvalDataset` shape and loaders for every supported format.

```python
ds = load_eval_dataset("meridian_bank")                     # the project's own dataset
ds = load_eval_dataset("beir:../shared/data/scifact")       # BEIR folder (split "test")
ds = load_eval_dataset("squad:../shared/data/cmrc2018/cmrc2018_dev.json")
ds = load_eval_dataset("zaragoza-faq"), load_eval_dataset("wiki-summaries")
```
"""

from workbench.evaluation.data.beir import load_beir, read_qrels_tsv
from workbench.evaluation.data.catalog import load_eval_dataset
from workbench.evaluation.data.jsonl import load_jsonl
from workbench.evaluation.data.own import load_workbench_dataset
from workbench.evaluation.data.packaged import load_wiki_summaries, load_zaragoza_faq, wiki_summaries_path
from workbench.evaluation.data.records import EvalDataset, EvalDocument, EvalQuestion
from workbench.evaluation.data.squad import load_squad
from workbench.evaluation.data.tabular import load_csv

__all__ = [
    "EvalDataset",
    "EvalDocument",
    "EvalQuestion",
    "load_beir",
    "load_csv",
    "load_eval_dataset",
    "load_jsonl",
    "load_squad",
    "load_wiki_summaries",
    "load_workbench_dataset",
    "load_zaragoza_faq",
    "read_qrels_tsv",
    "wiki_summaries_path",
]
