"""Bundled bank plugins: personal card, bill, points and loan data over the fake-user fixture.

Every tool takes the caller's ``user`` and ``tenant`` from the request context (never from the
question) and reads only that user's rows of that tenant.
"""

from __future__ import annotations

from typing import Annotated, Any

from workbench.tools.bank_fixture import connect
from workbench.tools.errors import ToolInputError
from workbench.tools.spec import Constraint, tool

__all__ = ["get_bill", "get_credit_limit", "get_loan", "get_points"]

MONTH = Annotated[str, Constraint(pattern=r"20\d\d-(0[1-9]|1[0-2])")]


def _user_row(user: str, tenant: str) -> Any:
    with connect() as conn:
        row = conn.execute("SELECT * FROM users WHERE user_id=? AND tenant=?", (user, tenant)).fetchone()
    if row is None:
        raise ToolInputError(f"no customer {user!r} in tenant {tenant!r}")
    return row


@tool(version="1.0", idempotent=True, cacheable=True, cache_ttl_s=120,
      keywords={"en": ("credit limit", "card limit", "my limit", "available credit", "spending limit"),
                "zh": ("额度", "可用额度", "信用额度")},
      answer={"en": "Your {card_tier} card has a credit limit of RMB {credit_limit:,}; RMB {available_credit:,} "
                    "is available now.",
              "zh": "您的信用额度为{credit_limit}元，当前可用额度{available_credit}元。"})
def get_credit_limit(user: str, tenant: str) -> dict[str, Any]:
    """The customer's credit card tier, credit limit and currently available credit (RMB)."""
    row = _user_row(user, tenant)
    return {"card_tier": row["card_tier"], "credit_limit": row["credit_limit"],
            "available_credit": row["available_credit"]}


@tool(version="1.0", idempotent=True, cacheable=True, cache_ttl_s=120,
      keywords={"en": ("bill", "statement", "owe", "minimum payment", "amount due"),
                "zh": ("账单", "欠款", "还多少", "最低还款")},
      answer={"en": "Your {month} statement balance is RMB {statement_balance:,.2f} (minimum payment "
                    "RMB {minimum_payment:,.2f}), due {due_date}.",
              "zh": "您{month}的账单金额为{statement_balance:.2f}元，最低还款额{minimum_payment:.2f}元，"
                    "到期还款日{due_date}。"})
def get_bill(user: str, tenant: str, month: MONTH) -> dict[str, Any]:
    """The customer's credit card statement for one month.

    Args:
        month: the statement month, YYYY-MM.
    """
    _user_row(user, tenant)
    with connect() as conn:
        row = conn.execute("SELECT * FROM bills WHERE user_id=? AND month=?", (user, month)).fetchone()
    if row is None:
        raise ToolInputError(f"no statement for {month}")
    return {"month": month, "statement_balance": row["statement_balance"], "minimum_payment": row["minimum_payment"],
            "due_date": row["due_date"], "paid": bool(row["paid"])}


@tool(version="1.0", idempotent=True, cacheable=True, cache_ttl_s=300,
      keywords={"en": ("points", "rewards balance"), "zh": ("积分",)},
      answer={"en": "You have {points:,} points; {expiring_points:,} expire on {points_expiry}.",
              "zh": "您目前有{points}积分，其中{expiring_points}分将于{points_expiry}到期。"})
def get_points(user: str, tenant: str) -> dict[str, Any]:
    """The customer's rewards points balance and the points expiring soon."""
    row = _user_row(user, tenant)
    return {"points": row["points"], "expiring_points": row["expiring_points"], "points_expiry": row["points_expiry"]}


@tool(version="1.0", idempotent=True, cacheable=True, cache_ttl_s=300,
      keywords={"en": ("my loan", "loan balance", "still owe on", "next loan payment", "repayment"),
                "zh": ("贷款", "易贷", "还款日", "月供")},
      answer={"en": "Your Easy Loan has RMB {outstanding:,.2f} outstanding; the next payment of "
                    "RMB {monthly_payment:,.2f} is due {next_payment_date}.",
              "zh": "您的子午易贷剩余本金{outstanding:.2f}元，下期还款{monthly_payment:.2f}元，"
                    "还款日{next_payment_date}。"})
def get_loan(user: str, tenant: str) -> dict[str, Any]:
    """The customer's Easy Loan: outstanding balance, monthly payment and next payment date."""
    _user_row(user, tenant)
    with connect() as conn:
        row = conn.execute("SELECT * FROM loans WHERE user_id=?", (user,)).fetchone()
    if row is None:
        raise ToolInputError("the customer has no loan with us")
    return {"product": row["product"], "outstanding": row["outstanding"], "monthly_payment": row["monthly_payment"],
            "next_payment_date": row["next_payment_date"]}
