"""Cache backends: in-process (default) and Redis."""

from workbench.cache.backends.base import CacheBackend, LogRecords, ReplicationLog, replication_log
from workbench.cache.backends.memory import MemoryBackend
from workbench.cache.backends.redis_backend import RedisBackend

__all__ = ["CacheBackend", "LogRecords", "MemoryBackend", "RedisBackend", "ReplicationLog", "replication_log"]
