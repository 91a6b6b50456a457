"""A tool owned by the ``partner`` tenant: no other tenant may call it, whatever its policy says."""

from __future__ import annotations

from typing import Any

from workbench.tools.bank_fixture import connect
from workbench.tools.errors import ToolInputError
from workbench.tools.spec import tool

__all__ = ["get_partner_offer"]


@tool(version="1.0", tenants=("partner",), keywords={"en": ("partner offer",), "zh": ("合作优惠",)},
      answer={"en": "Your partner offer: {offer}.", "zh": "您的合作优惠：{offer}。"})
def get_partner_offer(user: str, tenant: str) -> dict[str, Any]:
    """The partner programme's current offer for the customer."""
    with connect() as conn:
        row = conn.execute("SELECT card_tier FROM users WHERE user_id=? AND tenant=?", (user, tenant)).fetchone()
    if row is None:
        raise ToolInputError(f"no customer {user!r} in tenant {tenant!r}")
    return {"offer": f"double points on travel for {row['card_tier']} cardholders"}
