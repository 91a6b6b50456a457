"""Load one of the project's own datasets (``datasets/<name>/documents.jsonl``) as Documents."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from workbench.datasets.catalog import load_dataset

__all__ = ["DatasetLoader"]


@component
class DatasetLoader:
    """The documents of a project dataset, with ``doc_id``, ``title``, ``lang``, ``topic``, ``category``
    and ``tenant`` metadata.

    ```python
    docs = DatasetLoader("meridian_bank").run()["documents"]
    ```
    """

    def __init__(self, dataset: str = "meridian_bank", *, languages: list[str] | None = None,
                 tenant: str = "default") -> None:
        self.dataset = dataset
        self.languages = list(languages) if languages else None
        self.tenant = tenant

    @component.output_types(documents=list[Document])
    def run(self) -> dict[str, list[Document]]:
        """Read the dataset (raises :class:`~workbench.errors.DatasetError` if it is missing or malformed)."""
        ds = load_dataset(self.dataset)
        docs = [
            Document(id=d.id, content=d.text,
                     meta={"doc_id": d.id, "title": d.title, "lang": d.lang, "topic": d.topic,
                           "category": d.category, "source": ds.name, "tenant": self.tenant})
            for d in ds.documents
            if self.languages is None or d.lang in self.languages
        ]
        return {"documents": docs}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, dataset=self.dataset, languages=self.languages, tenant=self.tenant)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetLoader:
        return default_from_dict(cls, data)
