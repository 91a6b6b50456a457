"""Build (once) and load the knowledge base of a config: the Haystack indexing pipeline and its saved index.

An index is saved under ``<index_dir>/<index_hash>-<data_hash>``: changing the documents or any
indexing knob gives a new version, and the version string goes into cache keys (nothing from an old
knowledge base is served after re-indexing).

```python
kb = load_knowledge_base(PipelineConfig.load("default"))   # builds on first use, then loads in ms
kb.version, kb.store.count
```
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haystack import Pipeline
from haystack.components.joiners import DocumentJoiner

from workbench.components import DatasetLoader, DocumentEmbedder, FileLoader, IndexWriter, SentenceSplitter
from workbench.config import PipelineConfig
from workbench.datasets import content_hash, dataset_dir
from workbench.errors import DatasetError
from workbench.models import load_embedding_model
from workbench.stores import BM25Index, FaissDocumentStore

__all__ = ["KnowledgeBase", "build_indexing_pipeline", "data_hash", "load_knowledge_base"]


@dataclass
class KnowledgeBase:
    """The indexed passages of a config: a FAISS store, a BM25 index over the same passages, a version."""

    store: FaissDocumentStore
    bm25: BM25Index
    version: str
    path: Path | None = None
    stats: dict[str, Any] = field(default_factory=dict)


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
                        save: bool = True) -> KnowledgeBase:
    """Load the saved index of ``cfg``, or build it with the indexing pipeline (and save it)."""
    version = f"{cfg.index_hash}-{data_hash(cfg)}"
    folder = Path(cfg.index_dir).expanduser() / version
    if folder.is_dir() and not rebuild and (folder / "kb.json").is_file():
        t0 = time.perf_counter()
        kb = KnowledgeBase(FaissDocumentStore.load(folder), BM25Index.load(folder), version, folder,
                           json.loads((folder / "kb.json").read_text()))
        kb.stats["load_s"] = time.perf_counter() - t0
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
    return KnowledgeBase(store, bm25, version, folder if save else None, stats)
