from __future__ import annotations

from collections import Counter

import pytest

from workbench.cache import CacheStack, NullVerifier, QueryNormalizer
from workbench.cache.testing import HashingEmbedder
from workbench.config import PipelineConfig
from workbench.errors import ConfigError
from workbench.evaluation.cache_quality import (
    ProbeQuery,
    SemanticProbe,
    pick_threshold,
    replay_stream,
    threshold_sweep,
)
from workbench.evaluation.streams import ZipfSampler, intent_texts


def test_intent_texts_cover_the_dataset() -> None:
    texts = intent_texts("meridian_bank")
    assert len(texts) >= 300 and sum(map(len, texts.values())) >= 900


def test_zipf_is_seeded_and_skewed() -> None:
    texts = intent_texts("meridian_bank")
    a = ZipfSampler(texts, s=1.1, seed=3).sample(2000)
    assert a == ZipfSampler(texts, s=1.1, seed=3).sample(2000)
    assert a != ZipfSampler(texts, s=1.1, seed=4).sample(2000)
    counts = Counter(r.intent for r in a).most_common()
    assert counts[0][1] > 10 * counts[len(counts) // 2][1]
    assert all(r.text in texts[r.intent] for r in a)


def test_sweep_and_pick_threshold() -> None:
    emb = HashingEmbedder()
    sweep = threshold_sweep(emb, thresholds=[0.3, 0.5, 0.7, 0.9, 0.99], miss_latency_ms=10.0, lookup_latency_ms=1.0)
    rates = [r.hit_rate for r in sweep.rows]
    assert rates == sorted(rates, reverse=True)  # a higher threshold never serves more
    assert sweep.rows[0].near_miss_queries >= 100  # b sides identical to a stored text are exact, skipped
    t = sweep.pick_threshold(0.05)
    row = next(r for r in sweep.rows if r.threshold == t)
    assert row.wrong_hit_rate <= 0.05 and row.latency_saved_ms == pytest.approx(row.hit_rate * 10 - 1)
    loose = threshold_sweep(emb, thresholds=[0.3], verifier=NullVerifier())
    assert loose.rows[0].wrong_hit_rate > sweep.rows[0].wrong_hit_rate  # the verifier cuts wrong hits
    with pytest.raises(ConfigError):
        pick_threshold(loose, 0.0)


def test_replay_counts_hits_and_wrong_hits() -> None:
    cfg = PipelineConfig().with_overrides({"cache.enabled": True, "cache.semantic.threshold": 0.9})
    stack = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder())
    stream = ZipfSampler(intent_texts("meridian_bank"), s=1.2, seed=1).sample(600)
    res = replay_stream(stack, stream, lambda q: {"answer": q})
    s = res.summary()
    assert s["requests"] == 600 and s["hits"] == stack.stats()["hits"]
    assert s["layers"]["exact"]["count"] > 0 and s["layers"]["miss"]["count"] > 0
    assert s["hit_rate"] > 0.5
    assert s["wrong_hits"] == sum(stack.stats()["layers"][k]["wrong_hits"] for k in ("exact", "semantic"))


def test_the_sweep_decides_like_the_semantic_layer() -> None:
    """The sweep asks a real SemanticCache: the refusal margin changes its verdicts, as it does when serving."""
    emb = HashingEmbedder()
    strict = threshold_sweep(emb, thresholds=[0.5])
    before_the_fix = threshold_sweep(emb, thresholds=[0.5], refusal_margin=-1.0)  # a refusal promotes the next
    assert before_the_fix.rows[0].hits > strict.rows[0].hits
    assert before_the_fix.rows[0].wrong_hits > strict.rows[0].wrong_hits
    assert strict.notes["refusal_margin"] == 0.02


def test_a_probe_serves_what_the_cache_serves() -> None:
    n = QueryNormalizer()
    probe = SemanticProbe(HashingEmbedder(), {n("what is the annual fee of the gold card"): "gold.fee",
                                              n("how do i raise my credit limit"): "limit.up"},
                          [ProbeQuery(n("what is the annual fee of the gold card please"), "gold.fee", "paraphrase"),
                           ProbeQuery(n("how do i lower my credit limit"), "limit.down", "near_miss")])
    served = probe.run(threshold=0.5)
    assert served[0][0] == "gold.fee" and 0.5 <= served[0][1] < 1.0
    assert served[1] == (None, 0.0)  # the rules refuse the antonym
    assert [s for s, _ in probe.run(threshold=0.999)] == [None, None]
