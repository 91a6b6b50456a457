from pathlib import Path

import numpy as np
import pytest
from haystack import Document

from workbench.errors import ConfigError, IndexNotBuiltError
from workbench.stores import FaissDocumentStore


def _data(n: int = 400, dim: int = 16, seed: int = 0) -> tuple[list[Document], np.ndarray]:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    docs = [Document(id=f"d{i}", content=f"doc {i}", meta={"tenant": "a" if i % 2 else "b", "i": i}) for i in range(n)]
    return docs, vecs


def _exact_top(vecs: np.ndarray, q: np.ndarray, k: int, metric: str) -> list[int]:
    if metric == "cosine":
        v = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        s = v @ (q / np.linalg.norm(q))
    elif metric == "ip":
        s = vecs @ q
    else:
        s = -((vecs - q) ** 2).sum(axis=1)
    return list(np.argsort(-s)[:k])


@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
def test_flat_is_exact_for_every_metric(metric: str) -> None:
    docs, vecs = _data()
    store = FaissDocumentStore(dim=16, metric=metric)  # type: ignore[arg-type]
    store.write(docs, vecs)
    q = vecs[7] + 0.1
    hits = store.search(q, top_k=5)
    assert [int(h.id[1:]) for h in hits] == _exact_top(vecs, q, 5, metric)
    assert all(hits[i].score >= hits[i + 1].score for i in range(4)), "higher score = closer, for every metric"
    assert all(h.embedding is None for h in hits)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_the_query_point(kind: str) -> None:
    docs, vecs = _data()
    store = FaissDocumentStore(dim=16, kind=kind, ivf_nlist=8, ivf_nprobe=8)  # type: ignore[arg-type]
    store.write(docs, vecs)
    found = sum(store.search(vecs[i], top_k=1)[0].id == f"d{i}" for i in range(50))
    assert found >= 48


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_tenant_filter_is_exact_and_fills_top_k(kind: str) -> None:
    docs, vecs = _data()
    store = FaissDocumentStore(dim=16, kind=kind, ivf_nlist=4, ivf_nprobe=4)  # type: ignore[arg-type]
    store.write(docs, vecs)
    hits = store.search(vecs[2], top_k=10, filters={"tenant": "a"})
    assert len(hits) == 10 and all(h.meta["tenant"] == "a" for h in hits)
    assert store.search(vecs[2], top_k=3, filters={"tenant": "nobody"}) == []
    many = store.search(vecs[2], top_k=5, filters={"i": [1, 3, 5]})
    assert sorted(h.meta["i"] for h in many) == [1, 3, 5]


def test_save_load_round_trip(tmp_path: Path) -> None:
    docs, vecs = _data(50)
    store = FaissDocumentStore(dim=16, kind="hnsw")
    store.write(docs, vecs)
    store.save(tmp_path / "s")
    again = FaissDocumentStore.load(tmp_path / "s")
    assert again.count == 50 and again.kind == "hnsw"
    assert [h.id for h in again.search(vecs[3], top_k=3)] == [h.id for h in store.search(vecs[3], top_k=3)]


def test_errors() -> None:
    store = FaissDocumentStore(dim=4)
    with pytest.raises(IndexNotBuiltError):
        store.search(np.ones(4, dtype=np.float32))
    with pytest.raises(ValueError, match="dimension"):
        store.write([Document(content="x")], np.ones((1, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="1 documents but 2 vectors"):
        store.write([Document(content="x")], np.ones((2, 4), dtype=np.float32))
    with pytest.raises(ConfigError):
        FaissDocumentStore(dim=4, kind="annoy")  # type: ignore[arg-type]
    with pytest.raises(IndexNotBuiltError):
        FaissDocumentStore.load("/nonexistent/store")
