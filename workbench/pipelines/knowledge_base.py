"""Build (once) and load the knowledge base of a config: the Haystack indexing pipeline and its saved index.

An index is saved under ``<index_dir>/<index_hash>-<data_hash>``: changing the documents or any
indexing knob gives a new version, and the version string goes into cache keys (nothing from an old
knowledge base is served after re-indexing).

```python
kb = load_knowledge_base(PipelineConfig.load("default"))   # builds on first use, then loads in ms
kb.version, kb.store.count
```

When a few documents change, :func:`update_knowledge_base` re-indexes only them (FAISS and BM25, in
place: the pipelines built on ``kb`` see the change) and returns their ids, so the cache can drop exactly
the answers that cited them instead of flushing everything::

    update = update_knowledge_base(kb, cfg, changed=[Document(content=new_text, meta={"doc_id": "cards-gold-en",
                                                                                       "title": "Gold Card"})],
                                   removed=["cards-old-offer-en"])
    stack.invalidate_documents(update.doc_ids)

When the config's extractive answerer weighs the question-sentence cosine (:func:`wants_sentence_vectors`),
the vectors of every candidate sentence are computed with the index (batched) and saved beside it
(``sentence-vectors-<key>.npz``, keyed by the version and the embedding model): a second load reads them,
and an incremental update embeds the sentences of the changed documents only. ``kb.sentences`` holds them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from haystack import Document, Pipeline
from haystack.components.joiners import DocumentJoiner

from workbench.components import DatasetLoader, DocumentEmbedder, FileLoader, IndexWriter, SentenceSplitter
from workbench.components.generators.sentence_vectors import SentenceVectors
from workbench.config import PipelineConfig
from workbench.datasets import content_hash, dataset_dir
from workbench.errors import DatasetError, InputError
from workbench.models import load_embedding_model
from workbench.stores import BM25Index, FaissDocumentStore

__all__ = ["IndexUpdate", "KnowledgeBase", "build_indexing_pipeline", "data_hash", "load_knowledge_base",
           "update_knowledge_base", "wants_sentence_vectors"]


@dataclass
class KnowledgeBase:
    """The indexed passages of a config: a FAISS store, a BM25 index over the same passages, a version."""

    store: FaissDocumentStore
    bm25: BM25Index
    version: str
    """The built index's version (index settings and data hash): cache keys carry it."""
    path: Path | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    revision: int = 0
    """Incremental updates applied since :attr:`version` was built (:func:`update_knowledge_base`); the
    version stays, so the cache keeps serving the answers whose documents did not change."""
    sentences: SentenceVectors | None = None
    """The vectors of every passage's candidate sentences (the extractive answerer's dense signal), when the
    config wants them (:func:`wants_sentence_vectors`); updated in place by :func:`update_knowledge_base`."""


def wants_sentence_vectors(cfg: PipelineConfig) -> bool:
    """Whether ``cfg``'s knowledge base carries sentence vectors: it has a dense embedder (``retriever.mode``
    dense or hybrid) and something ranks sentences with them: an extractive generator (or a language's) with
    ``generator.sentence_dense_weight`` > 0, or a sentence context in the prompt with
    ``prompt.sentence_dense_weight`` > 0."""
    g = cfg.generator
    gens = [g, *(g.for_language(lang) for lang in g.by_language)]
    prompt = cfg.prompt.context == "sentences" and cfg.prompt.sentence_dense_weight > 0
    return cfg.retriever.mode in ("dense", "hybrid") and (prompt or any(
        one.kind == "extractive" and one.sentence_dense_weight > 0 for one in gens))


def _attach_sentences(kb: KnowledgeBase, cfg: PipelineConfig) -> None:
    """Load the saved sentence vectors of ``kb`` or compute them (and save them beside its index)."""
    model, t0 = cfg.embedder.model, time.perf_counter()
    found = SentenceVectors.load(kb.path, model, key=kb.version) if kb.path is not None else None
    if found is None:
        found = SentenceVectors.build(kb.store.documents, model, key=kb.version, threads=cfg.embedder.threads)
        if kb.path is not None:
            found.save(kb.path)
        kb.stats["sentence_vectors_build_s"] = round(time.perf_counter() - t0, 2)
    else:
        kb.stats["sentence_vectors_load_s"] = round(time.perf_counter() - t0, 4)
    kb.stats["sentence_vectors"] = found.sentences
    kb.sentences = found


