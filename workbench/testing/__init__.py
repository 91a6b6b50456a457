"""Helpers for tests, benchmarks and notebooks: real local servers started on 127.0.0.1."""

from workbench.testing.servers import RedisServer, free_port

__all__ = ["RedisServer", "free_port"]
