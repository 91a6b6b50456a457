"""Cross-lingual retrieval by language partition: find the article that exists only in the other language.

A bilingual help centre writes most articles in both languages, and some in one only. A question in one
language finds its own language's article (dense and BM25 agree), but an article written only in the other
language loses to every same-language passage: the multilingual embedder scores a same-language passage on a
nearby topic above the right passage in the other language, and BM25 never matches across scripts (issue 12:
0/33 cross-lingual questions found at hit@5).

``retriever.cross_lingual: partition`` searches a second partition of the store: the documents of *other*
languages that have no version in the question's language (:func:`only_elsewhere`: translations share a
metadata key, ``retriever.translation_key``, ``topic`` in the bank dataset). The best of them get reserved
ranks in the final list (:class:`CrossLingualSlots`): by default ranks 4 and 5, so the question's own-language
passages keep the first three. A document without the key counts as having no translation.

```python
unique = only_elsewhere(kb.store.documents, key="topic")      # {"en": [zh-only doc ids], "zh": [...]}
slots = CrossLingualSlots(slots=2, rank=4)
slots.run(documents=fused, other=store.search(vec, top_k=20, filters={"doc_id": unique["en"]}))["documents"]
```
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.core.serialization_security import allow_deserialization_module

__all__ = ["CrossLingualSlots", "only_elsewhere"]


def only_elsewhere(documents: Iterable[Document], *, key: str | None = "topic",
                   languages: Iterable[str] = ("en", "zh")) -> dict[str, list[str]]:
    """For each question language, the ids (``meta["doc_id"]``) of the documents in other languages that have
    no version in that language.

    :param documents: the passages of a store (their ``doc_id``, ``lang`` and ``key`` metadata are read).
    :param key: the metadata field shared by the translations of one article; ``None``, or a passage without
        it: the document has no translation.
    :param languages: the question languages to compute it for (those of :func:`workbench.text.detect_language`,
        and any language of the documents).
    :returns: ``{language: sorted document ids}``.
    """
    doc_lang: dict[str, str] = {}
    group_langs: dict[str, set[str]] = defaultdict(set)
    doc_group: dict[str, str] = {}
    for d in documents:
        doc_id = str(d.meta.get("doc_id", d.id))
        lang = str(d.meta.get("lang") or "")
        doc_lang[doc_id] = lang
        group = d.meta.get(key) if key else None
        doc_group[doc_id] = f"group:{group}" if group is not None else f"doc:{doc_id}"
        group_langs[doc_group[doc_id]].add(lang)
    wanted = set(languages) | set(doc_lang.values())
    return {lang: sorted(doc for doc, dl in doc_lang.items() if dl != lang and lang not in group_langs[doc_group[doc]])
            for lang in sorted(wanted)}


@component
class CrossLingualSlots:
    """Reserves ranks of a result list for the best documents found only in another language.

    The first ``slots`` distinct documents of ``other`` (best first) that are not already ranked before
    ``rank`` take ranks ``rank``, ``rank + 1``...; any lower-ranked passage of theirs moves up, and the list
    keeps its length (its tail drops out). A list shorter than ``rank`` is returned as it is. Moved-in
    passages carry ``meta["cross_lingual"] = True`` and take the score of the passage whose rank they took
    (so scores stay on the list's scale, descending); their own score is ``meta["cross_lingual_score"]``.

    ```python
    out = CrossLingualSlots(slots=2, rank=4).run(documents=fused, other=other_language_hits)["documents"]
    ```
    """

    def __init__(self, *, slots: int = 2, rank: int = 4) -> None:
        """
        :param slots: how many ranks are reserved.
        :param rank: the first reserved rank (from 1).
        :raises ValueError: ``slots`` or ``rank`` below 1.
        """
        if slots < 1 or rank < 1:
            raise ValueError(f"slots and rank must be >= 1, got slots={slots}, rank={rank}")
        self.slots = slots
        self.rank = rank

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document], other: list[Document]) -> dict[str, list[Document]]:
        """The list with the reserved ranks filled.

        :param documents: the ranked passages (fused, reranked), best first.
        :param other: passages of the other-language partition, best first.
        :returns: ``{"documents": ...}``, as long as ``documents``.
        """
        start = self.rank - 1
        if not other or not documents or len(documents) < start:
            return {"documents": documents}
        ahead = {_doc_id(d) for d in documents[:start]}
        chosen: list[Document] = []
        for d in other:
            doc_id = _doc_id(d)
            if doc_id in ahead or any(_doc_id(c) == doc_id for c in chosen):
                continue
            chosen.append(d)
            if len(chosen) == self.slots:
                break
        moved = {_doc_id(c) for c in chosen}
        rest = [d for d in documents[start:] if _doc_id(d) not in moved]
        # a reserved rank takes the score of the passage that held it (the list's scores stay one scale and
        # descending); the other partition's own score (a cosine) is kept in meta
        held = [d.score for d in documents[start:start + len(chosen)]]
        held += [held[-1] if held else documents[start - 1].score] * (len(chosen) - len(held))
        slotted = [Document(id=d.id, content=d.content, score=score,
                            meta={**d.meta, "cross_lingual": True, "cross_lingual_score": d.score})
                   for d, score in zip(chosen, held, strict=True)]
        return {"documents": [*documents[:start], *slotted, *rest][: len(documents)]}

    def to_dict(self) -> dict[str, Any]:
        """Serialize (Haystack)."""
        return default_to_dict(self, slots=self.slots, rank=self.rank)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrossLingualSlots:
        """Deserialize (Haystack)."""
        return default_from_dict(cls, data)


def _doc_id(d: Document) -> str:
    return str(d.meta.get("doc_id", d.id))


allow_deserialization_module("workbench.pipelines.crosslingual")
