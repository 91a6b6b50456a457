"""Cut documents into passages of whole sentences (Chinese and English)."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict

from workbench.text import split_sentences

__all__ = ["SentenceSplitter"]


@component
class SentenceSplitter:
    """Packs whole sentences into passages of at most ``max_chars`` characters, repeating the last
    ``overlap_sentences`` of a passage at the start of the next. The title is prefixed to every
    passage (so a passage about "Gold Card fees" still says so), and each passage keeps the parent's
    metadata plus ``doc_id``, ``passage`` (its index) and an id ``<doc_id>#<index>``.

    ```python
    passages = SentenceSplitter(max_chars=400).run(documents=docs)["documents"]
    ```
    """

    def __init__(self, *, max_chars: int = 600, overlap_sentences: int = 1, prefix_title: bool = True) -> None:
        if max_chars < 50:
            raise ValueError("max_chars must be at least 50")
        if overlap_sentences < 0:
            raise ValueError("overlap_sentences must be >= 0")
        self.max_chars = max_chars
        self.overlap_sentences = overlap_sentences
        self.prefix_title = prefix_title

    def _passages(self, text: str) -> list[str]:
        sentences = split_sentences(text)
        out: list[list[str]] = []
        current: list[str] = []
        size = 0
        for s in sentences:
            if current and size + len(s) > self.max_chars:
                out.append(current)
                current = current[-self.overlap_sentences:] if self.overlap_sentences else []
                size = sum(len(x) for x in current)
            current.append(s)
            size += len(s)
        # a tail that only repeats the overlap of the previous passage adds nothing
        if current and not (out and len(current) <= self.overlap_sentences and current == out[-1][-len(current):]):
            out.append(current)
        joiner = lambda parts: "".join(parts) if any("\u4e00" <= ch <= "\u9fff" for ch in "".join(parts)[:50]) \
            else " ".join(parts)  # noqa: E731
        return [joiner(p) for p in out]

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Split every document; documents without text are dropped."""
        out: list[Document] = []
        for doc in documents:
            if not doc.content:
                continue
            doc_id = doc.meta.get("doc_id", doc.id)
            title = doc.meta.get("title") or ""
            for i, passage in enumerate(self._passages(doc.content)):
                text = f"{title}\n{passage}" if self.prefix_title and title else passage
                out.append(Document(id=f"{doc_id}#{i}", content=text, meta={**doc.meta, "doc_id": doc_id, "passage": i}))
        return {"documents": out}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, max_chars=self.max_chars, overlap_sentences=self.overlap_sentences,
                               prefix_title=self.prefix_title)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SentenceSplitter:
        return default_from_dict(cls, data)
