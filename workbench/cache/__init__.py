"""The multi-layer cache: normalize → exact (TTL) → semantic (threshold, rules of a
domain lexicon, and a judge model between two similarities) → per-user layer, with hot-question refresh;
in-process (default) or Redis backends.

```python
from workbench.cache import CacheStack
stack = CacheStack.from_config(cfg, kb_version="v1")
hit = stack.lookup("acme", "gold card annual fee?")       # CacheHit(layer="exact", ...) or None
hit = await stack.alookup("acme", "gold card annual fee?")  # the same decision, async I/O
```

Each decision is written once, as a plan of I/O steps that a sync and an async driver run
(:mod:`workbench.cache.steps`); :class:`CacheLayer` owns TTL, key prefix, clock and stats.
"""

from workbench.cache.backends import CacheBackend, MemoryBackend, RedisBackend, ReplicationLog
from workbench.cache.exact import ExactCache
from workbench.cache.hotspot import HotItem, HotspotDetector, HotspotRefresher, SharedHotspotDetector, SpaceSaving
from workbench.cache.judge import JudgeTier, LocalJudge, PairJudge, RemoteJudge
from workbench.cache.keys import Namespace, answer_config_hash, namespace
from workbench.cache.layer import CacheLayer
from workbench.cache.normalizer import QueryNormalizer, load_intent_map
from workbench.cache.records import CacheEntry, CacheHit
from workbench.cache.semantic import SemanticCache, SemanticMatch
from workbench.cache.stack import CacheStack, DocumentInvalidation
from workbench.cache.stats import LayerStats
from workbench.cache.user_snapshot import UserSnapshotCache, UserSnapshotStore
from workbench.cache.verifier import HitVerifier, Lexicon, NullVerifier, RuleVerifier

__all__ = [
    "CacheBackend",
    "CacheEntry",
    "CacheHit",
    "CacheLayer",
    "CacheStack",
    "DocumentInvalidation",
    "ExactCache",
    "HitVerifier",
    "HotItem",
    "HotspotDetector",
    "HotspotRefresher",
    "JudgeTier",
    "LayerStats",
    "Lexicon",
    "LocalJudge",
    "MemoryBackend",
    "Namespace",
    "NullVerifier",
    "PairJudge",
    "QueryNormalizer",
    "RedisBackend",
    "RemoteJudge",
    "ReplicationLog",
    "RuleVerifier",
    "SemanticCache",
    "SemanticMatch",
    "SharedHotspotDetector",
    "SpaceSaving",
    "UserSnapshotCache",
    "UserSnapshotStore",
    "answer_config_hash",
    "load_intent_map",
    "namespace",
]