def data_hash(cfg: PipelineConfig) -> str:
    """Hash of the documents a config indexes (dataset files and extra paths)."""
    digest = hashlib.sha256()
    kb = cfg.knowledge_base
    if kb.dataset:
        digest.update(content_hash(dataset_dir(kb.dataset)).encode())
    for raw in kb.paths:
        p = Path(raw).expanduser()
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            if not f.exists():
                raise DatasetError("no such file or folder", path=str(f))
            digest.update(str(f).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def build_indexing_pipeline(cfg: PipelineConfig, store: FaissDocumentStore, bm25: BM25Index, *,
                            progress: bool = True) -> Pipeline:
    """loader(s) → splitter → embedder → writer, as a Haystack Pipeline over ``store`` and ``bm25``."""
    kb = cfg.knowledge_base
    p = Pipeline()
    sources = []
    if kb.dataset:
        p.add_component("dataset_loader", DatasetLoader(kb.dataset, languages=list(kb.languages or []) or None,
                                                        tenant=kb.tenant))
        sources.append("dataset_loader")
    if kb.paths:
        p.add_component("file_loader", FileLoader(tenant=kb.tenant))
        sources.append("file_loader")
    head = sources[0]
    if len(sources) > 1:
        p.add_component("joiner", DocumentJoiner(join_mode="concatenate"))
        for s in sources:
            p.connect(f"{s}.documents", "joiner.documents")
        head = "joiner"
    if cfg.splitter.enabled:
        p.add_component("splitter", SentenceSplitter(max_chars=cfg.splitter.max_chars,
                                                     overlap_sentences=cfg.splitter.overlap_sentences))
        p.connect(f"{head}.documents", "splitter.documents")
        head = "splitter"
    p.add_component("embedder", DocumentEmbedder(cfg.embedder.model, batch_size=cfg.embedder.batch_size,
                                                 threads=cfg.embedder.threads, progress_bar=progress))
    p.add_component("writer", IndexWriter(store, bm25))
    p.connect(f"{head}.documents", "embedder.documents")
    p.connect("embedder.documents", "writer.documents")
    p.connect("embedder.embeddings", "writer.embeddings")
    return p


def _empty(cfg: PipelineConfig) -> tuple[FaissDocumentStore, BM25Index]:
    dim = load_embedding_model(cfg.embedder.model, threads=cfg.embedder.threads).dim
    ix, r = cfg.index, cfg.retriever
    store = FaissDocumentStore(dim=dim, kind=ix.kind, metric=ix.metric, hnsw_m=ix.hnsw_m,
                               hnsw_ef_construction=ix.hnsw_ef_construction, hnsw_ef_search=ix.hnsw_ef_search,
                               ivf_nlist=ix.ivf_nlist, ivf_nprobe=ix.ivf_nprobe)
    return store, BM25Index(tokenizer=r.bm25_tokenizer, k1=r.bm25_k1, b=r.bm25_b)


def load_knowledge_base(cfg: PipelineConfig, *, rebuild: bool = False, progress: bool = True,
                        save: bool = True, sentence_vectors: bool | None = None) -> KnowledgeBase:
    """Load the saved index of ``cfg``, or build it with the indexing pipeline (and save it).

    ``sentence_vectors``: attach :attr:`KnowledgeBase.sentences` (loaded when saved, else computed and saved);
    ``None``: when :func:`wants_sentence_vectors` says the config uses them.
    """
    version = f"{cfg.index_hash}-{data_hash(cfg)}"
    folder = Path(cfg.index_dir).expanduser() / version
    sentences = wants_sentence_vectors(cfg) if sentence_vectors is None else sentence_vectors
    if folder.is_dir() and not rebuild and (folder / "kb.json").is_file():
        t0 = time.perf_counter()
        kb = KnowledgeBase(FaissDocumentStore.load(folder), BM25Index.load(folder), version, folder,
                           json.loads((folder / "kb.json").read_text()))
        kb.stats["load_s"] = time.perf_counter() - t0
        if sentences:
            _attach_sentences(kb, cfg)
        return kb
    store, bm25 = _empty(cfg)
    pipeline = build_indexing_pipeline(cfg, store, bm25, progress=progress)
    t0 = time.perf_counter()
    pipeline.run({"file_loader": {"paths": list(cfg.knowledge_base.paths)}} if cfg.knowledge_base.paths else {})
    seconds = time.perf_counter() - t0
    stats = {"passages": store.count, "documents": len({d.meta.get("doc_id") for d in store.documents}),
             "build_s": round(seconds, 2), "embedder": cfg.embedder.model, "index": cfg.index.kind}
    if save:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        store.save(tmp)
        bm25.save(tmp)
        (tmp / "kb.json").write_text(json.dumps(stats, indent=2))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.replace(folder)  # a crash mid-save never leaves a half-written index behind
        store.path = bm25.path = folder
    kb = KnowledgeBase(store, bm25, version, folder if save else None, stats)
    if sentences:
        _attach_sentences(kb, cfg)
    return kb


@dataclass(frozen=True)
class IndexUpdate:
    """What :func:`update_knowledge_base` changed."""

    changed: tuple[str, ...]
    """Documents (re)indexed: changed or new."""
    removed: tuple[str, ...]
    """Documents that were in the index and are gone."""
    passages_added: int
    passages_removed: int
    revision: int
    """The knowledge base's revision after the update."""
    seconds: float

    @property
    def doc_ids(self) -> tuple[str, ...]:
        """Every document whose cached answers are stale: changed and removed (pass it to
        ``CacheStack.invalidate_documents``)."""
        return tuple(dict.fromkeys((*self.changed, *self.removed)))


def _stored_vectors(store: FaissDocumentStore) -> np.ndarray:
    """The vectors of ``store``'s passages, in order, read back from FAISS (no re-embedding).

    The store keeps vectors only inside its FAISS index and has no public accessor for them yet, so this
    reads its index directly (flat and HNSW reconstruct as stored; IVF needs its direct map).
    """
    index = store._index
    if index is None or index.ntotal == 0:
        return np.zeros((0, store.dim), dtype=np.float32)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.make_direct_map()
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def update_knowledge_base(kb: KnowledgeBase, cfg: PipelineConfig, *, changed: Sequence[Document] = (),
                          removed: Sequence[str] = (), progress: bool = False) -> IndexUpdate:
    """Re-index only ``changed`` documents (new or edited) and drop ``removed`` ones, in place.

    Every passage of a changed or removed document leaves the FAISS store and the BM25 index; the changed
    documents are split and embedded like the indexing pipeline does (``cfg``'s splitter and embedder) and
    added. Other passages keep their vectors (read back from FAISS, not re-embedded); so do their sentence
    vectors (``kb.sentences``, when held: only the new passages' sentences are embedded). BM25 statistics are
    corpus-wide, so BM25 is rebuilt over the new passage list (cheap: no model). When ``kb`` was saved, the
    updated index is saved next to it (``<version>.r<revision>``) and ``kb.path`` points there.

    Not atomic with concurrent searches on the same store: apply it between requests.

    :param kb: the knowledge base (from :func:`load_knowledge_base`); updated in place.
    :param cfg: the config it was built with (splitter, embedder, tenant).
    :param changed: whole documents, each with ``meta["doc_id"]`` (or its ``id``); ``title``, ``lang`` and
        the other metadata as the loaders write them (``tenant`` defaults to ``knowledge_base.tenant``).
    :param removed: ids of documents to drop.
    :param progress: show the embedding progress bar.
    :returns: which documents changed, and the passages added and removed.
    :raises InputError: a changed document without text, or one id both changed and removed.

    ```python
    update = update_knowledge_base(kb, cfg, removed=["cards-gold-zh"])
    update.doc_ids        # ('cards-gold-zh',): pass to CacheStack.invalidate_documents
    ```
    """
    t0 = time.perf_counter()
    docs: list[Document] = []
    for d in changed:
        doc_id = str(d.meta.get("doc_id") or d.id)
        if not d.content or not d.content.strip():
            raise InputError(f"changed document {doc_id!r} has no text (remove it instead)")
        meta = {"tenant": cfg.knowledge_base.tenant, **d.meta, "doc_id": doc_id}
        docs.append(Document(id=doc_id, content=d.content, meta=meta))
    changed_ids = tuple(dict.fromkeys(str(d.meta["doc_id"]) for d in docs))
    both = set(changed_ids) & set(removed)
    if both:
        raise InputError(f"documents {sorted(both)} are both changed and removed")
    present = {d.meta.get("doc_id") for d in kb.store.documents}
    removed_ids = tuple(dict.fromkeys(r for r in removed if r in present))
    touched = set(changed_ids) | set(removed_ids)

    passages = docs
    if cfg.splitter.enabled and docs:
        splitter = SentenceSplitter(max_chars=cfg.splitter.max_chars, overlap_sentences=cfg.splitter.overlap_sentences)
        passages = splitter.run(documents=docs)["documents"]
    if passages:
        embedder = DocumentEmbedder(cfg.embedder.model, batch_size=cfg.embedder.batch_size,
                                    threads=cfg.embedder.threads, progress_bar=progress)
        new_vectors = embedder.run(documents=passages)["embeddings"]
    else:
        new_vectors = np.zeros((0, kb.store.dim), dtype=np.float32)

    old_vectors = _stored_vectors(kb.store)
    keep = [i for i, d in enumerate(kb.store.documents) if d.meta.get("doc_id") not in touched]
    fresh = FaissDocumentStore(dim=kb.store.dim, kind=kb.store.kind, metric=kb.store.metric, **kb.store.params)
    fresh.write([kb.store.documents[i] for i in keep] + list(passages),
                np.vstack([old_vectors[keep], new_vectors]).astype(np.float32))
    passages_removed = kb.store.count - len(keep)
    vars(kb.store).update(vars(fresh))  # in place: retrievers built on kb.store see the new content
    kb.bm25.write(kb.store.documents)
    if kb.sentences is not None:  # in place: answerers holding it see the change
        kb.sentences.retain(kb.store.documents)
        kb.sentences.add(passages, cfg.embedder.model, threads=cfg.embedder.threads)
    kb.revision += 1
    kb.stats.update(passages=kb.store.count, documents=len({d.meta.get("doc_id") for d in kb.store.documents}),
                    revision=kb.revision)
    if kb.path is not None:
        folder = kb.path.with_name(f"{kb.version}.r{kb.revision}")
        kb.store.save(folder)
        kb.bm25.save(folder)
        (folder / "kb.json").write_text(json.dumps(kb.stats, indent=2))
        if kb.sentences is not None:
            kb.sentences.save(folder)
        kb.path = folder
    return IndexUpdate(changed_ids, removed_ids, len(passages), passages_removed, kb.revision,
                       time.perf_counter() - t0)
