"""Helpers for tests, benchmarks and notebooks: real local servers started on 127.0.0.1."""

from workbench.testing.servers import RedisServer, ServeProcess, UvicornServer, cpu_seconds, free_port, wait_for_port

__all__ = ["RedisServer", "ServeProcess", "UvicornServer", "cpu_seconds", "free_port", "wait_for_port"]
