"""The project's own bilingual dataset (``datasets/meridian_bank``) as an :class:`EvalDataset`.

```python
ds = load_workbench_dataset("meridian_bank")
ds.knowledge_base            # 'meridian_bank': pipelines index it from their config
ds.questions[0].gold_doc_ids # ('acct-open-savings-en', 'acct-open-savings-zh')
```
"""

from __future__ import annotations

from workbench.datasets import load_dataset
from workbench.evaluation.data.records import EvalDataset, EvalDocument, EvalQuestion

__all__ = ["load_workbench_dataset"]


def load_workbench_dataset(name: str = "meridian_bank") -> EvalDataset:
    """Documents and questions (gold document ids, short gold answers, language, intent) of a project dataset."""
    ds = load_dataset(name)
    documents = [EvalDocument(d.id, d.text, title=d.title, lang=d.lang,
                              meta={"topic": d.topic, "category": d.category}) for d in ds.documents]
    questions = [EvalQuestion(q.id, q.question, gold_doc_ids=tuple(q.gold_doc_ids), answers=tuple(q.answers),
                              lang=q.lang, meta={"intent": q.intent, "cross_lingual": q.cross_lingual})
                 for q in ds.questions]
    return EvalDataset(ds.name, documents, questions, source=str(ds.root), knowledge_base=ds.name,
                       meta={"content_hash": ds.content_hash, "manifest": ds.manifest.get("counts", {})})
