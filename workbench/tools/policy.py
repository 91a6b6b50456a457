"""Tenant → allowed tools, and tool ownership: who may call what.

```python
policy = ToolPolicy({"bank": ("get_*",), "partner": ("get_fx_quote",)})
policy.allows("bank", spec)         # True/False
policy.check("partner", spec)       # raises ToolDeniedError naming the tenant and the tool
```
Names are shell patterns (``*`` allows every tool). A tool owned by tenants (``@tool(tenants=...)``)
is denied to every other tenant whatever the policy says. An unknown tenant is allowed nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase

from workbench.tools.errors import ToolDeniedError
from workbench.tools.spec import ToolSpec

__all__ = ["ToolPolicy"]


class ToolPolicy:
    """Per-tenant allow-lists of tool-name patterns."""

    def __init__(self, rules: Mapping[str, Sequence[str]]) -> None:
        self.rules = {t: tuple(p) for t, p in rules.items()}

    def allows(self, tenant: str, spec: ToolSpec) -> bool:
        """Whether ``tenant`` may call ``spec``."""
        if spec.tenants is not None and tenant not in spec.tenants:
            return False
        return any(fnmatchcase(spec.name, p) for p in self.rules.get(tenant, ()))

    def check(self, tenant: str, spec: ToolSpec) -> None:
        """Raise :class:`ToolDeniedError` unless :meth:`allows`."""
        if not self.allows(tenant, spec):
            if spec.tenants is not None and tenant not in spec.tenants:
                why = "it belongs to another tenant"
            elif tenant not in self.rules:
                why = "the tenant has no tool policy"
            else:
                why = "the tenant's policy does not list it"
            raise ToolDeniedError(f"tenant {tenant!r} may not call tool {spec.name!r}: {why} (tools.policy)")

    def allowed(self, tenant: str, specs: Sequence[ToolSpec]) -> list[ToolSpec]:
        """The subset of ``specs`` the tenant may call (what a router may choose from)."""
        return [s for s in specs if self.allows(tenant, s)]

    def __repr__(self) -> str:
        return f"ToolPolicy({self.rules!r})"
