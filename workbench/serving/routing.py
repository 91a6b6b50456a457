"""A/B and canary routing: sticky per user (a stable hash), shares changeable at run time.

The control (the engine's own config) takes whatever share the variants leave::

    router = VariantRouter("control", {"canary": 0.01})
    router.route("u42")           # 'control' for ~99% of users, always the same for one user
    router.promote("canary")      # all traffic to the canary
    router.rollback()             # all traffic back to the control
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping

from workbench.errors import ConfigError, InputError

__all__ = ["VariantRouter"]


class VariantRouter:
    """Assigns each user to one variant by ``blake2b(user)`` mapped into the cumulative shares."""

    def __init__(self, control: str, shares: Mapping[str, float] | None = None) -> None:
        self.control = control
        self.initial = dict(shares or {})
        total = sum(self.initial.values())
        if total > 1.0 + 1e-9 or any(s < 0 for s in self.initial.values()):
            raise ConfigError(f"variant shares must be >= 0 and sum to <= 1, got {self.initial}",
                              field="serving.variants")
        if control in self.initial:
            raise ConfigError(f"a variant may not be named like the control {control!r}", field="serving.variants")
        self.shares = dict(self.initial)
        self._anon = itertools.count()

    def __repr__(self) -> str:
        return f"VariantRouter(control={self.control!r}, shares={self.shares})"

    @property
    def names(self) -> list[str]:
        """The control, then the variants."""
        return [self.control, *self.initial]

    def route(self, user: str | None, forced: str | None = None) -> str:
        """The variant of ``user`` (``forced`` wins when it names a known variant)."""
        if forced is not None:
            if forced not in self.names:
                raise InputError(f"unknown variant {forced!r}; known: {', '.join(self.names)}")
            return forced
        key = user if user is not None else f"anon-{next(self._anon)}"
        h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64
        acc = 0.0
        for name, share in self.shares.items():
            acc += share
            if h < acc:
                return name
        return self.control

    def promote(self, variant: str) -> None:
        """Send all traffic to ``variant`` (the control too, to restore it)."""
        if variant not in self.names:
            raise InputError(f"unknown variant {variant!r}; known: {', '.join(self.names)}")
        self.shares = {n: (1.0 if n == variant else 0.0) for n in self.initial}

    def rollback(self) -> None:
        """Send all traffic back to the control."""
        self.shares = dict.fromkeys(self.initial, 0.0)

    def reset(self) -> None:
        """Restore the configured shares."""
        self.shares = dict(self.initial)
